import { WebSocket as WsWebSocket } from 'ws'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { KEEP_ALIVE, type Libp2p, type PrivateKey } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { hkdfSync } from 'node:crypto'
import { NetError } from './errors.js'
import { selectRecord, validateRecordForKey } from './record.js'
import { perHostGater, SERVICE_LIMITS, TWIN_LIMITS, type ConnectionLimits } from './limits.js'
import { liveness } from './liveness.js'
import { punch, punchingTcp, PunchState, freePunchPort } from './punch.js'
import { dialOrder, type PublicRanges } from './links.js'

// Dialing WebSockets on Node 20 needs the WebSocket global.
const G = globalThis as unknown as { WebSocket?: unknown }
if (typeof G.WebSocket !== 'function') G.WebSocket = WsWebSocket

/** Twin's private DHT: never joins the public IPFS DHT. */
export const DHT_PROTOCOL = '/twin/kad/1.0.0'

export type TwinLibp2p = Libp2p<{ dht: KadDHT, [name: string]: unknown }>

/**
 * The libp2p key of a twin's node, derived from the twin's current signing seed with HKDF
 * (info "twin/v1/libp2p-peer"), so it changes with a rotation and is never stored.
 */
export async function peerKeyFromSigningSeed (signingSeed: Uint8Array): Promise<PrivateKey> {
  const seed = new Uint8Array(hkdfSync('sha256', signingSeed, new TextEncoder().encode('twin/v1'), new TextEncoder().encode('twin/v1/libp2p-peer'), 32))
  return await generateKeyPairFromSeed('Ed25519', seed)
}

export async function peerKeyFromSeed (seed: Uint8Array): Promise<PrivateKey> {
  return await generateKeyPairFromSeed('Ed25519', seed)
}

function dht (clientMode: boolean): ReturnType<typeof kadDHT> {
  return kadDHT({
    protocol: DHT_PROTOCOL,
    clientMode,
    // The default mapper drops private and loopback addresses, which leaves a LAN or a test
    // network with empty routing tables.
    peerInfoMapper: passthroughMapper,
    initialQuerySelfInterval: 0,
    validators: { twin: async (key, value) => { validateRecordForKey(key, value) } },
    selectors: { twin: (key, values) => selectRecord(key, values) }
  })
}

const transports = () => [tcp(), webSockets()] as const

/** The libp2p settings that enforce a role's connection limits (src/net/limits.ts). */
function bounded (limits: ConnectionLimits, publicRanges: PublicRanges = []): { connectionManager: object, connectionMonitor: object, connectionGater: ReturnType<typeof perHostGater>, streamMuxers: Array<ReturnType<typeof yamux>> } {
  return {
    connectionManager: {
      addressSorter: dialOrder(publicRanges),
      maxConnections: limits.maxConnections,
      maxIncomingPendingConnections: limits.maxPendingInbound,
      inboundConnectionThreshold: limits.newPerHostPerSecond,
      inboundUpgradeTimeout: limits.handshakeTimeoutMs,
      addressDialTimeout: limits.addressDialTimeoutMs
    },
    connectionGater: perHostGater(limits),
    // Liveness (below) replaces libp2p's monitor, which aborted connections busy on a slow link.
    connectionMonitor: { enabled: false },
    streamMuxers: [yamux({
      maxInboundStreams: limits.maxStreamsPerConnection,
      streamOptions: { maxStreamWindowSize: limits.maxStreamWindowBytes }
    })]
  }
}

/** A relay: directly reachable, DHT server, circuit relay v2 without per-connection limits. */
export async function createRelayNode (options: { privateKey: PrivateKey, listen: string[] } & ReachOptions): Promise<TwinLibp2p> {
  return await createServiceNode(options, {
    relay: circuitRelayServer({ reservations: { maxReservations: 4096, applyDefaultLimit: false, reservationTtl: 2 * 3600_000 } }),
    dht: dht(false)
  })
}

/** Where a twin or a node behind NAT can be reached, and how it learns that. */
export interface ReachOptions {
  /** Addresses to give libp2p (identify, the peer record) in place of the listening ones; circuits stay. */
  announce?: string[]
  /** Address ranges to treat as public though they are reserved (labs, private networks). */
  publicRanges?: PublicRanges
  /** False: never upgrade a relayed connection by hole punching (`--no-hole-punching`). */
  holePunching?: boolean
}

/**
 * A twin's node: listens where asked (if anywhere), and on any relay it connects to through a
 * circuit reservation, so twins behind NAT stay reachable. Relayed connections are upgraded to
 * direct ones by hole punching (src/net/punch.ts). DHT client.
 */
export async function createTwinNode (options: { privateKey: PrivateKey, listen: string[], relays: string[] } & ReachOptions): Promise<TwinLibp2p> {
  const state = new PunchState(await freePunchPort(), () => options.relays, options.holePunching !== false, options.publicRanges)
  const node = await createLibp2p({
    privateKey: options.privateKey,
    addresses: relayedAddresses(options.listen, options.announce),
    transports: [punchingTcp(state), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    ...bounded(TWIN_LIMITS, options.publicRanges),
    services: {
      identify: identify(),
      ping: ping(),
      liveness: liveness(),
      punch: punch(state),
      dht: dht(true)
    }
  }) as unknown as TwinLibp2p
  for (const r of options.relays) await keepConnected(node, r)
  return node
}

/**
 * A node that serves Twin's protocols (a storage node; a relay with more services). With
 * `circuit`, it also listens through the relays it keeps connected to (a circuit reservation
 * on each), so it stays reachable behind a NAT or after it moved.
 */
export async function createServiceNode (options: { privateKey: PrivateKey, listen: string[], circuit?: string[] } & ReachOptions, services: Record<string, (components: never) => unknown> = {}): Promise<TwinLibp2p> {
  const relays = options.circuit
  const state = relays === undefined ? undefined : new PunchState(await freePunchPort(), () => relays, true, options.publicRanges)
  const node = await createLibp2p({
    privateKey: options.privateKey,
    addresses: state !== undefined
      ? relayedAddresses(options.listen, options.announce)
      : { listen: options.listen, ...(options.announce === undefined ? {} : { announce: options.announce }) },
    transports: state !== undefined ? [punchingTcp(state), webSockets(), circuitRelayTransport()] : [...transports()],
    connectionEncrypters: [noise()],
    ...bounded(SERVICE_LIMITS, options.publicRanges),
    services: { identify: identify(), ping: ping(), liveness: liveness(), ...(state === undefined ? {} : { punch: punch(state) }), ...services }
  })
  return node as unknown as TwinLibp2p
}

/**
 * Listen addresses plus `/p2p-circuit`. Announced addresses replace only the direct ones:
 * libp2p's `announce` would hide the circuit addresses too, so they are appended and the
 * listening addresses filtered out instead.
 */
function relayedAddresses (listen: string[], announce?: string[]): { listen: string[], appendAnnounce?: string[], announceFilter?: (addrs: Multiaddr[]) => Multiaddr[] } {
  const base = { listen: [...listen, '/p2p-circuit'] }
  if (announce === undefined) return base
  const direct = (a: Multiaddr): string => a.decapsulateCode(P2P_CODE).toString()
  const announced = new Set(announce.map(a => direct(multiaddr(a))))
  return { ...base, appendAnnounce: announce, announceFilter: addrs => addrs.filter(a => a.toString().includes('/p2p-circuit') || announced.has(direct(a))) }
}

const P2P_CODE = 421

/** A short-lived node with a random key, for looking things up (restore). */
export async function createClientNode (): Promise<TwinLibp2p> {
  const node = await createLibp2p({
    transports: [...transports()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping(), dht: dht(true) }
  })
  return node as unknown as TwinLibp2p
}

/** Parses a multiaddr that must end in /p2p/<peer id>. */
export function peerAddress (text: string): { ma: Multiaddr, peerId: ReturnType<typeof peerIdFromString> } {
  let ma: Multiaddr
  try {
    ma = multiaddr(text)
  } catch {
    throw new NetError('ADDRESS_INVALID', `"${text}" is not a multiaddr`)
  }
  const p2p = ma.getComponents().findLast(c => c.name === 'p2p')
  if (p2p?.value === undefined) throw new NetError('ADDRESS_INVALID', `"${text}" does not end in /p2p/<peer id>`)
  return { ma, peerId: peerIdFromString(p2p.value) }
}

/** Tags a relay KEEP_ALIVE (libp2p redials it after a disconnect) and dials it in the background. */
export async function keepConnected (node: TwinLibp2p, address: string): Promise<void> {
  const { ma, peerId } = peerAddress(address)
  await node.peerStore.merge(peerId, { multiaddrs: [ma.decapsulate('/p2p')], tags: { [KEEP_ALIVE]: { value: 1 } } })
  node.dial(ma).catch(() => { /* retried by the connection manager */ })
}

/** Stops a node and clears a debounce timer libp2p 3.3 leaves armed, which keeps Node alive ~1 s. */
export async function stopNode (node: TwinLibp2p): Promise<void> {
  await node.stop()
  const c = (node as unknown as { components?: { addressManager?: { _updatePeerStoreAddresses?: { stop?: () => void } } } }).components
  c?.addressManager?._updatePeerStoreAddresses?.stop?.()
}
