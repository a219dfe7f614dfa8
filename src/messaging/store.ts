import type { Db } from '../db/index.js'
import { decodeCbor, encodeCbor } from '../wire/index.js'

/** Outbox states, as `twin outbox` shows them. */
export type OutboxStatus = 'queued' | 'relayed' | 'delivered' | 'failed' | 'expired'

export interface OutboxRow {
  id: Uint8Array
  to: string
  seq: number
  kind: string
  verb: string
  payload: unknown
  envelope: Uint8Array
  status: OutboxStatus
  attempts: number
  nextAttempt: number
  created: number
  expires: number
  updated: number
  error: string | null
}

/** A verified inbound message as the receiver stores it. */
export interface NewInbound {
  from: string
  id: Uint8Array
  seq: number
  verb: string
  payload: unknown
  sentAt: number
  expires: number
}

/** A stored inbound message; `arrival` numbers messages 1, 2, 3... in the order they were stored. */
export type InboxRow = Omit<NewInbound, 'expires'> & { receivedAt: number, arrival: number }

interface RawOutbox {
  id: Uint8Array, to_id: string, seq: number, kind: string, verb: string, payload: Uint8Array, envelope: Uint8Array,
  status: OutboxStatus, attempts: number, next_attempt: number, created: number, expires: number, updated: number, error: string | null
}

function outboxRow (r: RawOutbox): OutboxRow {
  return {
    id: new Uint8Array(r.id), to: r.to_id, seq: r.seq, kind: r.kind, verb: r.verb, payload: decodeCbor(new Uint8Array(r.payload), 'payload'),
    envelope: new Uint8Array(r.envelope), status: r.status, attempts: r.attempts, nextAttempt: r.next_attempt,
    created: r.created, expires: r.expires, updated: r.updated, error: r.error
  }
}

/** The messaging part's tables: outbox, inbox and per-pair sequences. */
export class MessageStore {
  private readonly s

  constructor (private readonly db: Db) {
    this.s = {
      nextSeq: db.prepare('INSERT INTO msg_pair_seq (peer, next) VALUES (?, 1) ON CONFLICT (peer) DO UPDATE SET next = next + 1 RETURNING next'),
      insertOut: db.prepare(`INSERT INTO msg_outbox (id, to_id, seq, kind, verb, payload, envelope, status, attempts, next_attempt, created, expires, updated)
        VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)`),
      due: db.prepare(`SELECT * FROM msg_outbox WHERE status IN ('queued', 'relayed') AND next_attempt <= ? ORDER BY to_id, seq LIMIT ?`),
      nextDue: db.prepare(`SELECT min(next_attempt) AS t FROM msg_outbox WHERE status IN ('queued', 'relayed')`),
      setStatus: db.prepare('UPDATE msg_outbox SET status = ?, error = ?, updated = ? WHERE id = ? AND status NOT IN (\'delivered\', \'failed\', \'expired\')'),
      delivered: db.prepare('UPDATE msg_outbox SET status = \'delivered\', error = NULL, updated = ? WHERE id = ? AND to_id = ? AND status IN (\'queued\', \'relayed\')'),
      attempt: db.prepare('UPDATE msg_outbox SET attempts = attempts + 1, next_attempt = ?, status = ?, error = ?, updated = ? WHERE id = ? AND status IN (\'queued\', \'relayed\')'),
      expire: db.prepare('UPDATE msg_outbox SET status = \'expired\', updated = ? WHERE status IN (\'queued\', \'relayed\') AND expires <= ?'),
      wakeAll: db.prepare('UPDATE msg_outbox SET next_attempt = ? WHERE status = \'queued\' AND next_attempt > ?'),
      wakeQueued: db.prepare('UPDATE msg_outbox SET next_attempt = ? WHERE to_id = ? AND status = \'queued\' AND next_attempt > ?'),
      wakeRelayed: db.prepare('UPDATE msg_outbox SET next_attempt = ? WHERE to_id = ? AND status = \'relayed\' AND next_attempt > ?'),
      listOut: db.prepare('SELECT * FROM msg_outbox ORDER BY created DESC, seq DESC LIMIT ?'),
      getOut: db.prepare('SELECT * FROM msg_outbox WHERE id = ?'),
      counts: db.prepare('SELECT status, count(*) AS n FROM msg_outbox GROUP BY status'),
      insertIn: db.prepare(`INSERT INTO msg_inbox (from_id, id, seq, verb, payload, sent_at, received_at, expires, arrival)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(arrival), 0) + 1 FROM msg_inbox)) ON CONFLICT (from_id, id) DO NOTHING RETURNING arrival`),
      listIn: db.prepare('SELECT * FROM (SELECT * FROM msg_inbox ORDER BY sent_at DESC, from_id DESC, seq DESC LIMIT ?) ORDER BY sent_at, from_id, seq'),
      countIn: db.prepare('SELECT count(*) AS n FROM msg_inbox')
    }
  }

  /** Queues an outbound message durably, with the next per-pair sequence, in one transaction. */
  queue (m: { id: Uint8Array, to: string, kind: string, verb: string, payload: unknown, makeEnvelope: (seq: number) => { bytes: Uint8Array, created: number, expires: number } }): OutboxRow {
    return this.db.transaction(() => {
      const seq = (this.s.nextSeq.get(m.to) as { next: number }).next
      const env = m.makeEnvelope(seq)
      this.s.insertOut.run(m.id, m.to, seq, m.kind, m.verb, encodeCbor(m.payload), env.bytes, env.created, env.created, env.expires, env.created)
      return outboxRow(this.s.getOut.get(m.id) as RawOutbox)
    }).immediate()
  }

  due (now: number, limit = 5000): OutboxRow[] {
    return (this.s.due.all(now, limit) as RawOutbox[]).map(outboxRow)
  }

  nextDue (): number | undefined {
    return (this.s.nextDue.get() as { t: number | null }).t ?? undefined
  }

  /** Records delivery of acknowledged ids from `to`; returns how many changed. */
  markDelivered (to: string, ids: Uint8Array[], now = Date.now()): number {
    return this.db.transaction(() => ids.reduce((n, id) => n + this.s.delivered.run(now, id, to).changes, 0)).immediate()
  }

  recordAttempts (rows: Array<{ id: Uint8Array, nextAttempt: number, status: OutboxStatus, error: string | null }>, now = Date.now()): void {
    this.db.transaction(() => {
      for (const r of rows) this.s.attempt.run(r.nextAttempt, r.status, r.error, now, r.id)
    }).immediate()
  }

  fail (id: Uint8Array, error: string, now = Date.now()): void {
    this.s.setStatus.run('failed', error, now, id)
  }

  expireOld (now = Date.now()): number {
    return this.s.expire.run(now, now).changes
  }

  /**
   * A recipient just came online: its queued messages are due now, and those its relays keep
   * are due at `relayedAt` at the latest (the relay pushes them first; their acks settle them).
   */
  wake (to: string, now = Date.now(), relayedAt = now): number {
    return this.db.transaction(() => this.s.wakeQueued.run(now, to, now).changes + this.s.wakeRelayed.run(relayedAt, to, relayedAt).changes).immediate()
  }

  /** Makes every queued message due now (a relay came back). */
  wakeAll (now = Date.now()): number {
    return this.s.wakeAll.run(now, now).changes
  }

  listOutbox (limit = 100): OutboxRow[] {
    return (this.s.listOut.all(limit) as RawOutbox[]).map(outboxRow)
  }

  outboxCounts (): Record<string, number> {
    return Object.fromEntries((this.s.counts.all() as Array<{ status: string, n: number }>).map(r => [r.status, r.n]))
  }

  /**
   * Stores inbound messages in one transaction, in the given order, and returns those that
   * were new with their arrival numbers; a message seen before (same sender and id) is not
   * stored twice and gets no number.
   */
  storeInbound (messages: NewInbound[], now = Date.now()): Array<NewInbound & { arrival: number }> {
    return this.db.transaction(() => messages.flatMap(m => {
      const row = this.s.insertIn.get(m.from, m.id, m.seq, m.verb, encodeCbor(m.payload), m.sentAt, now, m.expires) as { arrival: number } | undefined
      return row === undefined ? [] : [{ ...m, arrival: row.arrival }]
    })).immediate()
  }

  /** The latest `limit` messages, oldest first: by sending time, then each sender's sequence. */
  listInbox (limit = 100): InboxRow[] {
    const rows = this.s.listIn.all(limit) as Array<{ from_id: string, id: Uint8Array, seq: number, verb: string, payload: Uint8Array, sent_at: number, received_at: number, arrival: number }>
    return rows.map(r => ({
      from: r.from_id, id: new Uint8Array(r.id), seq: r.seq, verb: r.verb, payload: decodeCbor(new Uint8Array(r.payload), 'payload'),
      sentAt: r.sent_at, receivedAt: r.received_at, arrival: r.arrival
    }))
  }

  inboxCount (): number {
    return (this.s.countIn.get() as { n: number }).n
  }
}
