import type { Connection, Stream } from '@libp2p/interface'
import { toHex } from '../wire/index.js'
import { FrameStream, Batcher } from '../net/index.js'
import type { Acks } from './acks.js'
import type { Reply } from './channels.js'
import { decodeEnvelope, type Body, type EnvelopeHeader } from './envelope.js'
import { EnvelopeRejected, FINAL_REASONS, type RejectReason } from './errors.js'
import type { Opened, Opener } from './opener.js'
import type { MessageStore, NewInbound } from './store.js'
import { Strikes } from './strikes.js'
import type { Timing } from './timing.js'

/** Envelope bytes one inbound stream may have in the receive pipeline at once. */
export const MAX_WORKING_BYTES_PER_STREAM = 1024 * 1024
/** Replies queued on one inbound stream before the twin stops reading from it. */
export const MAX_QUEUED_REPLIES = 256
/**
 * Pushes of one envelope by a relay, refused each time because its sender cannot be resolved,
 * after which the twin gives up on it: acknowledged, so the relay deletes it instead of keeping
 * junk from senders nobody can find until it expires.
 */
const UNKNOWN_SENDER_PUSHES = 3

interface Inbound {
  bytes: Uint8Array
  /** Writes a frame back on the stream the envelope came in on (direct deliveries and replies). */
  reply?: Reply | undefined
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

/** Where opened envelopes other than events go, and what the receiver reports. */
export interface ReceiverOutputs {
  acknowledged: (from: string, ids: Uint8Array[]) => void
  request: (header: EnvelopeHeader, body: Body, reply: Reply | undefined) => void
  response: (header: EnvelopeHeader, body: Body) => void
  message: (m: NewInbound & { arrival: number }) => void
  rejected: (r: { from: string | undefined, reason: RejectReason, message: string }) => void
  /** A peer opened a stream to this twin (it is online: what waits for it can go now). */
  peerSeen: (peer: string) => void
}

/**
 * The receive side: serves inbound streams of the direct protocol, takes envelopes pushed by
 * this twin's relays and replies on its own channels, and runs each batch through one pipeline:
 * check, verify and open each envelope (`Opener`), store all new events in one transaction, in
 * the order they arrived, acknowledge them (duplicates too), and hand acks, requests and
 * responses on.
 */
export class Receiver {
  private readonly batcher: Batcher<Inbound, InboundResult>
  private readonly unresolvedPushes = new Strikes()

  constructor (
    private readonly opener: Opener,
    private readonly store: MessageStore,
    private readonly acks: Acks,
    private readonly timing: Timing,
    private readonly out: ReceiverOutputs
  ) {
    this.batcher = new Batcher(items => this.process(items))
  }

  /** Serves one inbound stream of the direct protocol: envelopes in, acks and refusals out. */
  async serve (stream: Stream, connection: Connection): Promise<void> {
    const frames = new FrameStream(stream, { connection: connection.id })
    const reply: Reply = frame => { frames.write(frame).catch(() => { frames.abort('write failed') }) }
    this.out.peerSeen(connection.remotePeer.toString())
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
        const job: Promise<void> = this.batcher.push({ bytes: frame.e, reply }).then(r => {
          if (!r.ok) reply({ r: r.id ?? null, why: r.reason ?? 'malformed', msg: r.message ?? '' })
        }, () => {
          // The pipeline itself failed (this twin's fault, not final): the sender retries.
          reply({ r: null, why: 'internal', msg: 'the recipient could not process the envelope' })
        }).finally(() => { workingBytes -= size; working.delete(job) })
        working.add(job)
      }
      await frames.close()
    } catch {
      // A bad frame, a stalled one, or a broken stream: this stream ends; the peer may open another.
      frames.abort('protocol error')
    }
  }

  /** An envelope the other twin wrote back on one of this twin's channels. */
  fromChannel (bytes: Uint8Array, reply: Reply): void {
    // Refusals of replies are not reported back: acks, responses and errors are never answered.
    this.batcher.push({ bytes, reply }).catch(() => { /* the other side's sender retries what matters */ })
  }

  /** Handles envelopes pushed by one of this twin's relays; returns the ids the relay may delete. */
  async fromMailbox (envelopes: Uint8Array[]): Promise<Uint8Array[]> {
    const results = await Promise.all(envelopes.map(async bytes => await this.batcher.push({ bytes })))
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

  /** The pipeline for one batch: open each, then store all events in one transaction. */
  private async process (items: Inbound[]): Promise<InboundResult[]> {
    const now = this.timing.now()
    const results: InboundResult[] = new Array(items.length)
    const opened: Array<Opened & { item: Inbound, index: number }> = []
    await Promise.all(items.map(async (item, index) => {
      let id: Uint8Array | undefined
      let from: string | undefined
      try {
        const o = await this.opener.open(item.bytes, now, (i, f) => { id = i; from = f })
        opened.push({ ...o, item, index })
      } catch (err) {
        // Anything but a refusal is this twin's own failure: not final, so the sender or relay tries again.
        const reason: RejectReason = err instanceof EnvelopeRejected ? err.reason : 'internal'
        results[index] = { id, ok: false, final: FINAL_REASONS.has(reason), reason, message: (err as Error).message }
        this.out.rejected({ from, reason, message: (err as Error).message })
      }
    }))

    // Checks finish in any order (a sender's record may need a network lookup): store in the
    // order the envelopes arrived, so arrival order is delivery order.
    opened.sort((a, b) => a.index - b.index)
    this.storeEvents(opened.filter(o => o.header.kind === 'event'), now)
    for (const o of opened) {
      results[o.index] = { id: o.header.id, ok: true, final: true }
      if (o.header.kind === 'ack') this.out.acknowledged(o.header.from, (o.body as { ids: Uint8Array[] }).ids)
      else if (o.header.kind === 'request') this.out.request(o.header, o.body, o.item.reply)
      else if (o.header.kind === 'response' || o.header.kind === 'error') this.out.response(o.header, o.body)
    }
    return results
  }

  /** Stores new events in one transaction, then acknowledges all of them, duplicates included. */
  private storeEvents (events: Array<Opened & { item: Inbound }>, now: number): void {
    if (events.length === 0) return
    const fresh = this.store.storeInbound(events.map(o => {
      const b = o.body as { verb: string, payload: unknown }
      return { from: o.header.from, id: o.header.id, seq: o.header.seq, verb: b.verb, payload: b.payload, sentAt: o.header.created, expires: o.header.expires }
    }), now)
    for (const m of fresh) this.out.message(m)
    this.acks.acknowledge(events.map(o => ({ from: o.header.from, id: o.header.id, reply: o.item.reply })))
  }
}

/** The id of an envelope that was refused before its id was known, if it has one. */
function idOf (bytes: Uint8Array): Uint8Array {
  try {
    return decodeEnvelope(bytes).id
  } catch {
    return new Uint8Array(0) // not an envelope at all: nothing a relay could delete by id
  }
}
