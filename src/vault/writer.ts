import { createHash, type Hash } from 'node:crypto'
import { toHex } from '../wire/index.js'
import { chunkStream, DEFAULT_CHUNKING } from './chunker.js'
import { encryptChunk } from './crypto.js'
import { encodeShards } from './erasure.js'
import { VaultError } from './errors.js'
import { merkleRoot } from '../shards/index.js'
import { activeBackends, type Upload, type VaultParts } from './parts.js'
import { vaultPath } from './paths.js'
import { codeFor, placeShards } from './placement.js'
import type { ShardBackend } from '../shards/index.js'
import type { ChunkRow, FileVersion, ShardRow } from './store.js'

export interface PutResult { path: string, size: number, hash: string, version: number }
export interface Progress { done: number, total?: number }
export interface PutOptions {
  /** The size expected, for progress. */
  total?: number
  onProgress?: (p: Progress) => void
  /** Runs after the last byte was read, before the commit: throws to refuse a file that changed meanwhile. */
  check?: () => Promise<void>
}

/** Chunks being encrypted, encoded and placed at once during a put. */
const IN_FLIGHT_CHUNKS = 3

export interface ChunkToStore {
  id: Uint8Array
  plain: Uint8Array
  code: { k: number, m: number }
  peers: ShardBackend[]
  /** The chunk's position in its put (placement rotates by it). */
  slot: number
}

/** A chunk stored (its index rows, to commit), or why not; every upload tried is listed either way. */
export type StoredChunk =
  | { ok: true, chunk: ChunkRow, shards: ShardRow[], attempted: Upload[] }
  | { ok: false, error: VaultError, attempted: Upload[] }

/** Encrypts, erasure-codes, addresses and places one chunk (docs/PROTOCOL.md §13, steps 3 to 5). */
export async function storeChunk (parts: VaultParts, c: ChunkToStore): Promise<StoredChunk> {
  const { k, m } = c.code
  const enc = encryptChunk(parts.keys.chunkKey(c.id), c.id, c.plain)
  const shards = await encodeShards(enc, k, m)
  const addrs = shards.map(merkleRoot)
  const placed = await placeShards({ shards, addrs, peers: c.peers, slot: c.slot, pending: u => { parts.store.addPending(u) } })
  if (!placed.ok) return placed
  return {
    ok: true,
    chunk: { id: c.id, size: c.plain.length, encSize: enc.length, k, m, shardSize: (shards[0] as Uint8Array).length },
    shards: shards.map((_, idx) => ({ chunk: c.id, idx, addr: addrs[idx] as Uint8Array, peer: placed.peers[idx] as string, status: 'ok' as const })),
    attempted: placed.attempted
  }
}

/**
 * Writes to the vault. A put commits its new version only after every shard is stored; until
 * then readers see the old version, and the shards of a put that never commits are deleted
 * (at once when it fails, by `collectOrphans` when the twin was killed).
 */
export class VaultWriter {
  constructor (private readonly parts: VaultParts) {}

  /** Stores a stream under `path` as a new version. */
  async put (path: string, source: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    const p = vaultPath(path)
    const peers = activeBackends(this.parts)
    const code = codeFor(peers.length)
    const hash = createHash('sha256')
    let size = 0
    const counted = hashing(source, hash, n => {
      size += n
      options.onProgress?.({ done: size, ...(options.total === undefined ? {} : { total: options.total }) })
    })
    const chunkIds: Uint8Array[] = []
    const newChunks: ChunkRow[] = []
    const newShards: ShardRow[] = []
    const attempted: Upload[] = []
    const inflight = new Set<Promise<void>>()
    const seen = new Set<string>()
    let failure: unknown
    let slot = 0
    try {
      for await (const plain of chunkStream(counted, DEFAULT_CHUNKING)) {
        if (failure !== undefined) break
        const id = this.parts.keys.chunkId(plain)
        chunkIds.push(id)
        const key = toHex(id)
        if (seen.has(key) || this.healthy(id)) continue // dedupe
        seen.add(key)
        const task = storeChunk(this.parts, { id, plain, code, peers, slot: slot++ }).then(stored => {
          attempted.push(...stored.attempted)
          if (!stored.ok) { failure ??= stored.error; return }
          newChunks.push(stored.chunk)
          newShards.push(...stored.shards)
        }, (err: unknown) => { failure ??= err }).finally(() => inflight.delete(task))
        inflight.add(task)
        if (inflight.size >= IN_FLIGHT_CHUNKS) await Promise.race(inflight)
      }
      await Promise.all(inflight)
      if (failure !== undefined) throw failure
      await options.check?.()
    } catch (err) {
      // Tasks still running (the source failed) may add uploads: wait for them, then take back everything.
      await Promise.all(inflight)
      await this.discard(attempted)
      throw err
    }
    const digest = new Uint8Array(hash.digest())
    const file = this.parts.store.commit({ path: p, size, hash: digest, modified: Date.now(), deleted: false, chunks: chunkIds }, newChunks, newShards)
    return { path: p, size, hash: toHex(digest), version: file.version }
  }

  /** A chunk the vault already holds with at least k good shards is not stored again. */
  private healthy (id: Uint8Array): boolean {
    const c = this.parts.store.chunk(id)
    if (c === undefined) return false
    return this.parts.store.shards(id).filter(s => s.status === 'ok').length >= c.k
  }

  /** Best-effort deletion of uploads no commit references; whatever stays is collected as an orphan later. */
  async discard (uploads: Upload[]): Promise<void> {
    const all = this.parts.backends()
    const done: Upload[] = []
    await Promise.all(uploads.map(async u => {
      if (this.parts.store.referenced(u.addr, u.peer)) { done.push(u); return }
      try {
        await all.get(u.peer)?.delete(u.addr)
        done.push(u)
      } catch { /* still pending: the next orphan collection tries again */ }
    }))
    this.parts.store.clearPending(done)
  }

  /** Deletes shards uploaded by puts that never committed (the twin was killed mid-put); returns how many. */
  async collectOrphans (): Promise<number> {
    const pending = this.parts.store.pending()
    await this.discard(pending)
    return pending.length - this.parts.store.pending().length
  }

  /** Marks a path deleted (a new version); earlier versions stay readable. */
  remove (path: string): FileVersion {
    const p = vaultPath(path)
    const last = this.parts.store.latest(p)
    if (last === undefined || last.deleted) throw new VaultError('NOT_FOUND', `no file ${p} in the vault`)
    return this.parts.store.commit({ path: p, size: 0, hash: new Uint8Array(32), modified: Date.now(), deleted: true, chunks: [] }, [], [])
  }

  /** Moves a file: a new version at `to` with the same content, and a deletion at `from`. */
  move (from: string, to: string): FileVersion {
    const f = vaultPath(from)
    const t = vaultPath(to)
    const last = this.parts.store.latest(f)
    if (last === undefined || last.deleted) throw new VaultError('NOT_FOUND', `no file ${f} in the vault`)
    if (f === t) return last
    const moved = this.parts.store.commit({ ...last, path: t, modified: Date.now() }, [], [])
    this.remove(f)
    return moved
  }
}

/** Passes a stream through, hashing and counting it on the way (the file's SHA-256 and progress). */
async function * hashing (source: AsyncIterable<Uint8Array>, hash: Hash, count: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const piece of source) {
    hash.update(piece)
    count(piece.length)
    yield piece
  }
}
