import type { Db } from '../db/index.js'

export interface MailboxLimits {
  /** Most envelopes kept for one recipient. */
  maxMessages: number
  /** Most bytes kept for one recipient. */
  maxBytes: number
}

export const DEFAULT_MAILBOX_LIMITS: MailboxLimits = { maxMessages: 100_000, maxBytes: 512 * 1024 * 1024 }

export interface StoredEnvelope { id: Uint8Array, envelope: Uint8Array }
export interface WaitingEnvelope { id: Uint8Array, size: number }

export type DepositResult = { ok: true, duplicate: boolean } | { ok: false, why: 'mailbox-full' }

/** The relay's tables: sealed envelopes waiting for their recipients, and twin records. */
export class RelayStore {
  private readonly s

  constructor (private readonly db: Db, private readonly limits: MailboxLimits = DEFAULT_MAILBOX_LIMITS) {
    this.s = {
      usage: db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM relay_mailbox WHERE to_id = ?'),
      insert: db.prepare(`INSERT INTO relay_mailbox (to_id, id, from_id, size, expires, received, envelope) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (to_id, id) DO NOTHING`),
      waiting: db.prepare('SELECT id, size FROM relay_mailbox WHERE to_id = ? AND expires > ? ORDER BY received, rowid LIMIT ?'),
      envelope: db.prepare('SELECT envelope FROM relay_mailbox WHERE to_id = ? AND id = ?'),
      remove: db.prepare('DELETE FROM relay_mailbox WHERE to_id = ? AND id = ?'),
      prune: db.prepare('DELETE FROM relay_mailbox WHERE expires <= ?'),
      total: db.prepare('SELECT count(*) AS n FROM relay_mailbox'),
      getRecord: db.prepare('SELECT kel_seq, doc_seq, record FROM relay_records WHERE id = ?'),
      putRecord: db.prepare(`INSERT INTO relay_records (id, kel_seq, doc_seq, record, updated) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET kel_seq = excluded.kel_seq, doc_seq = excluded.doc_seq, record = excluded.record, updated = excluded.updated
        WHERE excluded.kel_seq > relay_records.kel_seq OR (excluded.kel_seq = relay_records.kel_seq AND excluded.doc_seq > relay_records.doc_seq)`)
    }
  }

  /** Stores envelopes in one transaction; each is refused only if its recipient's mailbox is full. */
  deposit (items: Array<{ to: string, from: string, id: Uint8Array, expires: number, envelope: Uint8Array }>, now = Date.now()): DepositResult[] {
    return this.db.transaction(() => items.map(m => {
      const usage = this.s.usage.get(m.to) as { n: number, bytes: number }
      if (usage.n + 1 > this.limits.maxMessages || usage.bytes + m.envelope.length > this.limits.maxBytes) return { ok: false as const, why: 'mailbox-full' as const }
      const changes = this.s.insert.run(m.to, m.id, m.from, m.envelope.length, m.expires, now, m.envelope).changes
      return { ok: true as const, duplicate: changes === 0 }
    })).immediate()
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

  remove (to: string, ids: Uint8Array[]): void {
    this.db.transaction(() => { for (const id of ids) this.s.remove.run(to, id) }).immediate()
  }

  prune (now = Date.now()): number {
    return this.s.prune.run(now).changes
  }

  total (): number {
    return (this.s.total.get() as { n: number }).n
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
