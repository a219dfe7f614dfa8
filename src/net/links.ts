import type { Connection } from '@libp2p/interface'

/** One connection as `twin status` shows it: who, how, and since when. */
export interface Link {
  peer: string
  /** `relayed`: through a relay's circuit (every byte passes the relay); `direct` otherwise. */
  path: 'direct' | 'relayed'
  transport: 'tcp' | 'websockets' | 'other'
  /** The address at the other end, as this side sees it. */
  address: string
  direction: 'inbound' | 'outbound'
  opened: string
}

/** Describes a connection for people and scripts. */
export function linkOf (conn: Connection): Link {
  const address = conn.remoteAddr.toString()
  const names = conn.remoteAddr.getComponents().map(c => c.name)
  return {
    peer: conn.remotePeer.toString(),
    path: names.includes('p2p-circuit') ? 'relayed' : 'direct',
    transport: names.includes('ws') || names.includes('wss') ? 'websockets' : names.includes('tcp') ? 'tcp' : 'other',
    address,
    direction: conn.direction,
    opened: new Date(conn.timeline.open).toISOString()
  }
}

/**
 * The addresses to give another machine, best first: direct ones that are not loopback (public
 * before private), then circuits through relays. Loopback addresses come only when there is no
 * other direct address (a relay that listens on loopback alone): from another machine they
 * reach nothing.
 */
export function shareableAddresses (addresses: string[]): string[] {
  const circuit = addresses.filter(a => a.includes('/p2p-circuit'))
  const direct = addresses.filter(a => !a.includes('/p2p-circuit'))
  const loopback = direct.filter(isLoopback)
  const others = direct.filter(a => !isLoopback(a))
  const publicFirst = [...others.filter(a => !isPrivate(a)), ...others.filter(isPrivate)]
  return [...(publicFirst.length > 0 ? publicFirst : loopback), ...circuit]
}

function isLoopback (a: string): boolean {
  return a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/') || a.startsWith('/dns4/localhost/') || a.startsWith('/dns/localhost/')
}

function isPrivate (a: string): boolean {
  const v4 = /^\/ip4\/(\d+)\.(\d+)\./.exec(a)
  if (v4 !== null) {
    const [x, y] = [Number(v4[1]), Number(v4[2])]
    return x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) || (x === 169 && y === 254) || (x === 100 && y >= 64 && y <= 127)
  }
  return /^\/ip6\/f[cd]/i.test(a) || /^\/ip6\/fe80/i.test(a)
}
