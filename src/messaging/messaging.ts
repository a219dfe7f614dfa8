import { EventEmitter } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { TwinLibp2p, Resolver } from '../net/index.js'
import { Acks } from './acks.js'
import { Channels, MESSAGE_PROTOCOL, type RelayMailbox } from './channels.js'
import { checkVerb, newMessageId } from './envelope.js'
import { MessagingError } from './errors.js'
import { Opener } from './opener.js'
import { OutboxScheduler } from './outbox.js'
import { Peers } from './peers.js'
import { Receiver } from './receiver.js'
import { Requests, type Handler } from './requests.js'
import { Sealer, type Self } from './sealer.js'
import type { MessageStore, OutboxRow } from './store.js'
import { DEFAULT_TIMING, type Timing } from './timing.js'

/** Streams one connection may open to the direct protocol: a peer needs one, a few while one is replaced. */
const MAX_INBOUND_STREAMS = 8
/** Deadline of a request when the caller sets none. */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000

/**
 * Signed, sealed, reliable messaging between twins: the facade the daemon and the API use.
 *
 * Events (`send`) go through the durable outbox (`OutboxScheduler`): retried with exponential
 * backoff and jitter, direct to the recipient first, else left in its relays' mailboxes, until
 * acknowledged or expired. The receiver (`Receiver`) verifies, drops duplicates by (sender, id),
 * stores before it acknowledges (`Acks`), and lists by each sender's sequence. Requests
 * (`Requests`) are answered by a response or an error with the same correlation id, or fail at
 * their deadline. `Channels` holds the direct streams to other twins.
 *
 * Events: `message` (a new inbound event, stored), `outbox` (a row changed status), `rejected`
 * (an inbound envelope was refused, with the reason).
 */
export class Messaging extends EventEmitter {
  private readonly timing: Timing
  private readonly peers = new Peers()
  private readonly sealer: Sealer
  private readonly channels: Channels
  private readonly outbox: OutboxScheduler
  private readonly acks: Acks
  private readonly requests: Requests
  private readonly opener: Opener
  private readonly receiver: Receiver
  private started = false
  private readonly onPeerConnect = (evt: CustomEvent<PeerId>): void => { this.peerSeen(evt.detail.toString()) }

  constructor (
    private readonly self: Self,
    private readonly store: MessageStore,
    private readonly resolver: Resolver,
    private readonly node: TwinLibp2p,
    relayClient: (address: string) => RelayMailbox,
    timing: Partial<Timing> = {}
  ) {
    super()
    this.timing = { ...DEFAULT_TIMING, ...timing }
    this.sealer = new Sealer(self, this.peers, this.timing)
    this.channels = new Channels(node, relayClient, this.timing, {
      envelope: (bytes, reply) => { this.receiver.fromChannel(bytes, reply) },
      refused: (id, why, message) => {
        this.requests.refused(id, why, message)
        this.outbox.refused(id, why, message)
      },
      closed: twin => { this.outbox.channelClosed(twin) }
    })
    this.outbox = new OutboxScheduler(store, resolver, this.channels, relayClient, this.timing, change => this.emit('outbox', change))
    this.acks = new Acks(resolver, this.sealer, this.channels, this.timing)
    this.requests = new Requests(resolver, this.sealer, this.channels, this.timing)
    this.opener = new Opener(self, resolver, this.peers)
    this.receiver = new Receiver(this.opener, store, this.acks, this.timing, {
      acknowledged: (from, ids) => { this.outbox.acknowledged(from, ids) },
      request: (header, body, reply) => { this.requests.onRequest(header, body, reply) },
      response: (header, body) => { this.requests.onResponse(header, body) },
      message: m => this.emit('message', m),
      rejected: r => this.emit('rejected', r),
      peerSeen: peer => { this.peerSeen(peer) }
    })
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.channels.start()
    this.acks.start()
    await this.node.handle(MESSAGE_PROTOCOL, (stream, connection) => { void this.receiver.serve(stream, connection) }, { maxInboundStreams: MAX_INBOUND_STREAMS })
    this.node.addEventListener('peer:connect', this.onPeerConnect)
    this.outbox.start()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.outbox.stop()
    this.acks.stop()
    this.node.removeEventListener('peer:connect', this.onPeerConnect)
    await this.node.unhandle(MESSAGE_PROTOCOL).catch(() => { /* the node is stopping too: nothing left to unregister */ })
    this.channels.stop()
    this.requests.stop()
    this.sealer.clear()
    this.opener.clear()
  }

  /** Registers the handler of a request verb. */
  handle (verb: string, handler: Handler): void {
    this.requests.handle(verb, handler)
  }

  /** Queues a one-way message durably and starts delivering it; returns its outbox row. */
  send (to: string, verb: string, payload: unknown, options: { ttlMs?: number } = {}): OutboxRow {
    checkVerb(verb)
    if (to === this.self.id) throw new MessagingError('SEND_TO_SELF', 'a twin cannot send a message to itself')
    const record = this.resolver.cached(to)
    if (record === undefined) throw new MessagingError('TWIN_NOT_FOUND', `twin ${to} is not known yet; resolve it first`)
    const now = this.timing.now()
    const id = newMessageId()
    return this.outbox.enqueue({
      id,
      to,
      verb,
      payload,
      seal: seq => {
        const sealed = this.sealer.seal(record, 'event', { verb, payload }, { id, seq, now, signed: true, ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }) })
        return { bytes: sealed.bytes, created: sealed.created, expires: sealed.expires }
      }
    })
  }

  /** Resolves the recipient (network if needed) and queues a message to it. */
  async sendResolved (to: string, verb: string, payload: unknown, options: { ttlMs?: number } = {}): Promise<OutboxRow> {
    await this.resolver.resolve(to)
    return this.send(to, verb, payload, options)
  }

  /** Sends a request and waits for its response until the deadline (`timeoutMs`, 10 s by default). */
  async request (to: string, verb: string, payload: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
    return await this.requests.request(to, verb, payload, options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)
  }

  /** Handles envelopes pushed by one of this twin's relays; returns the ids the relay may delete. */
  async receiveFromMailbox (envelopes: Uint8Array[]): Promise<Uint8Array[]> {
    return await this.receiver.fromMailbox(envelopes)
  }

  /** Envelopes waiting in the outbox, by status. */
  queueSizes (): Record<string, number> {
    return this.store.outboxCounts()
  }

  /** Retries every queued message now, e.g. when a relay is reachable again. */
  wakeAll (): void {
    this.outbox.wakeAll()
  }

  /** Wakes the outbox loop now. */
  kick (): void {
    this.outbox.kick()
  }

  /** A peer connected or opened a stream: if it is a twin with waiting messages, they are due now. */
  private peerSeen (peer: string): void {
    const twin = this.peers.twinOf(peer)
    if (twin !== undefined) this.outbox.wake(twin)
  }
}
