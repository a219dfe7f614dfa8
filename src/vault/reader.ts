import { createHash } from 'node:crypto'
import { equalBytes } from '../wire/index.js'
import { decryptChunk } from './crypto.js'
import { decodeShards } from './erasure.js'
import { VaultError } from './errors.js'
import { merkleRoot } from './merkle.js'
import type { VaultParts } from './parts.js'
import { vaultPath } from './paths.js'
import type { FileVersion, ShardRow, ShardUpdate } from './store.js'

/** Chunks fetched ahead of the reader; shards of several chunks travel at once. */
const READ_AHEAD_CHUNKS = 6

/** Reads files and chunks back, checking every shard, chunk and file against its hash. */
export class VaultReader {
  /** Chunks read since start, and how many of them needed parity (a data shard was missing or wrong). */
  readonly reads = { chunks: 0, decoded: 0 }

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

  /** Reads one chunk from any k good shards: data shards first, parity only when needed. */
  async readChunk (id: Uint8Array): Promise<Uint8Array> {
    const { store, keys } = this.parts
    const c = store.chunk(id)
    if (c === undefined) throw new VaultError('INDEX_DAMAGED', 'the vault index names a chunk it does not describe')
    const rows = store.shards(id)
    const all = this.parts.backends()
    const got: Array<Uint8Array | undefined> = new Array(c.k + c.m).fill(undefined)
    let good = 0
    const updates: ShardUpdate[] = []
    const tryShard = async (row: ShardRow): Promise<void> => {
      const backend = all.get(row.peer)
      let data: Uint8Array | undefined
      try {
        // A backend that just failed is skipped: parity from the others is faster than its dial.
        data = backend === undefined || backend.down === true ? undefined : await backend.get(row.addr)
      } catch {
        data = undefined // unreachable: counted as missing below, and another shard is tried
      }
      if (data !== undefined && data.length === c.shardSize && equalBytes(merkleRoot(data), row.addr)) {
        got[row.idx] = data
        good++
        if (row.status !== 'ok') updates.push({ chunk: id, idx: row.idx, status: 'ok' })
      } else {
        updates.push({ chunk: id, idx: row.idx, status: data === undefined ? 'missing' : 'corrupt' })
      }
    }
    try {
      await Promise.all(rows.filter(r => r.idx < c.k).map(tryShard))
      for (const row of rows.filter(r => r.idx >= c.k)) {
        if (good >= c.k) break
        await tryShard(row)
      }
    } finally {
      store.updateShards(updates) // what this read found, in one write
    }
    if (good < c.k) throw new VaultError('CHUNK_LOST', `a chunk cannot be read: only ${good} of the ${c.k} shards needed are available`)
    // The code is systematic: with every data shard at hand, the chunk is their concatenation.
    const systematic = got.slice(0, c.k).every(x => x !== undefined)
    const enc = systematic
      ? Buffer.concat(got.slice(0, c.k) as Uint8Array[]).subarray(0, c.encSize)
      : await decodeShards(got, c.k, c.m, c.encSize)
    this.reads.chunks++
    if (!systematic) this.reads.decoded++
    const plain = decryptChunk(keys.chunkKey(id), id, enc)
    if (!equalBytes(keys.chunkId(plain), id)) throw new VaultError('CHUNK_CORRUPT', 'a chunk does not match its id')
    return plain
  }
}
