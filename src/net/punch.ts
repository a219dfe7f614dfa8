import net from 'node:net'
import { networkInterfaces } from 'node:os'
import { z } from 'zod'
import { tcp } from '@libp2p/tcp'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { AbortOptions, ComponentLogger, Connection, Logger, PeerId, Startable, Stream, Transport, Upgrader } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { FrameStream } from './frames.js'
import { isPublicHost, type PublicRanges } from './links.js'

/**
 * Direct connections through NAT by TCP hole punching (docs/ARCHITECTURE.md, "Hole punching").
 *
 * A twin at home is reached through its relay's circuit first. To go direct, both ends must
 * open the path through their own NAT at the same moment: each connects, from a fixed local
 * port (the punch port), to the public address and port at which the other's NAT maps that
 * port, and the two connection attempts meet (a TCP simultaneous open). What each end's NAT
 * maps the punch port to is learnt from the relay: the twin's connection to every relay it keeps
 * is made from the punch port, and the relay's identify answer says where it came from. This
 * works through NATs that map a port the same way whatever the destination (endpoint-independent
 * mapping, which Linux's MASQUERADE and most home routers do); through others the attempt fails
 * and the circuit remains, which `twin status` reports as "relayed only".
 *
 * Node 20 cannot bind a TCP socket to a port that a listener holds (no SO_REUSEPORT before Node
 * 22.12), which is why libp2p's DCUtR finds nothing to punch with (js-libp2p#2620). The punch
 * port is therefore a port nobody listens on; outgoing sockets may share it (libuv binds them
 * with SO_REUSEADDR), as long as they go to different places.
 */
export const PUNCH_PROTOCOL = '/twin/punch/1.0.0'

/** How long both ends keep trying to meet: a SYN a NAT dropped is sent again after 1 s, then 3 s. */
const MEET_MS = 8_000
/** A reply in the exchange before the attempt; the circuit is slow but not this slow. */
const EXCHANGE_MS = 10_000
/** A relayed connection that found MAX_PUNCHES under way is tried again after this. */
const QUEUE_RETRY_MS = 5_000
/** Punches answered per peer in a window: each makes this node connect where the peer says. */
const ANSWERS_PER_PEER = 6
const ANSWER_WINDOW_MS = 10 * 60_000
/** The longest the starting end waits after "sync" before it connects. */
const MAX_SYNC_WAIT_MS = 1_000
/** Attempts per relayed connection before giving up on it. */
const ATTEMPTS = 3
/** At most this many hole punches at once (each holds sockets and a stream). */
const MAX_PUNCHES = 4
/** The relayed connection stays this long after the direct one is up, for streams in flight. */
const CIRCUIT_GRACE_MS = 5_000

export type Reachability =
  /** Nothing observed yet (no relay answered). */
  | 'unknown'
  /** A relay saw this twin at one of its own addresses: no NAT in between. */
  | 'public'
  /** Behind NAT; relayed connections are upgraded by hole punching. */
  | 'nat'
  /** Behind NAT, and hole punching failed (a NAT that maps each destination differently): relays carry everything. */
  | 'relayed-only'

/** What `twin status` shows about the punching. */
export interface PunchStatus {
  reachability: Reachability
  /** Where the relays see this twin's punch port: its public address as other twins must dial it. */
  observed: string[]
  punched: number
  failed: number
}

/** Shared by the transport (which dials relays from the punch port) and the service. */
export class PunchState {
  /** Connections that were dialed from the punch port: only their observed address counts. */
  readonly fromPort = new WeakSet<Connection>()
  /** `enabled: false`: observe only; neither start nor answer a punch (`twin start --no-hole-punching`). */
  constructor (readonly port: number, readonly relays: () => string[], readonly enabled = true, readonly publicRanges: PublicRanges = []) {}

  isRelay (peer: string | null): boolean {
    return peer !== null && this.relays().some(r => r.endsWith(`/p2p/${peer}`))
  }
}

/** A port free right now on every interface, for the punch port. */
export async function freePunchPort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => { resolve(port) })
    })
  })
}

/**
 * libp2p's TCP transport, except that dials to a relay leave from the punch port (falling back
 * to any port if that one is taken for that destination, e.g. by a connection still closing).
 */
type TcpComponents = Parameters<ReturnType<typeof tcp>>[0]

export function punchingTcp (state: PunchState): (components: TcpComponents) => Transport {
  return (components: TcpComponents) => {
    const inner = tcp()(components)
    const dial: Transport['dial'] = async (ma, options) => {
      if (!state.isRelay(ma.getComponents().findLast(c => c.name === 'p2p')?.value ?? null)) return await inner.dial(ma, options)
      try {
        const conn = await inner.dial(ma, { ...options, localPort: state.port } as typeof options)
        state.fromPort.add(conn)
        return conn
      } catch (err) {
        if (!/EADDRINUSE|EADDRNOTAVAIL/.test(String((err as Error).message))) throw err
        return await inner.dial(ma, options)
      }
    }
    return new Proxy(inner, {
      get (target, prop) {
        if (prop === 'dial') return dial
        const v = Reflect.get(target, prop, target) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      }
    })
  }
}

const Offer = z.object({ addrs: z.array(z.string().max(256)).max(8) }).strict()
const Sync = z.object({ sync: z.literal(true) }).strict()

interface Components {
  peerId: PeerId
  upgrader: Upgrader
  logger: ComponentLogger
  events: EventTarget
  connectionManager: { getConnections: (peer?: PeerId) => Connection[] }
  registrar: { handle: (protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: object) => Promise<void>, unhandle: (protocol: string) => Promise<void> }
}

/**
 * The hole-punching service. Of the two ends of a relayed connection, the one with the smaller
 * peer id starts: it sends where its punch port is seen, the other end answers with its own,
 * the first sends "sync" and waits half the round trip it measured, and both connect at once.
 * The end that started is the initiator of the secured connection (Noise, multistream) that
 * follows; the other the responder. When the direct connection is up, the relayed one is
 * closed after a grace period.
 */
export class Punch implements Startable {
  private readonly observed = new Map<string, string>()
  /** Peers with a punch under way, started or answered here. */
  private readonly running = new Set<string>()
  private answering = 0
  /** When each peer's recent punches were answered (bounded: the oldest peers are forgotten). */
  private readonly answered = new Map<string, number[]>()
  private stopped = false
  private punched = 0
  private failed = 0
  private readonly log: Logger
  private readonly closing = new Set<NodeJS.Timeout>()

  constructor (private readonly components: Components, private readonly state: PunchState) {
    this.log = components.logger.forComponent('twin:punch')
  }

  async start (): Promise<void> {
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    if (!this.state.enabled) return
    await this.components.registrar.handle(PUNCH_PROTOCOL, async (stream, connection) => { await this.answer(stream, connection) }, { runOnLimitedConnection: true, maxInboundStreams: 2, maxOutboundStreams: 2 })
    this.components.events.addEventListener('connection:open', this.onOpen)
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.components.events.removeEventListener('connection:open', this.onOpen)
    for (const t of this.closing) clearTimeout(t)
    if (this.state.enabled) await this.components.registrar.unhandle(PUNCH_PROTOCOL)
  }

  status (): PunchStatus {
    const observed = [...new Set(this.observed.values())]
    let reachability: Reachability = 'unknown'
    if (observed.length > 0) {
      const own = ownAddresses()
      reachability = observed.every(a => own.has(hostOf(a))) ? 'public' : !this.state.enabled || (this.failed > 0 && this.punched === 0) ? 'relayed-only' : 'nat'
    }
    return { reachability, observed, punched: this.punched, failed: this.failed }
  }

  /** A relay told us where our punch-port connection comes from. */
  private readonly onIdentify = (e: Event): void => {
    const { connection, observedAddr } = (e as CustomEvent<{ connection: Connection, observedAddr?: Multiaddr }>).detail
    if (observedAddr === undefined || !this.state.fromPort.has(connection)) return
    const parts = observedAddr.getComponents()
    const host = parts.find(c => c.name === 'ip4' || c.name === 'ip6')?.value
    const port = parts.find(c => c.name === 'tcp')?.value
    if (host === undefined || port === undefined) return
    // Kept per connection: a relay's older connection closing must not drop what its newer one said.
    this.observed.set(connection.id, net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`)
    connection.addEventListener('close', () => { this.observed.delete(connection.id) }, { once: true })
  }

  /**
   * A relayed connection opened: try to go direct. Of the two ends, the one with the smaller
   * peer id starts, whichever end dialed: exactly one end starts, also when the other restarted
   * or connected first. Each relayed connection gets its attempts once.
   */
  private readonly onOpen = (e: Event): void => {
    const conn = (e as CustomEvent<Connection>).detail
    if (isRelayed(conn) && this.startsWith(conn.remotePeer)) this.startFor(conn)
  }

  /** Of two nodes, the one with the smaller peer id starts a punch. */
  private startsWith (peer: PeerId): boolean {
    return this.components.peerId.toString() < peer.toString()
  }

  private hasDirect (peer: PeerId): boolean {
    return this.components.connectionManager.getConnections(peer).some(c => c.status === 'open' && !isRelayed(c))
  }

  /** Starts the punch for a relayed connection, or later when MAX_PUNCHES are under way. */
  private startFor (conn: Connection): void {
    const peer = conn.remotePeer.toString()
    if (this.stopped || conn.status !== 'open' || this.running.has(peer) || this.hasDirect(conn.remotePeer)) return
    if (this.running.size >= MAX_PUNCHES) {
      const t = setTimeout(() => { this.closing.delete(t); this.startFor(conn) }, QUEUE_RETRY_MS)
      t.unref()
      this.closing.add(t)
      return
    }
    this.running.add(peer)
    void this.initiate(conn).finally(() => this.running.delete(peer))
  }

  /**
   * Punches for a relayed connection, trying again (a lost SYN or exchange on a lossy link) up
   * to ATTEMPTS times while the relayed connection lasts.
   */
  private async initiate (relayed: Connection): Promise<void> {
    let last: unknown
    for (let attempt = 0; attempt < ATTEMPTS && relayed.status === 'open' && !this.stopped; attempt++) {
      if (attempt > 0) await new Promise(resolve => setTimeout(resolve, 1_000 * attempt))
      try {
        // A peer may come through the circuit before a relay has said where we are.
        await this.observation(EXCHANGE_MS)
        const conn = await this.attempt(relayed)
        this.succeeded(conn, relayed)
        return
      } catch (err) {
        last = err
      }
    }
    this.gaveUp(relayed.remotePeer, last)
  }

  /** Resolves once a relay told us our public address, or throws after `ms`. */
  private async observation (ms: number): Promise<void> {
    const deadline = Date.now() + ms
    while (this.observed.size === 0) {
      if (Date.now() > deadline || this.stopped) throw new Error('no relay has told us our public address yet')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  /** One exchange and meeting, as the initiator. */
  private async attempt (relayed: Connection): Promise<Connection> {
    const peer = relayed.remotePeer
    let frames: FrameStream | undefined
    try {
      const stream = await relayed.newStream(PUNCH_PROTOCOL, { runOnLimitedConnection: true, signal: AbortSignal.timeout(EXCHANGE_MS) })
      frames = new FrameStream(stream, { maxFrameBytes: 4096 })
      const sent = Date.now()
      await frames.write({ addrs: this.ownOffer() })
      const answer = Offer.parse(await frames.read({ signal: AbortSignal.timeout(EXCHANGE_MS) }))
      const rtt = Date.now() - sent
      const target = this.target(answer.addrs)
      await frames.write({ sync: true })
      // Half the round trip, so both SYNs leave together; the measure includes the other end's
      // wait for its own address, so it is capped (a SYN that arrives early is sent again).
      await new Promise(resolve => setTimeout(resolve, Math.min(rtt / 2, MAX_SYNC_WAIT_MS)))
      return await this.meet(target, peer, true)
    } finally {
      await frames?.close().catch(() => {})
    }
  }

  /** The other end of `initiate`. */
  private async answer (stream: Stream, relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer
    // Only what the protocol has us answer: a relayed connection, from the end that starts, with
    // no direct connection yet, a few times per peer; each answer makes us connect somewhere.
    const refusal = !isRelayed(relayed) ? 'not a relayed connection'
      : this.startsWith(peer) ? 'this end starts the punch'
        : this.hasDirect(peer) ? 'already connected directly'
          : this.answering >= MAX_PUNCHES || this.running.has(peer.toString()) ? 'too many hole punches at once'
            : !this.answerBudget(peer.toString()) ? 'too many hole punches from this peer'
              : undefined
    if (refusal !== undefined) {
      stream.abort(new Error(refusal))
      return
    }
    this.answering++
    this.running.add(peer.toString())
    const frames = new FrameStream(stream, { maxFrameBytes: 4096 })
    try {
      const offer = Offer.parse(await frames.read({ signal: AbortSignal.timeout(EXCHANGE_MS) }))
      await this.observation(EXCHANGE_MS)
      await frames.write({ addrs: this.ownOffer() })
      Sync.parse(await frames.read({ signal: AbortSignal.timeout(EXCHANGE_MS) }))
      const target = this.target(offer.addrs)
      const conn = await this.meet(target, peer, false)
      this.succeeded(conn, relayed)
    } catch (err) {
      this.gaveUp(peer, err)
    } finally {
      this.answering--
      this.running.delete(peer.toString())
      await frames.close().catch(() => {})
    }
  }

  private target (addrs: string[]): { host: string, port: number } {
    return punchTarget(addrs, this.state.publicRanges)
  }

  /** At most ANSWERS_PER_PEER answers to one peer in ANSWER_WINDOW_MS. */
  private answerBudget (peer: string): boolean {
    const now = Date.now()
    const recent = (this.answered.get(peer) ?? []).filter(t => now - t < ANSWER_WINDOW_MS)
    if (recent.length >= ANSWERS_PER_PEER) return false
    recent.push(now)
    this.answered.set(peer, recent)
    if (this.answered.size > 1024) this.answered.delete(this.answered.keys().next().value as string)
    return true
  }

  private ownOffer (): string[] {
    return [...new Set(this.observed.values())].slice(0, 8)
  }

  /**
   * Connects from the punch port to `target` until the peer's attempt meets ours, then secures
   * the connection as initiator or responder. The peer must be the one we punched for.
   */
  private async meet (target: { host: string, port: number }, peer: PeerId, initiator: boolean): Promise<Connection> {
    const deadline = Date.now() + MEET_MS
    let last: unknown
    while (Date.now() < deadline && !this.stopped) {
      let maConn: SocketConnection | undefined
      try {
        const socket = await connectFrom(this.state.port, target, deadline - Date.now())
        const remoteAddr = multiaddr(`/ip${net.isIPv6(target.host) ? 6 : 4}/${target.host}/tcp/${target.port}${initiator ? `/p2p/${peer.toString()}` : ''}`)
        maConn = new SocketConnection(socket, remoteAddr, initiator ? 'outbound' : 'inbound', this.log)
        const signal = AbortSignal.timeout(EXCHANGE_MS)
        const conn = await this.components.upgrader.upgradeOutbound(maConn, { signal, initiator, ...(initiator ? {} : { remotePeer: peer }) })
        if (!conn.remotePeer.equals(peer)) {
          await conn.close()
          throw new Error('a different peer answered at the punched address')
        }
        return conn
      } catch (err) {
        // The upgrader leaves a connection it could not secure open: close its socket here.
        maConn?.abort(err as Error)
        last = err
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
    throw Object.assign(last instanceof Error ? last : new Error('the attempts did not meet'), { meeting: true })
  }

  private succeeded (direct: Connection, relayed: Connection): void {
    this.punched++
    this.log('direct connection to %p through hole punching', direct.remotePeer)
    const t = setTimeout(() => {
      this.closing.delete(t)
      if (direct.status === 'open') void relayed.close().catch(() => {})
    }, CIRCUIT_GRACE_MS)
    t.unref()
    this.closing.add(t)
  }

  /** A failed punch. */
  private gaveUp (peer: PeerId, err: unknown): void {
    // Only attempts that reached the meeting say something about our NAT; a peer that declined,
    // sent nonsense or was busy does not.
    if ((err as { meeting?: boolean } | undefined)?.meeting === true) this.failed++
    this.log('hole punching to %p failed: %s', peer, (err as Error | undefined)?.message)
  }
}

/** The punch service for libp2p's `services`, with the state the transport shares. */
export function punch (state: PunchState): (components: Components) => Punch {
  return components => new Punch(components, state)
}

export function isRelayed (conn: Connection): boolean {
  return conn.remoteAddr.getComponents().some(c => c.name === 'p2p-circuit')
}

/** One outgoing TCP connection from `localPort`, or the error that ended it. */
async function connectFrom (localPort: number, target: { host: string, port: number }, timeoutMs: number): Promise<net.Socket> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, localPort, noDelay: true, keepAlive: true })
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('connect timed out')) }, Math.max(timeoutMs, 1))
    socket.once('connect', () => { clearTimeout(timer); socket.removeAllListeners('error'); resolve(socket) })
    socket.once('error', err => { clearTimeout(timer); socket.destroy(); reject(err) })
  })
}

/** A connected socket as libp2p's upgrader takes it. */
class SocketConnection extends AbstractMultiaddrConnection {
  constructor (private readonly socket: net.Socket, remoteAddr: Multiaddr, direction: 'inbound' | 'outbound', log: Logger) {
    // The direction decides the roles above it (the muxer's client and server): the punch's
    // initiator is outbound, though both ends connected.
    super({ remoteAddr, direction, log: log.newScope('socket') })
    socket.on('data', (buf: Buffer) => { this.onData(buf) })
    socket.on('error', err => { this.abort(err) })
    socket.once('close', hadError => {
      if (hadError) this.abort(new Error('TCP transmission error'))
      else this.onTransportClosed()
    })
    socket.on('drain', () => { this.safeDispatchEvent('drain') })
  }

  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    if (this.socket.destroyed) return
    await new Promise<void>(resolve => {
      const onAbort = (): void => { this.socket.destroy() }
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      this.socket.once('close', () => { options?.signal?.removeEventListener('abort', onAbort); resolve() })
      this.socket.destroySoon()
    })
  }

  sendReset (): void {
    this.socket.destroy()
  }

  sendPause (): void {
    this.socket.pause()
  }

  sendResume (): void {
    this.socket.resume()
  }
}

/**
 * The address to punch to: the first public one a peer offered (`HOST:PORT`, `[V6]:PORT`). Never
 * a private or loopback one, nor a port below 1024 (punch ports are ephemeral): a peer must not
 * make this node knock on machines of its own network, or on services.
 */
export function punchTarget (addrs: string[], publicRanges: PublicRanges = []): { host: string, port: number } {
  const target = addrs.map(parseHostPort).find(a => a !== undefined && a.port >= 1024 && isPublicHost(a.host, publicRanges))
  if (target === undefined) throw new Error('the peer has no public address to punch to')
  return target
}

function parseHostPort (text: string): { host: string, port: number } | undefined {
  const i = text.lastIndexOf(':')
  const host = text.slice(0, i).replace(/^\[|\]$/g, '')
  const port = Number(text.slice(i + 1))
  return i > 0 && net.isIP(host) !== 0 && Number.isInteger(port) && port > 0 && port < 65536 ? { host, port } : undefined
}

function hostOf (hostPort: string): string {
  return hostPort.slice(0, hostPort.lastIndexOf(':')).replace(/^\[|\]$/g, '').replace(/^::ffff:/, '')
}

function ownAddresses (): Set<string> {
  return new Set(Object.values(networkInterfaces()).flat().map(i => i?.address ?? '').filter(a => a !== ''))
}
