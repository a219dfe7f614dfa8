import type { Resolver } from '../net/index.js'
import { MAX_ACK_IDS } from './body.js'
import type { Channels, Reply } from './channels.js'
import type { Sealer } from './sealer.js'
import { backoff, type Cancel, type Timing } from './timing.js'

/** Lifetime of an ack envelope: long enough to wait in a relay's mailbox for a restarting sender. */
const ACK_TTL_MS = 24 * 3600_000
/** Times an acknowledgement that could not be delivered is tried again (with backoff, about a minute in all). */
const ACK_RETRIES = 6

/** A stored (or duplicate) event to acknowledge, and the stream it came on if it came direct. */
export interface ToAcknowledge { from: string, id: Uint8Array, reply?: Reply | undefined }

/**
 * Acknowledges stored events to their senders. An event that came on a direct stream is
 * acknowledged on that stream at once, all of a batch in one ack. One that came through a
 * mailbox is acknowledged directly to its sender, else through the sender's relays; those are
 * gathered for `ackGatherMs` into one ack per sender, and an ack that cannot be delivered now
 * (the relay is restarting) is tried again a few times with backoff, since without it the
 * sender would wait for its next re-offer of relayed messages (`relayedRecheckMs`) to learn
 * they arrived.
 */
export class Acks {
  private readonly gathering = new Map<string, Uint8Array[]>()
  private readonly timers = new Set<{ cancel?: Cancel }>()
  private running = false

  constructor (
    private readonly resolver: Resolver,
    private readonly sealer: Sealer,
    private readonly channels: Channels,
    private readonly timing: Timing
  ) {}

  start (): void {
    this.running = true
  }

  /** Cancels pending flushes and retries: the senders re-offer what was not acknowledged. */
  stop (): void {
    this.running = false
    for (const t of this.timers) t.cancel?.()
    this.timers.clear()
    this.gathering.clear()
  }

  acknowledge (events: ToAcknowledge[]): void {
    const direct = new Map<Reply, { from: string, ids: Uint8Array[] }>()
    for (const e of events) {
      if (e.reply !== undefined) {
        const d = direct.get(e.reply) ?? { from: e.from, ids: [] }
        d.ids.push(e.id)
        direct.set(e.reply, d)
      } else {
        const list = this.gathering.get(e.from) ?? []
        if (list.length === 0) this.later(() => { this.flush(e.from, this.take(e.from), 0) }, this.timing.ackGatherMs)
        list.push(e.id)
        this.gathering.set(e.from, list)
      }
    }
    for (const [reply, { from, ids }] of direct) {
      const record = this.resolver.cached(from)
      if (record === undefined) continue // checked moments ago; without it the sender simply retries
      for (let i = 0; i < ids.length; i += MAX_ACK_IDS) {
        reply({ e: this.sealer.seal(record, 'ack', { ids: ids.slice(i, i + MAX_ACK_IDS) }, { ttlMs: ACK_TTL_MS }).bytes })
      }
    }
  }

  private flush (from: string, ids: Uint8Array[], attempt: number): void {
    const record = this.resolver.cached(from)
    if (record === undefined || ids.length === 0 || !this.running) return
    for (let i = 0; i < ids.length; i += MAX_ACK_IDS) {
      const part = ids.slice(i, i + MAX_ACK_IDS)
      const sealed = this.sealer.seal(record, 'ack', { ids: part }, { ttlMs: ACK_TTL_MS })
      this.channels.sendOne(record, sealed).catch(() => {
        if (attempt >= ACK_RETRIES) return // the sender re-offers the message later, and it is acknowledged again
        this.later(() => { this.flush(from, part, attempt + 1) }, backoff(this.timing, attempt))
      })
    }
  }

  private take (from: string): Uint8Array[] {
    const ids = this.gathering.get(from) ?? []
    this.gathering.delete(from)
    return ids
  }

  private later (fn: () => void, ms: number): void {
    const timer: { cancel?: Cancel } = {}
    this.timers.add(timer)
    timer.cancel = this.timing.schedule(() => { this.timers.delete(timer); fn() }, ms)
  }
}
