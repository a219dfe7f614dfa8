import type { Connection, Stream } from '@libp2p/interface'
import { z } from 'zod'
import { bytesSchema, toHex } from '../wire/index.js'
import { FrameStream, MAX_FRAME_BYTES, Batcher, decodeRecord, MAX_RECORD_BYTES, type TwinLibp2p } from '../net/index.js'
import type { Deposit, DepositResult, RelayStore, StoredEnvelope, WaitingEnvelope } from './store.js'
import { fillPushFrame, PUSH_MAX_ENVELOPES } from './push-frame.js'
import { DepositCheck } from './deposit-check.js'
import { SenderRecords } from './sender-records.js'
import { ENVELOPE_VERSIONS } from '../messaging/index.js'

/** The relay's mailbox protocol; see docs/PROTOCOL.md, "Mailbox". */
export const MAILBOX_PROTOCOL = '/twin/mailbox/1.0.0'

/** Largest request: an envelope at its limit with its sender's record attached. */
export const MAX_MAILBOX_REQUEST_BYTES = MAX_FRAME_BYTES + MAX_RECORD_BYTES
/** Streams one connection may open to the mailbox: a twin uses two (requests, subscription). */
const MAX_INBOUND_STREAMS = 8
/** Requests on one stream whose replies are not written yet, before the relay stops reading it. */
const MAX_PENDING_REPLIES = 64
/** An envelope pushed but not acknowledged within this time is pushed again. */
const RESEND_MS = 30_000
/** Pushed and not yet acknowledged, per subscriber: the relay waits for acks beyond this. */
const MAX_INFLIGHT_ENVELOPES = 4 * PUSH_MAX_ENVELOPES
const MAX_INFLIGHT_BYTES = 4 * MAX_FRAME_BYTES

const requestSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('put'), env: bytesSchema(), rec: bytesSchema().refine(b => b.length <= MAX_RECORD_BYTES, 'record too large').optional() }),
  z.strictObject({ op: z.literal('get'), id: z.string().max(100) }),
  z.strictObject({ op: z.literal('sub'), rec: bytesSchema() }),
  z.strictObject({ op: z.literal('ack'), ids: z.array(bytesSchema(16)).max(4096) })
])
type Request = z.infer<typeof requestSchema>

interface Subscription {
  id: string
  frames: FrameStream
  /** Pushed, not yet acknowledged: hex id to the time it was pushed and its size. */
  inflight: Map<string, { at: number, size: number }>
  inflightBytes: number
  pumping: boolean
  again: boolean
}

/**
 * A relay's mailbox: keeps sealed envelopes for the twins that subscribed to it, from senders
 * whose signature it checked, within its limits, until the recipient collects them or they
 * expire (or a lighter sender's deposit evicts them from a full mailbox); pushes them at once to
 * a twin that is subscribed, and serves the twin records it knows. It never sees plaintext:
 * envelopes stay sealed.
 */
export class MailboxService {
  private readonly subs = new Map<string, Subscription>()
  private readonly deposits: Batcher<Deposit, DepositResult>
  private readonly senders = new SenderRecords()
  private readonly checks: DepositCheck
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly node: TwinLibp2p, private readonly store: RelayStore) {
    this.deposits = new Batcher(items => this.store.deposit(items))
    this.checks = new DepositCheck(store, this.senders)
  }

  async start (): Promise<void> {
    await this.node.handle(MAILBOX_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { maxInboundStreams: MAX_INBOUND_STREAMS })
    this.timer = setInterval(() => { this.housekeeping() }, 10_000)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    await this.node.unhandle(MAILBOX_PROTOCOL)
    for (const sub of this.subs.values()) sub.frames.abort('relay stopping')
    this.subs.clear()
  }

  /** Number of envelopes waiting, for status output. */
  waiting (): number {
    return this.store.total()
  }

  private housekeeping (): void {
    this.store.prune()
    const now = Date.now()
    for (const sub of this.subs.values()) {
      let stale = false
      for (const [k, f] of sub.inflight) if (now - f.at > RESEND_MS) { settle(sub, k); stale = true }
      if (stale) void this.pump(sub)
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const frames = new FrameStream(stream, { connection: connection.id, maxFrameBytes: MAX_MAILBOX_REQUEST_BYTES })
    let sub: Subscription | undefined
    let replies: Promise<void> = Promise.resolve()
    let pending = 0
    const reply = (value: Promise<unknown> | unknown): void => {
      const p = Promise.resolve(value)
      pending++
      replies = replies.then(async () => { await frames.write(await p) }).catch(() => { frames.abort('write failed') }).finally(() => { pending-- })
    }
    try {
      while (true) {
        // A client that does not read its replies (or sends faster than deposits are kept) waits.
        if (pending > MAX_PENDING_REPLIES) await replies
        const frame = await frames.read()
        if (frame === undefined) break
        const parsed = requestSchema.safeParse(frame)
        if (!parsed.success) { reply({ err: 'malformed request' }); continue }
        const req: Request = parsed.data
        switch (req.op) {
          case 'put': reply(this.put(req.env, req.rec)); break
          // Records of subscribers and of verified senders: the recipient may need the sender's.
          case 'get': reply({ rec: this.senders.get(req.id)?.bytes ?? this.store.getRecord(req.id) ?? null }); break
          case 'sub': {
            const r = this.subscribe(req.rec, frames, connection)
            if ('err' in r) { reply(r); break }
            sub = r.sub
            // The envelope versions this relay keeps: a twin advertises only versions its relays keep.
            reply({ ok: true, envelopes: ENVELOPE_VERSIONS })
            await replies
            void this.pump(sub)
            break
          }
          case 'ack':
            if (sub === undefined) { reply({ err: 'ack without a subscription' }); break }
            this.store.remove(sub.id, req.ids)
            for (const id of req.ids) settle(sub, toHex(id))
            void this.pump(sub)
            break
        }
      }
      await replies
      await frames.close()
    } catch {
      frames.abort('protocol error')
    } finally {
      if (sub !== undefined && this.subs.get(sub.id) === sub) this.subs.delete(sub.id)
    }
  }

  /** Checks an envelope and keeps it: the reply is `{ ok: id }` or `{ no: id, why, msg }`. */
  private async put (bytes: Uint8Array, rec: Uint8Array | undefined): Promise<unknown> {
    let id: Uint8Array | null = null
    try {
      const checked = this.checks.check(bytes, rec)
      if (!('ok' in checked)) return checked
      id = checked.ok.id
      const r = await this.deposits.push(checked.ok)
      if (!r.ok) return { no: id, why: r.why, msg: r.message }
      const sub = this.subs.get(checked.ok.to)
      if (sub !== undefined) void this.pump(sub)
      return { ok: id }
    } catch {
      // The relay's own failure (its database): not the sender's fault, so it tries again later.
      return { no: id, why: 'internal', msg: 'the relay could not keep the envelope now; try again later' }
    }
  }

  /** A twin subscribes by presenting its record; the connection must come from the record's peer. */
  private subscribe (recordBytes: Uint8Array, frames: FrameStream, connection: Connection): { sub: Subscription } | { err: string } {
    let record
    try {
      record = decodeRecord(recordBytes)
    } catch (err) {
      return { err: `invalid twin record: ${(err as Error).message}` }
    }
    if (record.net.peer !== connection.remotePeer.toString()) return { err: 'the twin record names another peer than this connection' }
    this.store.putRecord(record.state.id, record.state.sequence, record.doc.seq, recordBytes)
    this.senders.add(record, recordBytes)
    const old = this.subs.get(record.state.id)
    if (old !== undefined && old.frames !== frames) old.frames.abort('replaced by a newer subscription')
    const sub: Subscription = { id: record.state.id, frames, inflight: new Map(), inflightBytes: 0, pumping: false, again: false }
    this.subs.set(sub.id, sub)
    return { sub }
  }

  /**
   * Pushes waiting envelopes to a subscriber, each frame filled up to the frame limit and never
   * past it, without repeating in-flight ones.
   */
  private async pump (sub: Subscription): Promise<void> {
    if (sub.pumping) { sub.again = true; return }
    sub.pumping = true
    try {
      do {
        sub.again = false
        const batch = this.nextPush(sub)
        if (batch.length === 0) break
        const now = Date.now()
        for (const e of batch) {
          sub.inflight.set(toHex(e.id), { at: now, size: e.envelope.length })
          sub.inflightBytes += e.envelope.length
        }
        await sub.frames.write({ env: batch.map(e => e.envelope) })
        sub.again = true
      } while (sub.again && sub.inflight.size < MAX_INFLIGHT_ENVELOPES && sub.inflightBytes < MAX_INFLIGHT_BYTES && !sub.frames.closed)
    } catch {
      sub.frames.abort('push failed')
    } finally {
      sub.pumping = false
    }
  }

  /** The next frame's envelopes: chosen by size first, then read from disk. */
  private nextPush (sub: Subscription): StoredEnvelope[] {
    const waiting = this.store.waiting(sub.id, PUSH_MAX_ENVELOPES + sub.inflight.size).filter(e => !sub.inflight.has(toHex(e.id)))
    if (waiting.length === 0) return []
    const count = fillPushFrame(waiting.map(e => e.size))
    if (count === 0) {
      // Deposits never keep an envelope that cannot be pushed alone; one that got here anyway
      // (a smaller frame limit than when it was kept) would block the whole mailbox.
      this.store.remove(sub.id, [(waiting[0] as WaitingEnvelope).id])
      return this.nextPush(sub)
    }
    return this.store.envelopes(sub.id, waiting.slice(0, count).map(e => e.id))
  }
}

/** An envelope left the in-flight set (acknowledged, or due to be pushed again). */
function settle (sub: Subscription, key: string): void {
  const f = sub.inflight.get(key)
  if (f === undefined) return
  sub.inflight.delete(key)
  sub.inflightBytes -= f.size
}
