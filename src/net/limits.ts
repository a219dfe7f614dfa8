import type { ConnectionGater, MultiaddrConnection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * How much one role lets peers hold of it before they are known: the numbers behind the
 * bounds in docs/ARCHITECTURE.md ("Limits"). A peer is "known" once a Twin protocol
 * authenticated it (a storage node's hello); before that it can only open connections and
 * streams, and every one of them is capped here, in the read budget (src/net/budget.ts) and in
 * each protocol's stream limit.
 */
export interface ConnectionLimits {
  /** Connections of every kind, inbound and outbound. */
  maxConnections: number
  /** New inbound connections one IP address may open per second. */
  newPerHostPerSecond: number
  /** Inbound connections still in their handshake (Noise, muxer), from anyone. */
  maxPendingInbound: number
  /** Inbound connections still in their handshake from one IP address. */
  maxPendingPerHost: number
  /** Established inbound connections from one IP address (relayed ones are counted by their relay). */
  maxInboundPerHost: number
  /** A handshake that takes longer is dropped. */
  handshakeTimeoutMs: number
  /**
   * One address of a peer may take this long to connect before the next is tried. libp2p tries
   * a peer's addresses one after another (6 s each by default): a dead direct address would use
   * the whole of a 5 s message dial, and the relay circuit after it would never be tried.
   */
  addressDialTimeoutMs: number
  /** Streams one connection may have open at once, of all protocols together. */
  maxStreamsPerConnection: number
  /** The most a muxer lets a peer send on one stream ahead of the reader (its window). */
  maxStreamWindowBytes: number
}

/** A twin: a personal node talking to its contacts, relays and storage nodes. */
export const TWIN_LIMITS: ConnectionLimits = {
  maxConnections: 300,
  newPerHostPerSecond: 50,
  maxPendingInbound: 64,
  maxPendingPerHost: 8,
  maxInboundPerHost: 16,
  handshakeTimeoutMs: 5_000,
  addressDialTimeoutMs: 2_500,
  maxStreamsPerConnection: 64,
  maxStreamWindowBytes: 1024 * 1024
}

/** A relay or storage node: serves many twins, several of them behind one address (a household NAT). */
export const SERVICE_LIMITS: ConnectionLimits = {
  maxConnections: 2000,
  newPerHostPerSecond: 100,
  maxPendingInbound: 200,
  maxPendingPerHost: 8,
  maxInboundPerHost: 64,
  handshakeTimeoutMs: 5_000,
  addressDialTimeoutMs: 2_500,
  maxStreamsPerConnection: 64,
  maxStreamWindowBytes: 1024 * 1024
}

/**
 * A connection gater that caps, per remote IP address, the handshakes in progress and the
 * established inbound connections. libp2p's own limits are global (pending connections) or
 * per second (new connections per host), so one host holding stalled handshakes would
 * otherwise fill every pending slot and lock out everyone else for the handshake timeout.
 * Relayed connections are left to the relay's limits: behind one relay address are many peers.
 */
export function perHostGater (limits: ConnectionLimits): ConnectionGater {
  const pending = new Map<string, number>()
  const established = new Map<string, number>()
  const releases = new WeakMap<MultiaddrConnection, () => void>()
  const count = (map: Map<string, number>, host: string, delta: number): void => {
    const n = (map.get(host) ?? 0) + delta
    if (n <= 0) map.delete(host)
    else map.set(host, n)
  }
  /** Counts `host` in `map` until the connection closes or `release` is called; once. */
  const hold = (map: Map<string, number>, host: string, maConn: MultiaddrConnection): () => void => {
    count(map, host, 1)
    let held = true
    const release = (): void => {
      if (!held) return
      held = false
      count(map, host, -1)
      maConn.removeEventListener('close', release)
    }
    maConn.addEventListener('close', release)
    return release
  }
  return {
    denyInboundConnection: (maConn) => {
      const host = hostOf(maConn.remoteAddr)
      if (host === undefined) return false
      if ((pending.get(host) ?? 0) >= limits.maxPendingPerHost || (established.get(host) ?? 0) >= limits.maxInboundPerHost) return true
      releases.set(maConn, hold(pending, host, maConn))
      return false
    },
    denyInboundUpgradedConnection: (_peer, maConn) => {
      const host = hostOf(maConn.remoteAddr)
      releases.get(maConn)?.()
      if (host === undefined) return false
      if ((established.get(host) ?? 0) >= limits.maxInboundPerHost) return true
      hold(established, host, maConn)
      return false
    }
  }
}

/** The IP address of a direct TCP or WebSocket connection; undefined for relayed ones. */
function hostOf (ma: Multiaddr): string | undefined {
  const parts = ma.getComponents()
  if (parts.some(c => c.name === 'p2p-circuit')) return undefined
  return parts.find(c => c.name === 'ip4' || c.name === 'ip6')?.value
}
