import type { Db } from '../db/index.js'
import { DepositRefused, type PutRefusal } from './errors.js'
import { DEFAULT_MAILBOX_LIMITS, type MailboxLimits, type Quota } from './limits.js'

/** An envelope the relay has checked and wants to keep. */
export interface Deposit { to: string, from: string, id: Uint8Array, expires: number, envelope: Uint8Array }

export type DepositResult =
  | { ok: true, duplicate: boolean, /** envelopes of heavier senders deleted to make room */ evicted: number }
  | { ok: false, why: PutRefusal, message: string }

export interface StoredEnvelope { id: Uint8Array, envelope: Uint8Array }
export interface WaitingEnvelope { id: Uint8Array, size: number }
interface Usage { n: number, bytes: number }

/**
 * How much of a quota one sender holds: its dominant share, scaled to bytes. An envelope counts
 * `unit = bytes / messages` bytes at least, so many small envelopes weigh as much as the count
 * they use up, and a few large ones as much as their bytes.
 */
function weight (n: number, bytes: number, unit: number): number {
  return Math.max(n * unit, bytes)
}

/** One scope of the fairness rule: one recipient's mailbox, or the whole relay. */
interface Scope {
  quota: Quota
  unit: number
  full: 'mailbox-full' | 'relay-full'
  used: () => Usage
  share: (from: string) => Usage
  heaviest: () => { from: string, weight: number } | undefined
  newest: (from: string) => { to: string, id: Uint8Array } | undefined
}

/**
 * The relay's tables: sealed envelopes waiting for their recipients, their usage counters, and
 * the twin records of the twins that subscribed (the registry).
 *
 * Limits are kept with max-min fairness among senders: when a mailbox (or the relay) is full,
 * a deposit from a sender that would still hold no more than the heaviest sender evicts that
 * sender's newest envelopes; the heaviest sender itself is refused. One identity flooding a
 * mailbox, or a few, therefore cannot keep out a sender that has little waiting.
 */
export class RelayStore {
  private readonly s
  private readonly unit: { recipient: number, total: number }
  private readonly keepOne: (m: Deposit, now: number) => DepositResult

  constructor (private readonly db: Db, readonly limits: MailboxLimits = DEFAULT_MAILBOX_LIMITS) {
    this.unit = {
      recipient: Math.ceil(limits.perRecipient.bytes / limits.perRecipient.messages),
      total: Math.ceil(limits.total.bytes / limits.total.messages)
    }
    this.s = {
      exists: db.prepare('SELECT 1 FROM relay_mailbox WHERE to_id = ? AND id = ?'),
      insert: db.prepare('INSERT INTO relay_mailbox (to_id, id, from_id, size, expires, received, envelope) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      delete: db.prepare('DELETE FROM relay_mailbox WHERE to_id = ? AND id = ? RETURNING from_id, size'),
      prune: db.prepare('DELETE FROM relay_mailbox WHERE expires <= ? RETURNING to_id, from_id, size'),
      waiting: db.prepare('SELECT id, size FROM relay_mailbox WHERE to_id = ? AND expires > ? ORDER BY received, rowid LIMIT ?'),
      envelope: db.prepare('SELECT envelope FROM relay_mailbox WHERE to_id = ? AND id = ?'),

      box: db.prepare('SELECT n, bytes FROM relay_boxes WHERE to_id = ?'),
      share: db.prepare('SELECT n, bytes FROM relay_shares WHERE to_id = ? AND from_id = ?'),
      sender: db.prepare('SELECT n, bytes FROM relay_senders WHERE from_id = ?'),
      total: db.prepare('SELECT n, bytes FROM relay_total'),
      heaviestInBox: db.prepare('SELECT from_id, weight FROM relay_shares WHERE to_id = ? ORDER BY weight DESC LIMIT 1'),
      heaviestSender: db.prepare('SELECT from_id, weight FROM relay_senders ORDER BY weight DESC LIMIT 1'),
      newestInBox: db.prepare('SELECT to_id, id FROM relay_mailbox WHERE to_id = ? AND from_id = ? ORDER BY received DESC, rowid DESC LIMIT 1'),
      newestOfSender: db.prepare('SELECT to_id, id FROM relay_mailbox WHERE from_id = ? ORDER BY received DESC, rowid DESC LIMIT 1'),

      addBox: db.prepare(`INSERT INTO relay_boxes (to_id, n, bytes) VALUES (@to, @n, @bytes)
        ON CONFLICT (to_id) DO UPDATE SET n = n + excluded.n, bytes = bytes + excluded.bytes`),
      addShare: db.prepare(`INSERT INTO relay_shares (to_id, from_id, n, bytes, weight) VALUES (@to, @from, @n, @bytes, max(@n * @unit, @bytes))
        ON CONFLICT (to_id, from_id) DO UPDATE SET n = n + excluded.n, bytes = bytes + excluded.bytes, weight = max((n + excluded.n) * @unit, bytes + excluded.bytes)`),
      addSender: db.prepare(`INSERT INTO relay_senders (from_id, n, bytes, weight) VALUES (@from, @n, @bytes, max(@n * @unit, @bytes))
        ON CONFLICT (from_id) DO UPDATE SET n = n + excluded.n, bytes = bytes + excluded.bytes, weight = max((n + excluded.n) * @unit, bytes + excluded.bytes)`),
      addTotal: db.prepare('UPDATE relay_total SET n = n + @n, bytes = bytes + @bytes'),
      dropBox: db.prepare('DELETE FROM relay_boxes WHERE to_id = ? AND n <= 0'),
      dropShare: db.prepare('DELETE FROM relay_shares WHERE to_id = ? AND from_id = ? AND n <= 0'),
      dropSender: db.prepare('DELETE FROM relay_senders WHERE from_id = ? AND n <= 0'),

      registered: db.prepare('SELECT 1 FROM relay_records WHERE id = ?'),
      getRecord: db.prepare('SELECT record FROM relay_records WHERE id = ?'),
      putRecord: db.prepare(`INSERT INTO relay_records (id, kel_seq, doc_seq, record, updated) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET kel_seq = excluded.kel_seq, doc_seq = excluded.doc_seq, record = excluded.record, updated = excluded.updated
        WHERE excluded.kel_seq > relay_records.kel_seq OR (excluded.kel_seq = relay_records.kel_seq AND excluded.doc_seq > relay_records.doc_seq)`)
    }
    // Weights depend on the configured limits, which may have changed since the last start.
    db.transaction(() => {
      db.prepare('UPDATE relay_shares SET weight = max(n * ?, bytes)').run(this.unit.recipient)
      db.prepare('UPDATE relay_senders SET weight = max(n * ?, bytes)').run(this.unit.total)
    }).immediate()
    // Called inside `deposit`'s transaction, this runs in a savepoint: a refused envelope undoes
    // the evictions made for it.
    this.keepOne = db.transaction((m: Deposit, now: number) => this.keep(m, now))
  }

  /** Keeps checked envelopes in one transaction (one fsync); each gets its own result. */
  deposit (items: Deposit[], now = Date.now()): DepositResult[] {
    return this.db.transaction(() => items.map(m => {
      try {
        return this.keepOne(m, now)
      } catch (err) {
        if (err instanceof DepositRefused) return { ok: false as const, why: err.reason, message: err.message }
        throw err
      }
    })).immediate()
  }

  private keep (m: Deposit, now: number): DepositResult {
    if (this.s.exists.get(m.to, m.id) !== undefined) return { ok: true, duplicate: true, evicted: 0 }
    const size = m.envelope.length
    const sender = this.usage(this.s.sender, m.from)
    const { perSender } = this.limits
    if (sender.n + 1 > perSender.messages || sender.bytes + size > perSender.bytes) {
      throw new DepositRefused('sender-over-limit', `the sender has ${sender.n} envelopes (${sender.bytes} bytes) waiting at this relay; the limit is ${perSender.messages} (${perSender.bytes} bytes)`)
    }
    let evicted = this.makeRoom(this.mailboxScope(m.to), m.from, size)
    evicted += this.makeRoom(this.totalScope(), m.from, size)
    this.s.insert.run(m.to, m.id, m.from, size, m.expires, now, m.envelope)
    this.account(m.to, m.from, 1, size)
    return { ok: true, duplicate: false, evicted }
  }

  /**
   * While the envelope does not fit in the scope's quota, evicts the newest envelope of the
   * heaviest sender, as long as the depositor, with this envelope, holds no more than that
   * sender does; otherwise refuses. Each step is an indexed lookup.
   */
  private makeRoom (scope: Scope, from: string, size: number): number {
    let evicted = 0
    while (true) {
      const used = scope.used()
      if (used.n + 1 <= scope.quota.messages && used.bytes + size <= scope.quota.bytes) return evicted
      const heaviest = scope.heaviest()
      const mine = scope.share(from)
      const after = weight(mine.n + 1, mine.bytes + size, scope.unit)
      const victim = heaviest === undefined || heaviest.from === from || after > heaviest.weight ? undefined : scope.newest(heaviest.from)
      if (victim === undefined) {
        throw new DepositRefused(scope.full, scope.full === 'mailbox-full'
          ? `the recipient's mailbox is full (${used.n} envelopes, ${used.bytes} bytes) and this sender holds as much of it as any other`
          : `the relay is full (${used.n} envelopes, ${used.bytes} bytes) and this sender holds as much of it as any other`)
      }
      this.delete(victim.to, victim.id)
      evicted++
    }
  }

  private mailboxScope (to: string): Scope {
    return {
      quota: this.limits.perRecipient,
      unit: this.unit.recipient,
      full: 'mailbox-full',
      used: () => this.usage(this.s.box, to),
      share: from => this.usage(this.s.share, to, from),
      heaviest: () => heaviestRow(this.s.heaviestInBox.get(to)),
      newest: from => newestRow(this.s.newestInBox.get(to, from))
    }
  }

  private totalScope (): Scope {
    return {
      quota: this.limits.total,
      unit: this.unit.total,
      full: 'relay-full',
      used: () => this.usage(this.s.total),
      share: from => this.usage(this.s.sender, from),
      heaviest: () => heaviestRow(this.s.heaviestSender.get()),
      newest: from => newestRow(this.s.newestOfSender.get(from))
    }
  }

  private usage (statement: { get: (...args: unknown[]) => unknown }, ...args: unknown[]): Usage {
    return (statement.get(...args) as Usage | undefined) ?? { n: 0, bytes: 0 }
  }

  /** Adds (or with negative numbers removes) envelopes to every counter they count in. */
  private account (to: string, from: string, n: number, bytes: number): void {
    this.s.addBox.run({ to, n, bytes })
    this.s.addShare.run({ to, from, n, bytes, unit: this.unit.recipient })
    this.s.addSender.run({ from, n, bytes, unit: this.unit.total })
    this.s.addTotal.run({ n, bytes })
    if (n < 0) {
      this.s.dropBox.run(to)
      this.s.dropShare.run(to, from)
      this.s.dropSender.run(from)
    }
  }

  private delete (to: string, id: Uint8Array): void {
    const r = this.s.delete.get(to, id) as { from_id: string, size: number } | undefined
    if (r !== undefined) this.account(to, r.from_id, -1, -r.size)
  }

  /** The ids and sizes of the envelopes waiting for `to`, oldest first (cheap: no envelope is read). */
  waiting (to: string, limit: number, now = Date.now()): WaitingEnvelope[] {
    return (this.s.waiting.all(to, now, limit) as Array<{ id: Uint8Array, size: number }>).map(r => ({ id: new Uint8Array(r.id), size: r.size }))
  }

  /** The envelopes with these ids that are still waiting for `to`, in the order given. */
  envelopes (to: string, ids: Uint8Array[]): StoredEnvelope[] {
    const found: StoredEnvelope[] = []
    for (const id of ids) {
      const r = this.s.envelope.get(to, id) as { envelope: Uint8Array } | undefined
      if (r !== undefined) found.push({ id, envelope: new Uint8Array(r.envelope) })
    }
    return found
  }

  /** Deletes envelopes the recipient acknowledged. */
  remove (to: string, ids: Uint8Array[]): void {
    this.db.transaction(() => { for (const id of ids) this.delete(to, id) }).immediate()
  }

  /** Deletes expired envelopes; returns how many. */
  prune (now = Date.now()): number {
    return this.db.transaction(() => {
      const gone = this.s.prune.all(now) as Array<{ to_id: string, from_id: string, size: number }>
      for (const r of gone) this.account(r.to_id, r.from_id, -1, -r.size)
      return gone.length
    }).immediate()
  }

  /** Envelopes waiting in all. */
  total (): number {
    return this.usage(this.s.total).n
  }

  /** What one mailbox holds, and what one sender holds in it (for tests and status). */
  mailboxUsage (to: string, from?: string): Usage {
    return from === undefined ? this.usage(this.s.box, to) : this.usage(this.s.share, to, from)
  }

  /** True if the twin has subscribed here at least once: the relay keeps mail only for those. */
  isRegistered (id: string): boolean {
    return this.s.registered.get(id) !== undefined
  }

  /** Keeps a twin's record if it is newer than the one held (longer log, then higher document sequence). */
  putRecord (id: string, kelSeq: number, docSeq: number, record: Uint8Array, now = Date.now()): void {
    this.s.putRecord.run(id, kelSeq, docSeq, record, now)
  }

  getRecord (id: string): Uint8Array | undefined {
    const r = this.s.getRecord.get(id) as { record: Uint8Array } | undefined
    return r === undefined ? undefined : new Uint8Array(r.record)
  }
}

function heaviestRow (row: unknown): { from: string, weight: number } | undefined {
  const r = row as { from_id: string, weight: number } | undefined
  return r === undefined ? undefined : { from: r.from_id, weight: r.weight }
}

function newestRow (row: unknown): { to: string, id: Uint8Array } | undefined {
  const r = row as { to_id: string, id: Uint8Array } | undefined
  return r === undefined ? undefined : { to: r.to_id, id: new Uint8Array(r.id) }
}
