import { createHash } from 'node:crypto'
import { equalBytes } from '../wire/index.js'
import { decryptChunk } from './crypto.js'
import { decodeShards } from './erasure.js'
import { VaultError } from './errors.js'
import { merkleRoot } from '../shards/index.js'
import type { VaultParts } from './parts.js'
import { vaultPath } from './paths.js'
import type { ChunkRow, FileVersion, ShardRow, ShardUpdate } from './store.js'
import type { ShardBackend } from '../shards/index.js'

/** Chunks fetched ahead of the reader; shards of several chunks travel at once. */
const READ_AHEAD_CHUNKS = 6

/** Reads files and chunks back, checking every shard, chunk and file against its hash. */
export class VaultReader {
  /**
   * Chunks read since start; how many took the checked path (a data shard missing, or the chunk
   * did not open from them), and how many needed parity (a data shard missing or wrong).
   */
  readonly reads = { chunks: 0, checked: 0, decoded: 0 }

  constructor (private readonly parts: VaultParts) {}

  /** The version to read: the latest that is not deleted, or the given one. */
  file (path: string, version?: number): FileVersion {
    const p = vaultPath(path)
    const f = version === undefined ? this.parts.store.latest(p) : this.parts.store.version(p, version)
    if (f === undefined || f.deleted) {
      throw new VaultError('NOT_FOUND', version === undefined ? `no file ${p} in the vault` : `no version ${version} of ${p}`)
    }
    return f
  }

  list (prefix = '/'): FileVersion[] {
    return this.parts.store.list(prefix === '/' ? '/' : vaultPath(prefix))
  }

  versions (path: string): FileVersion[] {
    const v = this.parts.store.versions(vaultPath(path))
    if (v.length === 0) throw new VaultError('NOT_FOUND', `no file ${vaultPath(path)} in the vault`)
    return v
  }

  /** Streams a file's bytes, checking every shard, chunk and the whole file against their hashes. */
  async * read (file: FileVersion): AsyncGenerator<Uint8Array> {
    const hash = createHash('sha256')
    const ahead: Array<Promise<Uint8Array>> = []
    let next = 0
    while (next < file.chunks.length || ahead.length > 0) {
      while (ahead.length < READ_AHEAD_CHUNKS && next < file.chunks.length) {
        const p = this.readChunk(file.chunks[next++] as Uint8Array)
        p.catch(() => { /* awaited in turn below; a reader that stops early must not leave it unhandled */ })
        ahead.push(p)
      }
      const chunk = await (ahead.shift() as Promise<Uint8Array>)
      hash.update(chunk)
      yield chunk
    }
    if (!equalBytes(new Uint8Array(hash.digest()), file.hash)) throw new VaultError('FILE_CORRUPT', `${file.path} does not match its hash`)
  }

  /**
   * Reads one chunk from any k good shards. The data shards are fetched first, together; the
   * code is systematic, so with all of them the encrypted chunk is their concatenation, and its
   * AES-GCM tag (with the chunk id checked after) vouches for every byte at once: the shards are
   * not hashed one by one. Only when a data shard is missing or the chunk does not open is each
   * shard checked against its Merkle address, and parity fetched to replace what is bad.
   */
  async readChunk (id: Uint8Array): Promise<Uint8Array> {
    const { store } = this.parts
    const c = store.chunk(id)
    if (c === undefined) throw new VaultError('INDEX_DAMAGED', 'the vault index names a chunk it does not describe')
    const rows = store.shards(id)
    const first = new Map<number, Uint8Array | undefined>()
    const peers = this.parts.backends()
    await Promise.all(rows.filter(r => r.idx < c.k).map(async row => { first.set(row.idx, await fetchShard(peers, row)) }))
    const data = Array.from({ length: c.k }, (_, idx) => first.get(idx)) // in shard order, not arrival order
    if (data.every(d => d !== undefined && d.length === c.shardSize)) {
      const plain = this.open(id, Buffer.concat(data as Uint8Array[]).subarray(0, c.encSize))
      if (plain !== undefined) {
        // A shard marked missing or corrupt earlier is marked ok again only once its address is
        // checked: the tag does not cover the last shard's padding.
        const good = rows.filter(r => r.idx < c.k && r.status !== 'ok' && equalBytes(merkleRoot(data[r.idx] as Uint8Array), r.addr))
        store.updateShards(good.map(r => ({ chunk: id, idx: r.idx, status: 'ok' as const, seenOn: r.peer })))
        this.reads.chunks++
        return plain
      }
    }
    this.reads.checked++
    return await this.readChecked(id, c, rows, first, peers)
  }

  /** The slow path: every shard checked by its address, bad or missing ones replaced by parity. */
  private async readChecked (id: Uint8Array, c: ChunkRow, rows: ShardRow[], first: Map<number, Uint8Array | undefined>, peers: Map<string, ShardBackend>): Promise<Uint8Array> {
    const { store } = this.parts
    const got: Array<Uint8Array | undefined> = new Array(c.k + c.m).fill(undefined)
    let good = 0
    const updates: ShardUpdate[] = []
    const skipped: ShardRow[] = []
    const tryShard = async (row: ShardRow, evenIfDown = false): Promise<void> => {
      if (!evenIfDown && peers.get(row.peer)?.down === true) { skipped.push(row); return }
      const data = !evenIfDown && first.has(row.idx) ? first.get(row.idx) : await fetchShard(peers, row, evenIfDown)
      if (data !== undefined && data.length === c.shardSize && equalBytes(merkleRoot(data), row.addr)) {
        got[row.idx] = data
        good++
        if (row.status !== 'ok') updates.push({ chunk: id, idx: row.idx, status: 'ok', seenOn: row.peer })
      } else {
        updates.push({ chunk: id, idx: row.idx, status: data === undefined ? 'missing' : 'corrupt', seenOn: row.peer })
      }
    }
    try {
      await Promise.all(rows.filter(r => r.idx < c.k).map(async r => { await tryShard(r) }))
      for (const row of rows.filter(r => r.idx >= c.k)) {
        if (good >= c.k) break
        await tryShard(row)
      }
      // Not enough without the peers that just failed: try them after all (one may be back).
      for (const row of skipped) {
        if (good >= c.k) break
        await tryShard(row, true)
      }
    } finally {
      store.updateShards(updates) // what this read found, in one write
    }
    if (good < c.k) throw new VaultError('CHUNK_LOST', `a chunk cannot be read: only ${good} of the ${c.k} shards needed are available`)
    const systematic = got.slice(0, c.k).every(x => x !== undefined)
    const enc = systematic
      ? Buffer.concat(got.slice(0, c.k) as Uint8Array[]).subarray(0, c.encSize)
      : await decodeShards(got, c.k, c.m, c.encSize)
    this.reads.chunks++
    if (!systematic) this.reads.decoded++
    const plain = this.open(id, enc)
    if (plain === undefined) throw new VaultError('CHUNK_CORRUPT', 'a chunk does not decrypt under its key or does not match its id')
    return plain
  }

  /** The chunk's plaintext if `enc` decrypts under its key and matches its id; else undefined. */
  private open (id: Uint8Array, enc: Uint8Array): Uint8Array | undefined {
    const { keys } = this.parts
    let plain: Uint8Array
    try {
      plain = decryptChunk(keys.chunkKey(id), id, enc)
    } catch {
      return undefined
    }
    return equalBytes(keys.chunkId(plain), id) ? plain : undefined
  }
}

/**
 * A shard's bytes from its peer, or undefined (no such peer, unreachable, or gone). A peer that
 * just failed is skipped unless `evenIfDown`: parity from the others is faster than its dial.
 */
async function fetchShard (peers: Map<string, ShardBackend>, row: ShardRow, evenIfDown = false): Promise<Uint8Array | undefined> {
  const backend = peers.get(row.peer)
  if (backend === undefined || (backend.down === true && !evenIfDown)) return undefined
  try {
    return await backend.get(row.addr)
  } catch {
    return undefined // unreachable: counted as missing, and another shard is tried
  }
}
