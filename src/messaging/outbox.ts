import { toHex } from '../wire/index.js'
import type { Resolver, TwinRecord } from '../net/index.js'
import type { Channel, Channels, RelayMailbox } from './channels.js'
import { FINAL_REASONS, type RejectReason } from './errors.js'
import type { MessageStore, OutboxRow, OutboxStatus } from './store.js'
import { backoff, type Cancel, type Timing } from './timing.js'

/** A change of an outbox row's status, as the `outbox` event reports it. */
export interface OutboxChange { id?: Uint8Array, to?: string, status: OutboxStatus }

/** An envelope written on a direct channel, waiting for its acknowledgement. */
interface InFlight { id: Uint8Array, to: string, sentAt: number, attempts: number, status: OutboxStatus }

/** A new event for the outbox; `seal` makes its envelope once the per-pair sequence is known. */
export interface NewEvent {
  id: Uint8Array
  to: string
  verb: string
  payload: unknown
  seal: (seq: number) => { bytes: Uint8Array, created: number, expires: number }
}

/**
 * The outbox scheduler: delivers the durable outbox's events until each is acknowledged,
 * refused for good or expired. The states and what moves a row between them are drawn in
 * docs/ARCHITECTURE.md ("The outbox"). The rows live in SQLite (`MessageStore`); this class
 * keeps only what is true while the process runs: which envelopes were written on a channel
 * and await their ack (`inflight`), and which recipients are being delivered to (`lanes`).
 *
 * One loop (`tick`) runs at a time. Each tick expires old rows, puts unacknowledged writes back
 * on the schedule, and starts one lane per recipient with due rows; then it sleeps until the
 * next retry or acknowledgement deadline, or until `kick` wakes it.
 */
export class OutboxScheduler {
  private readonly inflight = new Map<string, InFlight>()
  private readonly lanes = new Set<string>()
  private cancelTimer: Cancel | undefined
  private ticking = false
  private tickAgain = false
  private running = false

  constructor (
    private readonly store: MessageStore,
    private readonly resolver: Resolver,
    private readonly channels: Channels,
    private readonly relayClient: (address: string) => RelayMailbox,
    private readonly timing: Timing,
    private readonly changed: (change: OutboxChange) => void
  ) {}

  start (): void {
    this.running = true
    this.kick()
  }

  stop (): void {
    this.running = false
    this.cancelTimer?.()
  }

  /** Queues an event durably with the next per-pair sequence and starts delivering it. */
  enqueue (event: NewEvent): OutboxRow {
    const row = this.store.queue({ id: event.id, to: event.to, kind: 'event', verb: event.verb, payload: event.payload, makeEnvelope: event.seal })
    this.changed({ id: row.id, to: row.to, status: row.status })
    this.kick()
    return row
  }

  /** Wakes the loop now. */
  kick (): void {
    if (!this.running) return
    this.cancelTimer?.()
    this.cancelTimer = this.timing.schedule(() => { void this.tick() }, 0)
  }

  /**
   * A recipient is back (it connected): its queued rows are due now. Its relayed rows are due
   * once an ack could have come back (`ackTimeoutMs`): its relays push them to it now, and
   * offering them directly at once as well would make it receive each twice. Those not
   * acknowledged by then (evicted from a full mailbox, say) go direct.
   */
  wake (twin: string): void {
    const now = this.timing.now()
    if (this.store.wake(twin, now, now + this.timing.ackTimeoutMs) > 0) this.kick()
  }

  /** Every queued row is due now (a relay is reachable again). */
  wakeAll (): void {
    if (this.store.wakeAll(this.timing.now()) > 0) this.kick()
  }

  /** `from` acknowledged these ids: delivered. */
  acknowledged (from: string, ids: Uint8Array[]): void {
    const changed = this.store.markDelivered(from, ids, this.timing.now())
    for (const id of ids) {
      this.inflight.delete(toHex(id))
      if (changed > 0) this.changed({ id, to: from, status: 'delivered' })
    }
  }

  /** The recipient refused envelope `id`: failed if retrying cannot help, else retried on schedule. */
  refused (id: Uint8Array, why: string, message: string): void {
    if (FINAL_REASONS.has(why as RejectReason)) {
      this.store.fail(id, `refused by the recipient: ${message === '' ? why : message}`, this.timing.now())
      this.changed({ id, status: 'failed' })
    }
    this.inflight.delete(toHex(id))
  }

  /** The channel to `twin` closed: what was written on it and not acknowledged is due again now. */
  channelClosed (twin: string): void {
    if (!this.running) return
    this.sweepInflight(this.timing.now(), twin)
    this.kick()
  }

  private async tick (): Promise<void> {
    if (this.ticking) { this.tickAgain = true; return }
    this.ticking = true
    try {
      const now = this.timing.now()
      if (this.store.expireOld(now) > 0) this.changed({ status: 'expired' })
      this.sweepInflight(now)
      for (const [to, rows] of this.dueByRecipient(now)) {
        this.lanes.add(to)
        this.deliverLane(to, rows)
          .catch(() => { /* only the database can fail here; the rows stay due and the next tick tries again */ })
          .finally(() => {
            this.lanes.delete(to)
            this.kick()
          })
      }
    } finally {
      this.ticking = false
    }
    if (!this.running) return
    if (this.tickAgain) { this.tickAgain = false; this.kick(); return }
    this.sleep()
  }

  /** Due rows by recipient, leaving out recipients whose lane runs and rows awaiting their ack. */
  private dueByRecipient (now: number): Map<string, OutboxRow[]> {
    const byRecipient = new Map<string, OutboxRow[]>()
    for (const row of this.store.due(now)) {
      if (this.lanes.has(row.to) || this.inflight.has(toHex(row.id))) continue
      const list = byRecipient.get(row.to) ?? []
      list.push(row)
      byRecipient.set(row.to, list)
    }
    return byRecipient
  }

  /**
   * Sleeps until the next retry or acknowledgement deadline. Rows that are due but busy (a lane
   * runs, or they are in flight) wake the loop themselves when that ends.
   */
  private sleep (): void {
    const now = this.timing.now()
    let next = this.store.nextDue() ?? Infinity
    if (next <= now) next = now + 1_000
    for (const f of this.inflight.values()) next = Math.min(next, f.sentAt + this.timing.ackTimeoutMs)
    if (next === Infinity) return
    this.cancelTimer?.()
    this.cancelTimer = this.timing.schedule(() => { void this.tick() }, Math.min(Math.max(10, next - now), 60_000))
  }

  /** Envelopes written to a recipient but not acknowledged in time go back to the retry schedule. */
  private sweepInflight (now: number, onlyTo?: string): void {
    const late: Array<{ id: Uint8Array, nextAttempt: number, status: OutboxStatus, error: string | null }> = []
    for (const [key, f] of this.inflight) {
      if (onlyTo !== undefined ? f.to !== onlyTo : now - f.sentAt < this.timing.ackTimeoutMs) continue
      this.inflight.delete(key)
      late.push({ id: f.id, nextAttempt: now + backoff(this.timing, f.attempts), status: f.status, error: 'sent, not acknowledged' })
    }
    if (late.length > 0) this.store.recordAttempts(late, now)
  }

  /**
   * Delivers one recipient's due rows in sequence order: written on the direct channel
   * (acknowledgements arrive later and are matched by id), else left at its relays.
   */
  private async deliverLane (to: string, rows: OutboxRow[]): Promise<void> {
    const now = this.timing.now()
    let record: TwinRecord
    try {
      record = await this.resolver.resolve(to, { refresh: rows.some(r => r.attempts > 0 && r.attempts % 3 === 0) })
    } catch (err) {
      this.retry(rows, (err as Error).message, now)
      return
    }
    const ch = await this.channels.get(record).catch(() => undefined) // not reachable directly: the relays are next
    if (ch !== undefined && await this.writeDirect(ch, to, rows)) return
    await this.leaveAtRelays(record, rows, now)
  }

  /** Writes the rows on the channel; false (nothing left in flight) if the channel broke. */
  private async writeDirect (ch: Channel, to: string, rows: OutboxRow[]): Promise<boolean> {
    try {
      for (const r of rows) {
        this.inflight.set(toHex(r.id), { id: r.id, to, sentAt: this.timing.now(), attempts: r.attempts, status: r.status })
        await ch.frames.write({ e: r.envelope })
      }
      return true
    } catch {
      for (const r of rows) this.inflight.delete(toHex(r.id))
      return false
    }
  }

  /** Leaves the rows at the recipient's relays, whose mailboxes keep them until it collects them. */
  private async leaveAtRelays (record: TwinRecord, rows: OutboxRow[], now: number): Promise<void> {
    if (record.net.relays.length === 0) { this.retry(rows, 'the twin is unreachable and names no relay', now); return }
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
        for (const r of relayed) this.changed({ id: r.id, to: record.state.id, status: 'relayed' })
      }
      left = kept
    }
    if (left.length > 0) this.retry(left, `not delivered: the twin is unreachable and ${lastError}`, now)
  }

  private retry (rows: OutboxRow[], error: string, now: number): void {
    this.store.recordAttempts(rows.map(r => ({ id: r.id, nextAttempt: now + backoff(this.timing, r.attempts), status: r.status, error })), now)
  }
}
