import type { Statement } from 'better-sqlite3'
import type { Db } from '../db/index.js'
import { decodeCbor, encodeCbor } from '../wire/index.js'

export interface FileVersion {
  path: string
  version: number
  size: number
  hash: Uint8Array
  modified: number
  deleted: boolean
  chunks: Uint8Array[]
}

export interface ChunkRow { id: Uint8Array, size: number, encSize: number, k: number, m: number, shardSize: number }
export type ShardStatus = 'ok' | 'missing' | 'corrupt'
export interface ShardRow { chunk: Uint8Array, idx: number, addr: Uint8Array, peer: string, status: ShardStatus }
export interface PeerRow { id: string, address: string, kind: 'local' | 'node', added: number, removed: number | null, checks: number, failures: number, lastSeen: number | null }

interface RawFile { path: string, version: number, size: number, hash: Uint8Array, modified: number, deleted: number, chunks: Uint8Array }

function fileRow (r: RawFile): FileVersion {
  return {
    path: r.path, version: r.version, size: r.size, hash: new Uint8Array(r.hash), modified: r.modified, deleted: r.deleted === 1,
    chunks: decodeCbor(new Uint8Array(r.chunks), 'chunk list') as Uint8Array[]
  }
}

const b = (x: Uint8Array): Uint8Array => new Uint8Array(x)

/** A change of a shard's recorded state, found by a read, a check or a repair. */
/**
 * A change of a shard's recorded state. `seenOn`: the peer the status was found on; the change
 * applies only while the index still places the shard there (a repair may have moved it
 * meanwhile). `moveTo`: the peer a rebuilt shard now lives on.
 */
export interface ShardUpdate { chunk: Uint8Array, idx: number, status: ShardStatus, seenOn?: string, moveTo?: string }

/**
 * The vault's tables: file versions (manifests), chunks, shard placements, storage peers.
 *
 * Commits of file versions are durable (the database's synchronous = FULL: an fsync per
 * commit). Bookkeeping is not: pending uploads, shard statuses, moved shards and check counts
 * are committed with synchronous = NORMAL, which a killed process keeps (the OS holds the
 * write) and a power loss may roll back. Losing them loses no data: an orphan shard that is no
 * longer marked pending costs space on its peer, a lost status is found again by the next
 * audit or verify, a lost move makes the next repair store the shard again. An fsync per
 * shard would cost a put about 4 ms per shard on this project's machine (PERFORMANCE.md), and
 * the next durable commit syncs the bookkeeping written before it anyway.
 */
export class VaultStore {
  private readonly statements = new Map<string, Statement>()

  constructor (readonly db: Db) {}

  /** A prepared statement, prepared once: preparing costs more than running most of these. */
  private sql (text: string): Statement {
    let st = this.statements.get(text)
    if (st === undefined) {
      st = this.db.prepare(text)
      this.statements.set(text, st)
    }
    return st
  }

  /** Runs `fn` in one transaction committed without an fsync (see the class comment for why that is safe here). */
  private relaxed<T> (fn: () => T): T {
    const before = this.db.pragma('synchronous', { simple: true }) as number
    if (before <= 1) return this.db.transaction(fn).immediate()
    this.db.pragma('synchronous = NORMAL')
    try {
      return this.db.transaction(fn).immediate()
    } finally {
      this.db.pragma(`synchronous = ${before}`)
    }
  }

  latest (path: string): FileVersion | undefined {
    const r = this.db.prepare('SELECT * FROM vault_files WHERE path = ? ORDER BY version DESC LIMIT 1').get(path) as RawFile | undefined
    return r === undefined ? undefined : fileRow(r)
  }

  version (path: string, version: number): FileVersion | undefined {
    const r = this.db.prepare('SELECT * FROM vault_files WHERE path = ? AND version = ?').get(path, version) as RawFile | undefined
    return r === undefined ? undefined : fileRow(r)
  }

  versions (path: string): FileVersion[] {
    return (this.db.prepare('SELECT * FROM vault_files WHERE path = ? ORDER BY version').all(path) as RawFile[]).map(fileRow)
  }

  /** The latest version of every file that is not deleted, under a folder prefix. */
  list (prefix: string): FileVersion[] {
    const rows = this.db.prepare(`
      SELECT f.* FROM vault_files f
      JOIN (SELECT path, max(version) AS v FROM vault_files GROUP BY path) l ON l.path = f.path AND l.v = f.version
      WHERE f.deleted = 0 AND (f.path = ? OR substr(f.path, 1, length(?)) = ?)
      ORDER BY f.path`).all(prefix, prefix.endsWith('/') ? prefix : prefix + '/', prefix.endsWith('/') ? prefix : prefix + '/') as RawFile[]
    return rows.map(fileRow)
  }

  allFiles (): FileVersion[] {
    return (this.db.prepare('SELECT * FROM vault_files ORDER BY path, version').all() as RawFile[]).map(fileRow)
  }

  chunk (id: Uint8Array): ChunkRow | undefined {
    const r = this.sql('SELECT * FROM vault_chunks WHERE id = ?').get(id) as { id: Uint8Array, size: number, enc_size: number, k: number, m: number, shard_size: number } | undefined
    return r === undefined ? undefined : { id: b(r.id), size: r.size, encSize: r.enc_size, k: r.k, m: r.m, shardSize: r.shard_size }
  }

  allChunks (): ChunkRow[] {
    return (this.db.prepare('SELECT * FROM vault_chunks').all() as Array<{ id: Uint8Array, size: number, enc_size: number, k: number, m: number, shard_size: number }>)
      .map(r => ({ id: b(r.id), size: r.size, encSize: r.enc_size, k: r.k, m: r.m, shardSize: r.shard_size }))
  }

  shards (chunk: Uint8Array): ShardRow[] {
    return (this.sql('SELECT * FROM vault_shards WHERE chunk = ? ORDER BY idx').all(chunk) as Array<{ chunk: Uint8Array, idx: number, addr: Uint8Array, peer: string, status: ShardStatus }>)
      .map(r => ({ chunk: b(r.chunk), idx: r.idx, addr: b(r.addr), peer: r.peer, status: r.status }))
  }

  allShards (): ShardRow[] {
    return (this.db.prepare('SELECT * FROM vault_shards ORDER BY chunk, idx').all() as Array<{ chunk: Uint8Array, idx: number, addr: Uint8Array, peer: string, status: ShardStatus }>)
      .map(r => ({ chunk: b(r.chunk), idx: r.idx, addr: b(r.addr), peer: r.peer, status: r.status }))
  }

  setShardStatus (chunk: Uint8Array, idx: number, status: ShardStatus, now = Date.now()): void {
    this.updateShards([{ chunk, idx, status }], now)
  }

  /**
   * Records shard states in one transaction: a status found by a read or a check, or, with
   * `peer`, where a rebuilt shard now lives (called only after that peer confirmed it).
   */
  updateShards (updates: ShardUpdate[], now = Date.now()): void {
    if (updates.length === 0) return
    const status = this.sql('UPDATE vault_shards SET status = ?, checked = ? WHERE chunk = ? AND idx = ?')
    const seen = this.sql('UPDATE vault_shards SET status = ?, checked = ? WHERE chunk = ? AND idx = ? AND peer = ?')
    const moved = this.sql('UPDATE vault_shards SET peer = ?, status = ?, checked = ? WHERE chunk = ? AND idx = ?')
    this.relaxed(() => {
      for (const u of updates) {
        if (u.moveTo !== undefined) moved.run(u.moveTo, u.status, now, u.chunk, u.idx)
        else if (u.seenOn !== undefined) seen.run(u.status, now, u.chunk, u.idx, u.seenOn)
        else status.run(u.status, now, u.chunk, u.idx)
      }
    })
  }

  /** Records where a rebuilt shard now lives; called only after the backend confirmed it. */
  moveShard (chunk: Uint8Array, idx: number, peer: string, now = Date.now()): void {
    this.updateShards([{ chunk, idx, status: 'ok', moveTo: peer }], now)
  }

  /** Marks shards uploaded for a put that is not committed yet; if the put never commits they are orphans. */
  addPending (items: Array<{ addr: Uint8Array, peer: string }>, now = Date.now()): void {
    const st = this.sql('INSERT OR IGNORE INTO vault_pending (addr, peer, started) VALUES (?, ?, ?)')
    this.relaxed(() => { for (const i of items) st.run(i.addr, i.peer, now) })
  }

  pending (): Array<{ addr: Uint8Array, peer: string }> {
    return (this.db.prepare('SELECT addr, peer FROM vault_pending').all() as Array<{ addr: Uint8Array, peer: string }>).map(r => ({ addr: b(r.addr), peer: r.peer }))
  }

  clearPending (items: Array<{ addr: Uint8Array, peer: string }>): void {
    if (items.length === 0) return
    const st = this.sql('DELETE FROM vault_pending WHERE addr = ? AND peer = ?')
    this.relaxed(() => { for (const i of items) st.run(i.addr, i.peer) })
  }

  /** Is this shard address referenced by a committed chunk (on that peer)? */
  referenced (addr: Uint8Array, peer: string): boolean {
    return this.sql('SELECT 1 FROM vault_shards WHERE addr = ? AND peer = ?').get(addr, peer) !== undefined
  }

  /**
   * Commits a new file version with its new chunks and shards, and clears their pending marks,
   * in one transaction: the commit point of a put. Before it, the old version is what readers see.
   */
  commit (file: Omit<FileVersion, 'version'>, chunks: ChunkRow[], shards: ShardRow[]): FileVersion {
    return this.db.transaction(() => {
      const last = this.db.prepare('SELECT max(version) AS v FROM vault_files WHERE path = ?').get(file.path) as { v: number | null }
      const version = (last.v ?? 0) + 1
      const insChunk = this.db.prepare('INSERT OR IGNORE INTO vault_chunks (id, size, enc_size, k, m, shard_size) VALUES (?, ?, ?, ?, ?, ?)')
      const insShard = this.db.prepare('INSERT OR REPLACE INTO vault_shards (chunk, idx, addr, peer, status, checked) VALUES (?, ?, ?, ?, ?, ?)')
      const delPending = this.db.prepare('DELETE FROM vault_pending WHERE addr = ? AND peer = ?')
      for (const c of chunks) insChunk.run(c.id, c.size, c.encSize, c.k, c.m, c.shardSize)
      for (const s of shards) {
        insShard.run(s.chunk, s.idx, s.addr, s.peer, s.status, Date.now())
        delPending.run(s.addr, s.peer)
      }
      this.db.prepare('INSERT INTO vault_files (path, version, size, hash, modified, deleted, chunks) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(file.path, version, file.size, file.hash, file.modified, file.deleted ? 1 : 0, encodeCbor(file.chunks))
      return { ...file, version }
    }).immediate()
  }

  /** Describes chunks and their shards without a file (a snapshot's own chunks, at restore). */
  addChunks (chunks: ChunkRow[], shards: ShardRow[]): void {
    this.db.transaction(() => {
      const c = this.db.prepare('INSERT OR IGNORE INTO vault_chunks (id, size, enc_size, k, m, shard_size) VALUES (?, ?, ?, ?, ?, ?)')
      for (const x of chunks) c.run(x.id, x.size, x.encSize, x.k, x.m, x.shardSize)
      const s = this.db.prepare('INSERT OR REPLACE INTO vault_shards (chunk, idx, addr, peer, status) VALUES (?, ?, ?, ?, ?)')
      for (const x of shards) s.run(x.chunk, x.idx, x.addr, x.peer, x.status)
    }).immediate()
  }

  peers (includeRemoved = false): PeerRow[] {
    const rows = this.sql(`SELECT * FROM vault_peers ${includeRemoved ? '' : 'WHERE removed IS NULL'} ORDER BY added, id`).all() as Array<{ id: string, address: string, kind: 'local' | 'node', added: number, removed: number | null, checks: number, failures: number, last_seen: number | null }>
    return rows.map(r => ({ id: r.id, address: r.address, kind: r.kind, added: r.added, removed: r.removed, checks: r.checks, failures: r.failures, lastSeen: r.last_seen }))
  }

  addPeer (id: string, address: string, kind: 'local' | 'node', now = Date.now()): void {
    this.db.prepare(`INSERT INTO vault_peers (id, address, kind, added) VALUES (?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET address = excluded.address, removed = NULL`).run(id, address, kind, now)
  }

  /** Records the address a storage node was last reached at (what `storage status` shows). */
  setPeerAddress (id: string, address: string): void {
    this.db.prepare('UPDATE vault_peers SET address = ? WHERE id = ? AND address <> ?').run(address, id, address)
  }

  /** Addresses known for a storage node besides its last working one: from its invite, and learned from it since. */
  knownAddresses (id: string): string[] {
    const s = this.setting(`addrs:${id}`)
    return s === undefined ? [] : JSON.parse(s) as string[]
  }

  setKnownAddresses (id: string, addresses: string[]): void {
    this.setSetting(`addrs:${id}`, JSON.stringify(addresses))
  }

  removePeer (id: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE vault_peers SET removed = ? WHERE id = ? AND removed IS NULL').run(now, id).changes === 1
  }

  /** Counts a check of a peer for the availability estimate. */
  recordCheck (id: string, ok: boolean, now = Date.now()): void {
    const st = this.sql('UPDATE vault_peers SET checks = checks + 1, failures = failures + ?, last_seen = CASE WHEN ? THEN ? ELSE last_seen END WHERE id = ?')
    this.relaxed(() => st.run(ok ? 0 : 1, ok ? 1 : 0, now, id))
  }

  setting (key: string): string | undefined {
    return (this.sql('SELECT value FROM vault_settings WHERE key = ?').get(key) as { value: string } | undefined)?.value
  }

  setSetting (key: string, value: string): void {
    this.db.prepare('INSERT INTO vault_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value)
  }

  /** Replaces the whole index (restore from a snapshot), in one transaction. */
  replaceAll (data: { files: FileVersion[], chunks: ChunkRow[], shards: ShardRow[], peers: PeerRow[] }): void {
    this.db.transaction(() => {
      for (const t of ['vault_files', 'vault_chunks', 'vault_shards', 'vault_pending']) this.db.exec(`DELETE FROM ${t}`)
      const f = this.db.prepare('INSERT INTO vault_files (path, version, size, hash, modified, deleted, chunks) VALUES (?, ?, ?, ?, ?, ?, ?)')
      for (const x of data.files) f.run(x.path, x.version, x.size, x.hash, x.modified, x.deleted ? 1 : 0, encodeCbor(x.chunks))
      const c = this.db.prepare('INSERT INTO vault_chunks (id, size, enc_size, k, m, shard_size) VALUES (?, ?, ?, ?, ?, ?)')
      for (const x of data.chunks) c.run(x.id, x.size, x.encSize, x.k, x.m, x.shardSize)
      const s = this.db.prepare('INSERT INTO vault_shards (chunk, idx, addr, peer, status) VALUES (?, ?, ?, ?, ?)')
      for (const x of data.shards) s.run(x.chunk, x.idx, x.addr, x.peer, x.status)
      const p = this.db.prepare('INSERT INTO vault_peers (id, address, kind, added, removed) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
      for (const x of data.peers) p.run(x.id, x.address, x.kind, x.added, x.removed)
    }).immediate()
  }
}
