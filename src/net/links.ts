import { BlockList, isIP } from 'node:net'
import type { Connection } from '@libp2p/interface'
import { NetError } from './errors.js'

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
 * Reserved address ranges (CIDR, e.g. `100.64.0.0/10`) that this node treats as public: a lab
 * or a private network whose "internet" uses them. Everything else in the private, shared
 * (100.64/10), link-local and unique-local ranges is private, as libp2p treats them.
 */
export type PublicRanges = readonly string[]

/** Checks `--public-range` values; throws a message that names the bad one. */
export function parsePublicRanges (ranges: readonly string[]): BlockList {
  const list = new BlockList()
  for (const r of ranges) {
    const m = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(r)
    const type = m === null ? 0 : isIP(m[1] as string)
    const bits = Number(m?.[2])
    if (m === null || type === 0 || bits > (type === 4 ? 32 : 128)) throw new NetError('ADDRESS_INVALID', `"${r}" is not an address range (CIDR such as 100.64.0.0/10)`)
    list.addSubnet(m[1] as string, bits, type === 4 ? 'ipv4' : 'ipv6')
  }
  return list
}

/**
 * The addresses to give another machine, best first: direct ones that are not loopback (public
 * before private), then circuits through relays. Loopback addresses come only when there is no
 * other direct address (a relay that listens on loopback alone): from another machine they
 * reach nothing.
 */
export function shareableAddresses (addresses: string[], publicRanges: PublicRanges = []): string[] {
  const ranges = parsePublicRanges(publicRanges)
  const circuit = addresses.filter(a => a.includes('/p2p-circuit'))
  const direct = addresses.filter(a => !a.includes('/p2p-circuit'))
  const loopback = direct.filter(isLoopback)
  const others = direct.filter(a => !isLoopback(a))
  const publicFirst = [...others.filter(a => !isPrivate(a, ranges)), ...others.filter(a => isPrivate(a, ranges))]
  return [...(publicFirst.length > 0 ? publicFirst : loopback), ...circuit]
}

/**
 * The order in which libp2p dials a peer's addresses (its `addressSorter`): public direct ones,
 * then circuits through relays, then private ones, then loopback. A private address is
 * often a LAN that is not this one, or an address behind a firewall that drops packets: tried
 * before the circuit, each costs a whole dial timeout before the circuit gets its turn (issue
 * 14). The cost: two twins on one LAN meet through the relay, and go direct only if their
 * router sends a connection to its own public address back in (hairpin NAT), since a punch goes
 * to the public address the relays saw.
 */
export function dialOrder (publicRanges: PublicRanges = []): (a: { multiaddr: { toString: () => string } }, b: { multiaddr: { toString: () => string } }) => -1 | 0 | 1 {
  const ranges = parsePublicRanges(publicRanges)
  const rank = (text: string): number => text.includes('/p2p-circuit') ? 1 : isLoopback(text) ? 3 : isPrivate(text, ranges) ? 2 : 0
  return (a, b) => Math.sign(rank(a.multiaddr.toString()) - rank(b.multiaddr.toString())) as -1 | 0 | 1
}

/**
 * Whether another machine's host (an IP address) is public: not loopback, private, link-local,
 * unspecified, multicast or reserved, unless a declared public range holds it. An IPv4 address
 * written as IPv6 (`::ffff:a.b.c.d`, or NAT64's `64:ff9b::a.b.c.d`) is judged as the IPv4 address.
 */
export function isPublicHost (host: string, publicRanges: PublicRanges = []): boolean {
  let type = isIP(host)
  if (type === 0) return false
  const mapped = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(host)
  if (mapped !== null) {
    host = mapped[1] as string
    type = 4
  } else if (type === 6 && /^(?:::ffff:|64:ff9b::)/i.test(host)) {
    return false // the same, in hexadecimal: judged private rather than decoded
  }
  const ma = type === 4 ? `/ip4/${host}/` : `/ip6/${host}/`
  if (isLoopback(ma) || isPrivate(ma, parsePublicRanges(publicRanges))) return false
  if (type === 4) {
    const first = Number(host.split('.')[0])
    return first !== 0 && first < 224 // 0/8 is "this network"; 224/4 multicast, 240/4 reserved
  }
  return host !== '::' && !/^ff/i.test(host)
}

function isLoopback (a: string): boolean {
  return a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/') || a.startsWith('/dns4/localhost/') || a.startsWith('/dns/localhost/')
}

function isPrivate (a: string, publicRanges: BlockList): boolean {
  const v4 = /^\/ip4\/((\d+)\.(\d+)\.\d+\.\d+)\//.exec(a)
  if (v4 !== null) {
    if (publicRanges.check(v4[1] as string, 'ipv4')) return false
    const [x, y] = [Number(v4[2]), Number(v4[3])]
    return x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) || (x === 169 && y === 254) || (x === 100 && y >= 64 && y <= 127)
  }
  const v6 = /^\/ip6\/([^/]+)\//.exec(a)
  if (v6 !== null && isIP(v6[1] as string) === 6 && publicRanges.check(v6[1] as string, 'ipv6')) return false
  return /^\/ip6\/f[cd]/i.test(a) || /^\/ip6\/fe80/i.test(a)
}
