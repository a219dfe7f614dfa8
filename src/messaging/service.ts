import { EventEmitter } from 'node:events'
import type { KeyObject } from 'node:crypto'
import type { Stream, Connection, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { toHex } from '../wire/index.js'
import { TwinError } from '../errors.js'
import { FrameStream } from '../net/frames.js'
import { Batcher } from '../net/batcher.js'
import type { TwinLibp2p } from '../net/node.js'
import type { Resolver } from '../net/resolver.js'
import type { TwinRecord } from '../net/record.js'
import type { RelayClient } from '../relay/client.js'
import {
  checkEnvelopeTiming, checkVerb, createEnvelope, decodeEnvelope, newMessageId, openEnvelope, verifyEnvelopeSignature,
  type Body, type Envelope, type Kind
} from './envelope.js'
import { EnvelopeRejected, RemoteError, RequestTimeoutError, type RejectReason } from './errors.js'
import type { MessageStore, NewInbound, OutboxRow, OutboxStatus } from './store.js'
import { Strikes } from './strikes.js'

/** Twin's direct messaging protocol; see docs/PROTOCOL.md, "Delivery". */
export const MESSAGE_PROTOCOL = '/twin/msg/1.0.0'

/** Streams one connection may open to the direct protocol: a peer needs one, a few while one is replaced. */
const MAX_INBOUND_STREAMS = 8
/** Envelope bytes one inbound stream may have in the receive pipeline at once. */
const MAX_WORKING_BYTES_PER_STREAM = 1024 * 1024
/** Times an acknowledgement that could not be delivered is tried again (with backoff, about a minute in all). */
const ACK_RETRIES = 6
/** Replies queued on one inbound stream before the twin stops reading from it. */
const MAX_QUEUED_REPLIES = 256

/** The twin's own keys, as messaging needs them. */
export interface Self {
  id: string
  sequence: number
  signingKey: KeyObject
  encryptionKey: KeyObject
  encryptionPublic: Uint8Array
}

export interface RequestContext { from: string, verb: string, payload: unknown }
export type Handler = (req: RequestContext) => Promise<unknown> | unknown

export interface Timing {
  now: () => number
  random: () => number
  /** First retry delay; doubles per attempt up to `maxBackoffMs`. */
  baseBackoffMs: number
  maxBackoffMs: number
  /** A message left at the recipient's relay is offered again (direct first) after this long. */
  relayedRecheckMs: number
  dialTimeoutMs: number
  ackTimeoutMs: number
}

export const DEFAULT_TIMING: Timing = {
  now: Date.now,
  random: Math.random,
  baseBackoffMs: 1_000,
  maxBackoffMs: 60_000,
  relayedRecheckMs: 10 * 60_000,
  dialTimeoutMs: 5_000,
  ackTimeoutMs: 15_000
}

/**
 * Pushes of one envelope by a relay, refused each time because its sender cannot be resolved,
 * after which the twin gives up on it: acknowledged, so the relay deletes it instead of keeping
 * junk from senders nobody can find until it expires.
 */
const UNKNOWN_SENDER_PUSHES = 3

/** Rejections after which retrying the same envelope cannot succeed. */
const FINAL: ReadonlySet<RejectReason> = new Set(['malformed', 'too-large', 'wrong-recipient', 'expired', 'from-the-future', 'ttl-too-long', 'rotated-key', 'bad-signature', 'undecryptable', 'stale-recipient-key'])

interface Inbound {
  bytes: Uint8Array
  via: 'direct' | 'mailbox' | 'reply'
  /** Writes a frame back on the stream the envelope came in on (direct deliveries). */
  reply?: (frame: unknown) => void
}

interface InboundResult {
  id: Uint8Array | undefined
  /** Stored, handled, or a duplicate of something already stored. */
  ok: boolean
  /** True when the outcome will not change on a retry (a relay may delete the envelope). */
  final: boolean
  reason?: RejectReason
  message?: string
}

interface Opened { env: Envelope, body: Body, item: Inbound }

/**
 * Signed, sealed, reliable messaging between twins.
 *
 * Events (`send`) go through a durable outbox: retried with exponential backoff and jitter,
 * direct to the recipient first, else left in its relays' mailboxes, until acknowledged or
 * expired. The receiver verifies, drops duplicates by (sender, id), stores before it
 * acknowledges, and lists by each sender's sequence. Requests (`request`) are answered by a
 * response or an error with the same correlation id, or fail at their deadline; they are not
 * stored, since nobody waits for them after their deadline.
 */
export class Messaging extends EventEmitter {
  private readonly handlers = new Map<string, Handler>()
  private readonly pending = new Map<string, { to: string, verb: string, resolve: (v: unknown) => void, reject: (e: unknown) => void }>()
  private readonly seenRequests = new Map<string, number>()
  private readonly channels = new Map<string, Promise<Channel>>()
  private readonly inflight = new Map<string, { id: Uint8Array, to: string, sentAt: number, attempts: number, status: OutboxStatus }>()
  private readonly rejectWaiters = new Map<string, (why: string) => void>()
  private readonly peerToTwin = new Map<string, string>()
  private readonly lanes = new Set<string>()
  private readonly acksToSend = new Map<string, Uint8Array[]>()
  private readonly unresolvedPushes = new Strikes()
  private readonly receiver: Batcher<Inbound, InboundResult>
  private readonly timing: Timing
  private timer: NodeJS.Timeout | undefined
  private ticking = false
  private tickAgain = false
  private started = false
  private readonly onPeerConnect = (evt: CustomEvent<PeerId>): void => {
    const twin = this.peerToTwin.get(evt.detail.toString())
    if (twin !== undefined && this.store.wake(twin, this.timing.now()) > 0) this.kick()
  }

  constructor (
    private readonly self: Self,
    private readonly store: MessageStore,
    private readonly resolver: Resolver,
    private readonly node: TwinLibp2p,
    private readonly relayClient: (address: string) => RelayClient,
    timing: Partial<Timing> = {}
  ) {
    super()
    this.timing = { ...DEFAULT_TIMING, ...timing }
    this.receiver = new Batcher(items => this.processInbound(items))
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    await this.node.handle(MESSAGE_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { maxInboundStreams: MAX_INBOUND_STREAMS })
    this.node.addEventListener('peer:connect', this.onPeerConnect)
    this.kick()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.node.removeEventListener('peer:connect', this.onPeerConnect)
    await this.node.unhandle(MESSAGE_PROTOCOL).catch(() => {})
    for (const p of this.channels.values()) void p.then(c => { c.frames.abort('stopping') }).catch(() => {})
    this.channels.clear()
    for (const p of this.pending.values()) p.reject(new TwinError('STOPPING', 'the twin is stopping'))
    this.pending.clear()
  }

  /** Registers the handler of a request verb. */
  handle (verb: string, handler: Handler): void {
    this.handlers.set(checkVerb(verb), handler)
  }

  /** Queues a one-way message durably and starts delivering it; returns its outbox row. */
  send (to: string, verb: string, payload: unknown, options: { ttlMs?: number } = {}): OutboxRow {
    checkVerb(verb)
    if (to === this.self.id) throw new TwinError('SEND_TO_SELF', 'a twin cannot send a message to itself')
    const record = this.resolver.cached(to)
    if (record === undefined) throw new TwinError('TWIN_NOT_FOUND', `twin ${to} is not known yet; resolve it first`)
    const now = this.timing.now()
    const id = newMessageId()
    const row = this.store.queue({
      id,
      to,
      kind: 'event',
      verb,
      payload,
      makeEnvelope: seq => {
        const { bytes, envelope } = this.seal(record, 'event', { verb, payload }, { id, seq, now, ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }) })
        return { bytes, created: envelope.created, expires: envelope.expires }
      }
    })
    this.emit('outbox', { id: row.id, to, status: row.status })
    this.kick()
    return row
  }

  /** Resolves the recipient (network if needed) and queues a message to it. */
  async sendResolved (to: string, verb: string, payload: unknown, options: { ttlMs?: number } = {}): Promise<OutboxRow> {
    await this.resolver.resolve(to)
    return this.send(to, verb, payload, options)
  }

  /** Sends a request and waits for its response until the deadline (`timeoutMs`). */
  async request (to: string, verb: string, payload: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
    checkVerb(verb)
    const timeoutMs = options.timeoutMs ?? 10_000
    const deadline = this.timing.now() + timeoutMs
    const record = await this.resolver.resolve(to)
    const { bytes, envelope } = this.seal(record, 'request', { verb, payload }, { ttlMs: Math.max(1, deadline - this.timing.now()) })
    const key = toHex(envelope.id)
    const result = new Promise<unknown>((resolve, reject) => { this.pending.set(key, { to, verb, resolve, reject }) })
    const timer = setTimeout(() => {
      this.pending.get(key)?.reject(new RequestTimeoutError(verb, timeoutMs))
      this.pending.delete(key)
    }, Math.max(0, deadline - this.timing.now()))
    this.rejectWaiters.set(key, why => {
      this.pending.get(key)?.reject(new RemoteError('REJECTED', `twin ${to} refused the request: ${why}`))
      this.pending.delete(key)
    })
    try {
      this.deliverOne(record, bytes).catch(err => {
        this.pending.get(key)?.reject(err)
        this.pending.delete(key)
      })
      return await result
    } finally {
      clearTimeout(timer)
      this.rejectWaiters.delete(key)
    }
  }

  /** Envelopes waiting in the outbox, by status. */
  queueSizes (): Record<string, number> {
    return this.store.outboxCounts()
  }

  // ---- sealing ------------------------------------------------------------------------

  private seal (record: TwinRecord, kind: Kind, body: Body, o: { id?: Uint8Array, seq?: number, cid?: Uint8Array, ttlMs?: number, now?: number } = {}): { bytes: Uint8Array, envelope: Envelope } {
    if (record.net.peer !== undefined) this.peerToTwin.set(record.net.peer, record.state.id)
    return createEnvelope({
      from: this.self.id,
      fromKeySeq: this.self.sequence,
      signingKey: this.self.signingKey,
      to: record.state.id,
      toKeySeq: record.state.sequence,
      toEncryptionKey: record.state.keys.encryption,
      kind,
      body,
      ...(o.id === undefined ? {} : { id: o.id }),
      ...(o.seq === undefined ? {} : { seq: o.seq }),
      ...(o.cid === undefined ? {} : { cid: o.cid }),
      ...(o.ttlMs === undefined ? {} : { ttlMs: o.ttlMs }),
      now: o.now ?? this.timing.now()
    })
  }

  // ---- receiving ----------------------------------------------------------------------

  /** Serves one inbound stream of the direct protocol: envelopes in, acks and refusals out. */
  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const frames = new FrameStream(stream, { connection: connection.id })
    const reply = (frame: unknown): void => { frames.write(frame).catch(() => { frames.abort('write failed') }) }
    const remote = this.peerToTwin.get(connection.remotePeer.toString())
    if (remote !== undefined && this.store.wake(remote, this.timing.now()) > 0) this.kick()
    // Back-pressure: a peer that sends faster than this twin verifies and stores, or that does
    // not read its replies, waits instead of queuing envelopes and replies in memory.
    const working = new Set<Promise<void>>()
    let workingBytes = 0
    try {
      while (true) {
        while (workingBytes > MAX_WORKING_BYTES_PER_STREAM) await Promise.race(working)
        if (frames.queuedWrites > MAX_QUEUED_REPLIES) await frames.drained()
        const frame = await frames.read() as { e?: unknown } | undefined
        if (frame === undefined) break
        if (!(frame.e instanceof Uint8Array)) { reply({ r: null, why: 'malformed', msg: 'expected an envelope frame' }); continue }
        const size = frame.e.length
        workingBytes += size
        const job: Promise<void> = this.receiver.push({ bytes: frame.e, via: 'direct', reply }).then(r => {
          if (!r.ok) reply({ r: r.id ?? null, why: r.reason ?? 'malformed', msg: r.message ?? '' })
        }, () => {
          // The pipeline itself failed (this twin's fault, not final): the sender retries.
          reply({ r: null, why: 'internal', msg: 'the recipient could not process the envelope' })
        }).finally(() => { workingBytes -= size; working.delete(job) })
        working.add(job)
      }
      await frames.close()
    } catch {
      frames.abort('protocol error')
    }
  }

  /** Handles envelopes pushed by one of this twin's relays; returns the ids the relay may delete. */
  async receiveFromMailbox (envelopes: Uint8Array[]): Promise<Uint8Array[]> {
    const results = await Promise.all(envelopes.map(async bytes => await this.receiver.push({ bytes, via: 'mailbox' })))
    const ids: Uint8Array[] = []
    results.forEach((r, i) => {
      const id = r.id ?? idOf(envelopes[i] as Uint8Array)
      if (r.ok || r.final) {
        ids.push(id)
        this.unresolvedPushes.forget(toHex(id))
      } else if (r.reason === 'unknown-sender' && this.unresolvedPushes.add(toHex(id)) >= UNKNOWN_SENDER_PUSHES) {
        this.unresolvedPushes.forget(toHex(id))
        ids.push(id)
      }
    })
    return ids.filter(id => id.length === 16)
  }

  /** The receive pipeline for a batch: check, verify, open, then store all events in one transaction. */
  private async processInbound (items: Inbound[]): Promise<InboundResult[]> {
    const now = this.timing.now()
    const results: InboundResult[] = new Array(items.length)
    const opened: Array<Opened & { index: number }> = []
    await Promise.all(items.map(async (item, index) => {
      let env: Envelope | undefined
      try {
        env = decodeEnvelope(item.bytes)
        checkEnvelopeTiming(env, this.self.id, now)
        const record = await this.senderRecord(env)
        const keys = record.state.history[env.fk]
        if (keys === undefined) throw new EnvelopeRejected('unknown-sender', 'the sender\'s key sequence is unknown')
        verifyEnvelopeSignature(env, keys.signing)
        if (env.fk < record.state.sequence) throw new EnvelopeRejected('rotated-key', 'the envelope is signed by a key the sender has rotated away')
        if (env.tk !== this.self.sequence) throw new EnvelopeRejected('stale-recipient-key', `the envelope is sealed to key sequence ${env.tk}; this twin is at ${this.self.sequence}`)
        const body = openEnvelope(env, this.self.encryptionKey, this.self.encryptionPublic)
        opened.push({ env, body, item, index })
      } catch (err) {
        // Anything but a refusal is this twin's own failure: not final, so the sender or relay tries again.
        const reason: RejectReason = err instanceof EnvelopeRejected ? err.reason : 'internal'
        results[index] = { id: env?.id, ok: false, final: FINAL.has(reason), reason, message: (err as Error).message }
        this.emit('rejected', { from: env?.from, reason, message: (err as Error).message })
      }
    }))

    // Checks finish in any order (a sender's record may need a network lookup): store in the
    // order the envelopes arrived, so arrival order is delivery order.
    opened.sort((a, b) => a.index - b.index)
    // Events: store new ones in one transaction, then acknowledge all (duplicates included).
    const events = opened.filter(o => o.env.kind === 'event')
    if (events.length > 0) {
      const fresh = this.store.storeInbound(events.map(o => {
        const b = o.body as { verb: string, payload: unknown }
        const m: NewInbound = { from: o.env.from, id: o.env.id, seq: o.env.seq, verb: b.verb, payload: b.payload, sentAt: o.env.created, expires: o.env.expires }
        return m
      }), now)
      for (const m of fresh) this.emit('message', m)
      this.acknowledge(events)
    }
    for (const o of opened) {
      results[o.index] = { id: o.env.id, ok: true, final: true }
      if (o.env.kind === 'ack') this.onAck(o.env.from, (o.body as { ids: Uint8Array[] }).ids)
      else if (o.env.kind === 'request') this.onRequest(o)
      else if (o.env.kind === 'response' || o.env.kind === 'error') this.onResponse(o)
    }
    return results
  }

  private async senderRecord (env: Envelope): Promise<TwinRecord> {
    let record = this.resolver.cached(env.from)
    if (record === undefined || env.fk > record.state.sequence) {
      try {
        record = await this.resolver.resolve(env.from, { refresh: true })
      } catch {
        throw new EnvelopeRejected('unknown-sender', `the sender ${env.from} cannot be found to check its signature`)
      }
    }
    if (record.net.peer !== undefined) this.peerToTwin.set(record.net.peer, record.state.id)
    return record
  }

  private acknowledge (events: Opened[]): void {
    const direct = new Map<(frame: unknown) => void, { from: string, ids: Uint8Array[] }>()
    for (const o of events) {
      if (o.item.reply !== undefined) {
        const d = direct.get(o.item.reply) ?? { from: o.env.from, ids: [] }
        d.ids.push(o.env.id)
        direct.set(o.item.reply, d)
      } else {
        const list = this.acksToSend.get(o.env.from) ?? []
        if (list.length === 0) setTimeout(() => { this.flushAcks(o.env.from) }, 20)
        list.push(o.env.id)
        this.acksToSend.set(o.env.from, list)
      }
    }
    for (const [reply, { from, ids }] of direct) {
      const record = this.resolver.cached(from)
      if (record === undefined) continue
      for (let i = 0; i < ids.length; i += 1024) {
        reply({ e: this.seal(record, 'ack', { ids: ids.slice(i, i + 1024) }, { ttlMs: 24 * 3600_000 }).bytes })
      }
    }
  }

  /**
   * Acknowledgements of envelopes that came through a mailbox go back direct, else through the
   * sender's relays. One that cannot be delivered now (the relay is restarting) is tried again
   * a few times with backoff: without it the sender would wait for its next re-offer of
   * relayed messages (`relayedRecheckMs`) to learn they arrived.
   */
  private flushAcks (from: string, ids = this.takeAcks(from), attempt = 0): void {
    const record = this.resolver.cached(from)
    if (record === undefined || ids.length === 0 || !this.started) return
    for (let i = 0; i < ids.length; i += 1024) {
      const part = ids.slice(i, i + 1024)
      const { bytes } = this.seal(record, 'ack', { ids: part }, { ttlMs: 24 * 3600_000 })
      this.deliverOne(record, bytes).catch(() => {
        if (attempt >= ACK_RETRIES) return // the sender re-offers the message later, and it is acknowledged again
        const t = setTimeout(() => { this.flushAcks(from, part, attempt + 1) }, this.backoff(attempt))
        t.unref()
      })
    }
  }

  private takeAcks (from: string): Uint8Array[] {
    const ids = this.acksToSend.get(from) ?? []
    this.acksToSend.delete(from)
    return ids
  }

  private onAck (from: string, ids: Uint8Array[]): void {
    const changed = this.store.markDelivered(from, ids, this.timing.now())
    for (const id of ids) {
      this.inflight.delete(toHex(id))
      if (changed > 0) this.emit('outbox', { id, to: from, status: 'delivered' })
    }
  }

  private onRequest (o: Opened): void {
    const key = `${o.env.from}/${toHex(o.env.id)}`
    if (this.seenRequests.has(key)) return
    this.seenRequests.set(key, o.env.expires)
    if (this.seenRequests.size > 50_000) this.pruneSeen()
    const { verb, payload } = o.body as { verb: string, payload: unknown }
    const handler = this.handlers.get(verb)
    void (async () => {
      let body: Body
      let kind: Kind
      if (handler === undefined) {
        kind = 'error'
        body = { code: 'UNKNOWN_VERB', message: `this twin does not speak ${verb}` }
      } else {
        try {
          kind = 'response'
          body = { payload: await handler({ from: o.env.from, verb, payload }) ?? null }
        } catch (err) {
          kind = 'error'
          body = err instanceof TwinError ? { code: err.code, message: err.message } : { code: 'HANDLER_FAILED', message: `the handler of ${verb} failed` }
        }
      }
      const record = this.resolver.cached(o.env.from)
      const ttlMs = o.env.expires - this.timing.now()
      if (record === undefined || ttlMs <= 0) return
      const { bytes } = this.seal(record, kind, body, { cid: o.env.id, ttlMs })
      if (o.item.reply !== undefined) o.item.reply({ e: bytes })
      else await this.deliverOne(record, bytes)
    })().catch(() => { /* the requester times out */ })
  }

  private onResponse (o: Opened): void {
    if (o.env.cid === null) return
    const key = toHex(o.env.cid)
    const waiter = this.pending.get(key)
    if (waiter === undefined || waiter.to !== o.env.from) return
    this.pending.delete(key)
    if (o.env.kind === 'response') waiter.resolve((o.body as { payload: unknown }).payload)
    else {
      const b = o.body as { code: string, message: string }
      waiter.reject(new RemoteError(b.code, `twin ${o.env.from} answered ${waiter.verb} with an error: ${b.message} (${b.code})`))
    }
  }

  private pruneSeen (): void {
    const now = this.timing.now()
    for (const [k, exp] of this.seenRequests) if (exp <= now) this.seenRequests.delete(k)
  }

  // ---- sending ------------------------------------------------------------------------

  /** Sends one envelope that is not kept in the outbox (request, response, ack): direct, else through relays. */
  private async deliverOne (record: TwinRecord, bytes: Uint8Array): Promise<void> {
    try {
      const ch = await this.channel(record)
      await ch.frames.write({ e: bytes })
      return
    } catch { /* fall back to the relays */ }
    for (const address of record.net.relays) {
      try {
        const r = await this.relayClient(address).deposit(bytes)
        if ('ok' in r) return
      } catch { /* next relay */ }
    }
    throw new TwinError('UNREACHABLE', `twin ${record.state.id} cannot be reached directly or through a relay`)
  }

  private async channel (record: TwinRecord): Promise<Channel> {
    const peer = record.net.peer
    if (peer === undefined) throw new TwinError('UNREACHABLE', 'the twin has no network address')
    const existing = this.channels.get(peer)
    if (existing !== undefined) {
      try {
        const ch = await existing
        if (!ch.frames.closed) return ch
      } catch { /* redial */ }
      if (this.channels.get(peer) === existing) this.channels.delete(peer)
    }
    const opening = (async () => {
      const peerId = peerIdFromString(peer)
      const addrs = record.net.addrs.map(a => {
        const ma = multiaddr(a)
        return ma.getComponents().at(-1)?.name === 'p2p' ? ma : ma.encapsulate(`/p2p/${peer}`)
      })
      const target = this.node.getConnections(peerId).length > 0 || addrs.length === 0 ? peerId : addrs
      const stream = await this.node.dialProtocol(target, MESSAGE_PROTOCOL, { signal: AbortSignal.timeout(this.timing.dialTimeoutMs), maxOutboundStreams: 1024 })
      const ch = new Channel(new FrameStream(stream), record.state.id)
      void this.readReplies(ch)
      return ch
    })()
    this.channels.set(peer, opening)
    opening.catch(() => { if (this.channels.get(peer) === opening) this.channels.delete(peer) })
    return await opening
  }

  private async readReplies (ch: Channel): Promise<void> {
    const reply = (frame: unknown): void => { ch.frames.write(frame).catch(() => {}) }
    try {
      while (true) {
        const frame = await ch.frames.read() as { e?: unknown, r?: unknown, why?: unknown, msg?: unknown } | undefined
        if (frame === undefined) break
        if (frame.e instanceof Uint8Array) void this.receiver.push({ bytes: frame.e, via: 'reply', reply })
        else if (frame.r instanceof Uint8Array) this.onRejected(frame.r, String(frame.why ?? 'refused'), String(frame.msg ?? ''))
      }
    } catch { /* the channel is reopened on next use */ }
    ch.frames.abort('closed')
    // What was written on this channel and not acknowledged goes back to the schedule now.
    if (ch.twin !== undefined && this.started) {
      this.sweepInflight(this.timing.now(), ch.twin)
      this.kick()
    }
  }

  private onRejected (id: Uint8Array, why: string, message: string): void {
    const key = toHex(id)
    this.rejectWaiters.get(key)?.(`${why}${message === '' ? '' : `: ${message}`}`)
    if (FINAL.has(why as RejectReason)) {
      this.store.fail(id, `refused by the recipient: ${message === '' ? why : message}`, this.timing.now())
      this.emit('outbox', { id, status: 'failed' })
    }
    this.inflight.delete(key)
  }

  /** Retries every queued message now, e.g. when a relay is reachable again. */
  wakeAll (): void {
    if (this.store.wakeAll(this.timing.now()) > 0) this.kick()
  }

  /** Wakes the outbox loop now. */
  kick (): void {
    if (!this.started) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.tick() }, 0)
  }

  private async tick (): Promise<void> {
    if (this.ticking) { this.tickAgain = true; return }
    this.ticking = true
    try {
      const now = this.timing.now()
      if (this.store.expireOld(now) > 0) this.emit('outbox', { status: 'expired' })
      this.sweepInflight(now)
      const byRecipient = new Map<string, OutboxRow[]>()
      for (const row of this.store.due(now)) {
        if (this.lanes.has(row.to) || this.inflight.has(toHex(row.id))) continue
        const list = byRecipient.get(row.to) ?? []
        list.push(row)
        byRecipient.set(row.to, list)
      }
      for (const [to, rows] of byRecipient) {
        this.lanes.add(to)
        void this.deliverLane(to, rows).catch(() => {}).finally(() => {
          this.lanes.delete(to)
          this.kick()
        })
      }
    } finally {
      this.ticking = false
    }
    if (!this.started) return
    if (this.tickAgain) { this.tickAgain = false; this.kick(); return }
    // Next wake-up: the next retry, or an acknowledgement deadline. Rows that are due but busy
    // (a lane is running, or they are in flight) wake the loop themselves when that ends.
    const now = this.timing.now()
    let next = this.store.nextDue() ?? Infinity
    if (next <= now) next = now + 1_000
    for (const f of this.inflight.values()) next = Math.min(next, f.sentAt + this.timing.ackTimeoutMs)
    if (next !== Infinity) {
      if (this.timer !== undefined) clearTimeout(this.timer)
      this.timer = setTimeout(() => { void this.tick() }, Math.min(Math.max(10, next - now), 60_000))
      this.timer.unref()
    }
  }

  /** Envelopes written to a recipient but not acknowledged in time go back to the retry schedule. */
  private sweepInflight (now: number, onlyTo?: string): void {
    const late: Array<{ id: Uint8Array, nextAttempt: number, status: OutboxStatus, error: string | null }> = []
    for (const [key, f] of this.inflight) {
      if (onlyTo !== undefined ? f.to !== onlyTo : now - f.sentAt < this.timing.ackTimeoutMs) continue
      this.inflight.delete(key)
      late.push({ id: f.id, nextAttempt: now + this.backoff(f.attempts), status: f.status, error: 'sent, not acknowledged' })
    }
    if (late.length > 0) this.store.recordAttempts(late, now)
  }

  private backoff (attempts: number): number {
    const ceiling = Math.min(this.timing.maxBackoffMs, this.timing.baseBackoffMs * 2 ** Math.min(attempts, 20))
    return Math.round(ceiling * (0.5 + this.timing.random() / 2))
  }

  /**
   * Delivers one recipient's due messages in sequence order: written on the direct channel
   * (acknowledgements arrive later and are matched by id), else left at its relays.
   */
  private async deliverLane (to: string, rows: OutboxRow[]): Promise<void> {
    const now = this.timing.now()
    const retry = (list: OutboxRow[], error: string): void => {
      this.store.recordAttempts(list.map(r => ({ id: r.id, nextAttempt: now + this.backoff(r.attempts), status: r.status, error })), now)
    }
    let record: TwinRecord
    try {
      record = await this.resolver.resolve(to, { refresh: rows.some(r => r.attempts > 0 && r.attempts % 3 === 0) })
    } catch (err) {
      retry(rows, (err as Error).message)
      return
    }
    let ch: Channel | undefined
    try {
      ch = await this.channel(record)
    } catch { /* not reachable directly */ }
    if (ch !== undefined) {
      try {
        for (const r of rows) {
          this.inflight.set(toHex(r.id), { id: r.id, to, sentAt: this.timing.now(), attempts: r.attempts, status: r.status })
          await ch.frames.write({ e: r.envelope })
        }
        return
      } catch {
        for (const r of rows) this.inflight.delete(toHex(r.id))
      }
    }
    // Through the recipient's relays: a mailbox keeps them until the recipient collects them.
    if (record.net.relays.length === 0) { retry(rows, 'the twin is unreachable and names no relay'); return }
    let left = rows
    let lastError = 'its relays are unreachable'
    for (const address of record.net.relays) {
      if (left.length === 0) break
      const client = this.relayClient(address)
      const replies = await Promise.allSettled(left.map(async r => await client.deposit(r.envelope)))
      const kept: OutboxRow[] = []
      const relayed: OutboxRow[] = []
      replies.forEach((rep, i) => {
        const row = left[i] as OutboxRow
        if (rep.status === 'fulfilled' && 'ok' in rep.value) relayed.push(row)
        else {
          kept.push(row)
          lastError = rep.status === 'fulfilled' ? `the relay refused it: ${'why' in rep.value ? rep.value.why : 'unknown reason'}` : (rep.reason as Error).message
        }
      })
      if (relayed.length > 0) {
        this.store.recordAttempts(relayed.map(r => ({ id: r.id, nextAttempt: now + this.timing.relayedRecheckMs, status: 'relayed' as const, error: null })), now)
        for (const r of relayed) this.emit('outbox', { id: r.id, to, status: 'relayed' })
      }
      left = kept
    }
    if (left.length > 0) retry(left, `not delivered: the twin is unreachable and ${lastError}`)
  }
}

class Channel {
  constructor (readonly frames: FrameStream, readonly twin?: string) {}
}

function idOf (bytes: Uint8Array): Uint8Array {
  try {
    return decodeEnvelope(bytes).id
  } catch {
    return new Uint8Array(0)
  }
}
