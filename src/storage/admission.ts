import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { openDb, type Db } from '../db/index.js'
import { sha256 } from '../wire/index.js'
import { STORAGE_MIGRATIONS } from './migrations.js'
import { StorageNodeError } from './errors.js'

/** How a twin came to be served: by `allow`, an invite, an open node, holding shards from before admission existed; `deny` for a twin only ever denied. */
export type AdmissionHow = 'allow' | 'invite' | 'open' | 'existing' | 'deny'

export interface ClientRow {
  twin: string
  state: 'admitted' | 'denied'
  how: AdmissionHow
  /** The twin's own quota; null: the node's default. */
  quota: number | null
  used: number
  since: number
  changed: number
}

/** Why a node refuses a twin's hello; the twin turns each into a sentence that says what to do. */
export type HelloRefusal = 'not-admitted' | 'denied' | 'invite-unknown' | 'invite-used' | 'invite-expired'

export type Reservation =
  | { ok: true }
  | { ok: false, why: 'not-admitted' | 'denied' | 'over-quota', used: number, quota: number }

/** The file in a storage node's home that holds its admission state. */
export const STORAGE_DB = 'storage.db'

/**
 * A storage node's admission state and usage per twin, in `<home>/storage.db`. The running
 * node and the operator's commands (`allow`, `deny`, `invite`, `clients`) open the same file:
 * WAL lets them work at once, and the node reads it on every hello and request, so a change
 * takes effect without a restart. Every decision is one synchronous statement or transaction,
 * so no other request can slip in between a check and what it decides (a quota reservation).
 */
export class AdmissionStore {
  private readonly s

  constructor (readonly db: Db) {
    this.s = {
      client: db.prepare('SELECT * FROM clients WHERE twin = ?'),
      state: db.prepare('SELECT state FROM clients WHERE twin = ?').pluck(),
      reserve: db.prepare(`UPDATE clients SET used = used + @n
        WHERE twin = @twin AND state = 'admitted' AND used + @n <= coalesce(quota, @quota)`),
      shrink: db.prepare('UPDATE clients SET used = max(0, used - @n) WHERE twin = @twin'),
      setUsed: db.prepare('UPDATE clients SET used = @n WHERE twin = @twin'),
      insert: db.prepare(`INSERT INTO clients (twin, state, how, quota, used, since, changed)
        VALUES (@twin, @state, @how, @quota, 0, @now, @now)`)
    }
  }

  /** Opens the node's database; without `create`, a home where no storage node ever ran is refused. */
  static open (home: string, options: { create?: boolean } = {}): AdmissionStore {
    const path = join(home, STORAGE_DB)
    if (options.create !== true && !existsSync(path)) {
      throw new StorageNodeError('STORAGE_NODE_NOT_FOUND', `no storage node in ${home} (start it once with \`twin storage-node --home ${home}\`)`)
    }
    return new AdmissionStore(openDb(path, { create: options.create === true, migrations: STORAGE_MIGRATIONS }))
  }

  close (): void {
    this.db.close()
  }

  // ---- what the running node tells its operator's commands ---------------------------

  setting (key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value
  }

  setSetting (key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value)
  }

  // ---- the operator ------------------------------------------------------------------

  /** Admits a twin (again): with a quota, that is its own; without, it keeps the one it had (or the node's default). */
  allow (twin: string, quota: number | undefined, now = Date.now()): ClientRow {
    return this.db.transaction(() => {
      const row = this.client(twin)
      if (row === undefined) {
        this.s.insert.run({ twin, state: 'admitted', how: 'allow', quota: quota ?? null, now })
      } else {
        this.db.prepare(`UPDATE clients SET state = 'admitted', how = 'allow', quota = @quota, changed = @now,
          since = CASE WHEN state = 'admitted' THEN since ELSE @now END WHERE twin = @twin`)
          .run({ twin, quota: quota === undefined ? row.quota : quota, now })
      }
      return this.client(twin) as ClientRow
    }).immediate()
  }

  /** Refuses a twin from now on; its shards stay on disk (and counted) until the operator removes them. */
  deny (twin: string, now = Date.now()): ClientRow {
    return this.db.transaction(() => {
      if (this.client(twin) === undefined) this.s.insert.run({ twin, state: 'denied', how: 'deny', quota: null, now })
      else this.db.prepare('UPDATE clients SET state = \'denied\', changed = ? WHERE twin = ?').run(now, twin)
      return this.client(twin) as ClientRow
    }).immediate()
  }

  clients (): ClientRow[] {
    return this.db.prepare('SELECT * FROM clients ORDER BY since, twin').all() as ClientRow[]
  }

  client (twin: string): ClientRow | undefined {
    return this.s.client.get(twin) as ClientRow | undefined
  }

  /** Records an invite by the hash of its secret (the node never keeps the secret itself). */
  addInvite (secret: Uint8Array, quota: number | null, expires: number, now = Date.now()): void {
    this.db.prepare('INSERT INTO invites (hash, quota, created, expires) VALUES (?, ?, ?, ?)').run(sha256(secret), quota, now, expires)
  }

  // ---- the running node ----------------------------------------------------------------

  /**
   * Decides a twin's hello, in one transaction: admitted twins are served, denied ones refused;
   * an unknown twin is admitted by a valid unused invite (which it then uses up) or by an open
   * node, and refused otherwise.
   */
  hello (twin: string, secret: Uint8Array | undefined, open: boolean, now = Date.now()): { ok: true } | { ok: false, why: HelloRefusal } {
    return this.db.transaction((): { ok: true } | { ok: false, why: HelloRefusal } => {
      const state = this.s.state.get(twin) as ClientRow['state'] | undefined
      if (state === 'admitted') return { ok: true }
      if (state === 'denied') return { ok: false, why: 'denied' }
      if (secret !== undefined) {
        const hash = sha256(secret)
        const invite = this.db.prepare('SELECT quota, expires, redeemed_by FROM invites WHERE hash = ?').get(hash) as { quota: number | null, expires: number, redeemed_by: string | null } | undefined
        if (invite === undefined) return { ok: false, why: 'invite-unknown' }
        if (invite.redeemed_by !== null) return { ok: false, why: 'invite-used' }
        if (invite.expires <= now) return { ok: false, why: 'invite-expired' }
        this.db.prepare('UPDATE invites SET redeemed_by = ?, redeemed_at = ? WHERE hash = ?').run(twin, now, hash)
        this.s.insert.run({ twin, state: 'admitted', how: 'invite', quota: invite.quota, now })
        return { ok: true }
      }
      if (open) {
        this.s.insert.run({ twin, state: 'admitted', how: 'open', quota: null, now })
        return { ok: true }
      }
      return { ok: false, why: 'not-admitted' }
    }).immediate()
  }

  /** Is the twin served right now? A point query, asked again on every request. */
  admitted (twin: string): boolean {
    return this.s.state.get(twin) === 'admitted'
  }

  /**
   * Reserves room for `bytes` more of the twin's shards, or says why not. One UPDATE does the
   * check and the count together, so parallel puts can never add up past the quota; the
   * caller releases the reservation if the write fails.
   */
  reserve (twin: string, bytes: number, defaultQuota: number): Reservation {
    if (bytes <= 0) {
      this.release(twin, -bytes)
      return { ok: true }
    }
    if (this.s.reserve.run({ twin, n: bytes, quota: defaultQuota }).changes === 1) return { ok: true }
    const row = this.client(twin)
    const quota = row?.quota ?? defaultQuota
    if (row === undefined) return { ok: false, why: 'not-admitted', used: 0, quota }
    return { ok: false, why: row.state === 'denied' ? 'denied' : 'over-quota', used: row.used, quota }
  }

  release (twin: string, bytes: number): void {
    if (bytes > 0) this.s.shrink.run({ twin, n: bytes })
  }

  /** Sets a twin's usage to what is on disk (at start, after a crash may have left a reservation behind). */
  setUsed (twin: string, bytes: number, now = Date.now()): void {
    if (this.s.setUsed.run({ twin, n: bytes }).changes === 0 && bytes > 0) {
      // Shards of a twin the node has no row for: it stored them before admission existed.
      this.s.insert.run({ twin, state: 'admitted', how: 'existing', quota: null, now })
      this.s.setUsed.run({ twin, n: bytes })
    }
  }
}
