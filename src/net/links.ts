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
