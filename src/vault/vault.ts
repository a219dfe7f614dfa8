import { createHash, randomInt } from 'node:crypto'
import { z } from 'zod'
import { VaultError } from './errors.js'
import { bytesSchema, decodeCbor, encodeCbor, equalBytes, fromHex, toHex } from '../wire/index.js'
import { chunkStream, DEFAULT_CHUNKING } from './chunker.js'
import { decryptChunk, encryptChunk, openForOwner, sealForOwner, type VaultKeys } from './crypto.js'
import { decodeShards, encodeShards } from './erasure.js'
import { leafCount, merkleRoot, verifyMerkleProof, type ShardBackend } from '../shards/index.js'
import type { ChunkRow, FileVersion, PeerRow, ShardRow, VaultStore } from './store.js'

/** The erasure code for a number of storage peers: 4+2 from six peers; fewer peers, a smaller code. */
export function codeFor (peers: number): { k: number, m: number } {
  if (peers >= 6) return { k: 4, m: 2 }
  if (peers === 5) return { k: 3, m: 2 }
  if (peers === 4) return { k: 2, m: 2 }
  if (peers === 3) return { k: 2, m: 1 }
  if (peers === 2) return { k: 1, m: 1 }
  if (peers === 1) return { k: 1, m: 0 }
  throw new VaultError('NO_STORAGE', 'the vault has no storage peer')
}

/** Checks and normalizes a vault path: absolute, no empty, `.` or `..` parts, no control characters. */
export function vaultPath (input: string): string {
  if (typeof input !== 'string' || input.trim() === '') throw new VaultError('PATH_INVALID', 'a vault path cannot be empty')
  if (input.length > 4096) throw new VaultError('PATH_INVALID', 'a vault path has at most 4096 characters')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(input)) throw new VaultError('PATH_INVALID', `"${input}" has a control character or a backslash`)
  const parts = input.split('/').filter((p, i) => !(i === 0 && p === ''))
  if (parts.some(p => p === '..' || p === '.')) throw new VaultError('PATH_INVALID', `"${input}": a vault path cannot contain . or .. parts`)
  if (parts.length === 0 || parts.some(p => p === '')) throw new VaultError('PATH_INVALID', `"${input}" is not a file path (empty part)`)
  return '/' + parts.join('/')
}

export interface PutResult { path: string, size: number, hash: string, version: number }
export interface Progress { done: number, total?: number }

/** Signs the vault root pointer: provided by the twin, which holds the signing key. */
export interface RootSigner {
  id: string
  sign: (payload: Uint8Array) => Uint8Array
  verify: (payload: Uint8Array, signature: Uint8Array) => boolean
}

const IN_FLIGHT_CHUNKS = 3
/** Chunks fetched ahead of the reader; shards of several chunks travel at once. */
const READ_AHEAD_CHUNKS = 6

const snapshotSchema = z.strictObject({ size: z.number().int().min(0), chunks: z.array(bytesSchema()) })
const rootHeader = { id: z.string().max(100), seq: z.number().int().min(0), created: z.number().int().min(0) }
/** Version 1 (read only): the snapshot's description in plain CBOR, which told each node where the others are. */
const rootV1Schema = z.strictObject({ r: z.strictObject({ v: z.literal(1), ...rootHeader, snapshot: snapshotSchema }), sig: bytesSchema(64) })
/** Version 2: the description sealed under the root key; a node still checks id, seq and signature. */
const rootV2Schema = z.strictObject({ r: z.strictObject({ v: z.literal(2), ...rootHeader, snap: bytesSchema() }), sig: bytesSchema(64) })
const rootSchema = z.union([rootV1Schema, rootV2Schema])
type SnapshotRef = z.infer<typeof snapshotSchema>

/** Associated data of a root's sealed snapshot description: the root's own header. */
const rootAad = (r: { id: string, seq: number, created: number }): Uint8Array => encodeCbor({ v: 2, id: r.id, seq: r.seq, created: r.created })

/**
 * The vault: files chunked, encrypted, erasure-coded and spread over storage peers, with the
 * index in SQLite. A put commits its new version only after every shard is stored; until
 * then readers see the old version, and shards of a put that never commits are collected as
 * orphans.
 */
export class Vault {
  /** Chunks read since start, and how many of them needed parity (a data shard was missing or wrong). */
  readonly reads = { chunks: 0, decoded: 0 }

  constructor (
    private readonly store: VaultStore,
    private readonly keys: VaultKeys,
    private readonly backends: () => Map<string, ShardBackend>,
    private readonly signer: RootSigner
  ) {}

  // ---- writing ------------------------------------------------------------------------

  /** Stores a stream under `path` as a new version. `check` runs after the last byte (a file that changed is refused). */
  async put (path: string, source: AsyncIterable<Uint8Array>, options: { total?: number, onProgress?: (p: Progress) => void, check?: () => Promise<void> } = {}): Promise<PutResult> {
    const p = vaultPath(path)
    const peers = this.activeBackends()
    const { k, m } = codeFor(peers.length)
    const hash = createHash('sha256')
    let size = 0
    const chunkIds: Uint8Array[] = []
    const newChunks: ChunkRow[] = []
    const newShards: ShardRow[] = []
    const uploaded: Array<{ addr: Uint8Array, peer: string }> = []
    const inflight = new Set<Promise<void>>()
    const seen = new Set<string>()
    let failure: unknown
    let index = 0
    try {
      for await (const chunk of chunkStream(hashing(source, hash, n => { size += n; options.onProgress?.({ done: size, ...(options.total === undefined ? {} : { total: options.total }) }) }), DEFAULT_CHUNKING)) {
        if (failure !== undefined) break
        const id = this.keys.chunkId(chunk)
        chunkIds.push(id)
        const key = toHex(id)
        if (seen.has(key) || this.healthy(id)) continue // dedupe
        seen.add(key)
        const slot = index++
        const task = this.storeChunk(id, chunk, k, m, peers, slot, uploaded).then(({ chunk: c, shards }) => {
          newChunks.push(c)
          newShards.push(...shards)
        }).catch(err => { failure ??= err }).finally(() => inflight.delete(task))
        inflight.add(task)
        if (inflight.size >= IN_FLIGHT_CHUNKS) await Promise.race(inflight)
      }
      await Promise.all(inflight)
      if (failure !== undefined) throw failure
      await options.check?.()
    } catch (err) {
      await this.discard(uploaded)
      throw err
    }
    const digest = new Uint8Array(hash.digest())
    const file = this.store.commit({ path: p, size, hash: digest, modified: Date.now(), deleted: false, chunks: chunkIds }, newChunks, newShards)
    return { path: p, size, hash: toHex(digest), version: file.version }
  }

  private healthy (id: Uint8Array): boolean {
    const c = this.store.chunk(id)
    if (c === undefined) return false
    const shards = this.store.shards(id)
    return shards.filter(s => s.status === 'ok').length >= c.k
  }

  private activeBackends (): ShardBackend[] {
    const all = this.backends()
    return this.store.peers().map(p => all.get(p.id)).filter((b): b is ShardBackend => b !== undefined)
  }

  /**
   * Encrypts, encodes and places one chunk: shard i on a distinct peer (rotated per chunk to
   * spread the load); a peer that refuses (full, unreachable) is replaced by one that holds no
   * shard of this chunk yet, else the put fails with a clear error before anything is committed.
   */
  private async storeChunk (id: Uint8Array, plain: Uint8Array, k: number, m: number, peers: ShardBackend[], slot: number, uploaded: Array<{ addr: Uint8Array, peer: string }>): Promise<{ chunk: ChunkRow, shards: ShardRow[] }> {
    const enc = encryptChunk(this.keys.chunkKey(id), id, plain)
    const shards = await encodeShards(enc, k, m)
    const addrs = shards.map(merkleRoot)
    const order = peers.map((_, i) => peers[(i + slot) % peers.length] as ShardBackend)
    const target: Array<ShardBackend | undefined> = shards.map((_, idx) => order[idx])
    const spare = order.slice(shards.length)
    const errors: string[] = []
    const attempt = async (idx: number): Promise<boolean> => {
      const backend = target[idx] as ShardBackend
      const addr = addrs[idx] as Uint8Array
      this.store.addPending([{ addr, peer: backend.id }])
      uploaded.push({ addr, peer: backend.id })
      try {
        await backend.put(addr, shards[idx] as Uint8Array)
        return true
      } catch (err) {
        errors.push(`${backend.id}: ${(err as Error).message}`)
        return false
      }
    }
    const results = await Promise.all(shards.map(async (_, idx) => await attempt(idx)))
    for (let idx = 0; idx < shards.length; idx++) {
      while (results[idx] !== true) {
        const next = spare.shift()
        if (next === undefined) {
          throw new VaultError('PLACEMENT_FAILED', `cannot store the file: no storage peer took shard ${idx + 1} of ${shards.length} (${errors.join('; ')}); nothing was changed`)
        }
        target[idx] = next
        results[idx] = await attempt(idx)
      }
    }
    return {
      chunk: { id, size: plain.length, encSize: enc.length, k, m, shardSize: (shards[0] as Uint8Array).length },
      shards: shards.map((_, idx) => ({ chunk: id, idx, addr: addrs[idx] as Uint8Array, peer: (target[idx] as ShardBackend).id, status: 'ok' as const }))
    }
  }

  /** Best-effort deletion of shards a failed put uploaded; whatever stays is collected as an orphan later. */
  private async discard (uploaded: Array<{ addr: Uint8Array, peer: string }>): Promise<void> {
    const all = this.backends()
    const done: Array<{ addr: Uint8Array, peer: string }> = []
    await Promise.all(uploaded.map(async u => {
      if (this.store.referenced(u.addr, u.peer)) { done.push(u); return }
      try {
        await all.get(u.peer)?.delete(u.addr)
        done.push(u)
      } catch { /* left for orphan collection */ }
    }))
    this.store.clearPending(done)
  }

  /** Deletes shards uploaded by puts that never committed (the twin was killed mid-put). */
  async collectOrphans (): Promise<number> {
    const pending = this.store.pending()
    await this.discard(pending)
    return pending.length - this.store.pending().length
  }

  /** Marks a path deleted (a new version); earlier versions stay readable. */
  remove (path: string): FileVersion {
    const p = vaultPath(path)
    const last = this.store.latest(p)
    if (last === undefined || last.deleted) throw new VaultError('NOT_FOUND', `no file ${p} in the vault`)
    return this.store.commit({ path: p, size: 0, hash: new Uint8Array(32), modified: Date.now(), deleted: true, chunks: [] }, [], [])
  }

  /** Moves a file: a new version at `to` with the same content, and a deletion at `from`. */
  move (from: string, to: string): FileVersion {
    const f = vaultPath(from)
    const t = vaultPath(to)
    const last = this.store.latest(f)
    if (last === undefined || last.deleted) throw new VaultError('NOT_FOUND', `no file ${f} in the vault`)
    if (f === t) return last
    const moved = this.store.commit({ ...last, path: t, modified: Date.now() }, [], [])
    this.remove(f)
    return moved
  }

  // ---- reading ------------------------------------------------------------------------

  /** The version to read: the latest that is not deleted, or the given one. */
  file (path: string, version?: number): FileVersion {
    const p = vaultPath(path)
    const f = version === undefined ? this.store.latest(p) : this.store.version(p, version)
    if (f === undefined || f.deleted) {
      throw new VaultError('NOT_FOUND', version === undefined ? `no file ${p} in the vault` : `no version ${version} of ${p}`)
    }
    return f
  }

  /** Streams a file's bytes, checking every shard, chunk and the whole file against their hashes. */
  async * read (file: FileVersion): AsyncGenerator<Uint8Array> {
    const hash = createHash('sha256')
    const ahead: Array<Promise<Uint8Array>> = []
    let next = 0
    while (next < file.chunks.length || ahead.length > 0) {
      while (ahead.length < READ_AHEAD_CHUNKS && next < file.chunks.length) {
        const p = this.readChunk(file.chunks[next++] as Uint8Array)
        p.catch(() => {})
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
    const c = this.store.chunk(id)
    if (c === undefined) throw new VaultError('INDEX_DAMAGED', 'the vault index names a chunk it does not describe')
    const rows = this.store.shards(id)
    const all = this.backends()
    const got: Array<Uint8Array | undefined> = new Array(c.k + c.m).fill(undefined)
    let good = 0
    const tryShard = async (row: ShardRow): Promise<void> => {
      const backend = all.get(row.peer)
      let data: Uint8Array | undefined
      try {
        data = backend === undefined ? undefined : await backend.get(row.addr)
      } catch {
        data = undefined
      }
      if (data !== undefined && data.length === c.shardSize && equalBytes(merkleRoot(data), row.addr)) {
        got[row.idx] = data
        good++
        if (row.status !== 'ok') this.store.setShardStatus(id, row.idx, 'ok')
      } else {
        this.store.setShardStatus(id, row.idx, data === undefined ? 'missing' : 'corrupt')
      }
    }
    const preferred = rows.filter(r => r.idx < c.k)
    await Promise.all(preferred.map(tryShard))
    for (const row of rows.filter(r => r.idx >= c.k)) {
      if (good >= c.k) break
      await tryShard(row)
    }
    if (good < c.k) throw new VaultError('CHUNK_LOST', `a chunk cannot be read: only ${good} of the ${c.k} shards needed are available`)
    // The code is systematic: with every data shard at hand, the chunk is their concatenation.
    const systematic = got.slice(0, c.k).every(x => x !== undefined)
    const enc = systematic
      ? Buffer.concat(got.slice(0, c.k) as Uint8Array[]).subarray(0, c.encSize)
      : await decodeShards(got, c.k, c.m, c.encSize)
    this.reads.chunks++
    if (!systematic) this.reads.decoded++
    const plain = decryptChunk(this.keys.chunkKey(id), id, enc)
    if (!equalBytes(this.keys.chunkId(plain), id)) throw new VaultError('CHUNK_CORRUPT', 'a chunk does not match its id')
    return plain
  }

  list (prefix = '/'): FileVersion[] {
    return this.store.list(prefix === '/' ? '/' : vaultPath(prefix))
  }

  versions (path: string): FileVersion[] {
    const v = this.store.versions(vaultPath(path))
    if (v.length === 0) throw new VaultError('NOT_FOUND', `no file ${vaultPath(path)} in the vault`)
    return v
  }

  // ---- health -------------------------------------------------------------------------

  /** Downloads every shard and checks it against its address; records what is missing or corrupt. */
  async verify (onProgress?: (p: Progress) => void): Promise<{ checked: number, ok: number, missing: number, corrupt: number }> {
    const shards = this.store.allShards()
    const all = this.backends()
    const result = { checked: 0, ok: 0, missing: 0, corrupt: 0 }
    await pool(shards, 8, async s => {
      const backend = all.get(s.peer)
      let data: Uint8Array | undefined
      let reachable = backend !== undefined
      try {
        data = backend === undefined ? undefined : await backend.get(s.addr)
      } catch {
        reachable = false
      }
      const status = data === undefined ? 'missing' : equalBytes(merkleRoot(data), s.addr) ? 'ok' : 'corrupt'
      this.store.setShardStatus(s.chunk, s.idx, status)
      this.store.recordCheck(s.peer, reachable)
      result.checked++
      result[status]++
      onProgress?.({ done: result.checked, total: shards.length })
    })
    return result
  }

  /**
   * Audits a sample of shards without downloading them: a random 16 KiB leaf each, proven
   * against the shard's address, so a peer cannot pass without holding the data.
   */
  async audit (sample = 64): Promise<{ checked: number, failed: number }> {
    const shards = this.store.allShards()
    const picked = shards.length <= sample ? shards : Array.from({ length: sample }, () => shards[randomInt(shards.length)] as ShardRow)
    const all = this.backends()
    let failed = 0
    await pool(picked, 8, async s => {
      const c = this.store.chunk(s.chunk)
      const backend = all.get(s.peer)
      if (c === undefined) return
      const leaf = randomInt(leafCount(c.shardSize))
      let ok = false
      let reachable = backend !== undefined
      try {
        const answer = backend === undefined ? undefined : await backend.audit(s.addr, leaf)
        ok = answer !== undefined && verifyMerkleProof(s.addr, c.shardSize, leaf, answer.leaf, answer.proof)
        if (!ok) this.store.setShardStatus(s.chunk, s.idx, answer === undefined ? 'missing' : 'corrupt')
      } catch {
        reachable = false
        this.store.setShardStatus(s.chunk, s.idx, 'missing')
      }
      this.store.recordCheck(s.peer, reachable)
      if (!ok) failed++
    })
    return { checked: picked.length, failed }
  }

  /**
   * Rebuilds every shard marked missing or corrupt, or held by a removed peer, from k healthy
   * ones, onto a peer that holds no other shard of its chunk when there is one. The index
   * changes only after the new shard is stored.
   */
  async repair (): Promise<{ repaired: number, failed: number }> {
    const active = new Set(this.store.peers().map(p => p.id))
    const bad = this.store.allShards().filter(s => s.status !== 'ok' || !active.has(s.peer))
    const byChunk = new Map<string, ShardRow[]>()
    for (const s of bad) {
      const key = toHex(s.chunk)
      byChunk.set(key, [...(byChunk.get(key) ?? []), s])
    }
    let repaired = 0
    let failed = 0
    const all = this.backends()
    await pool([...byChunk.values()], 4, async list => {
      const id = (list[0] as ShardRow).chunk
      const c = this.store.chunk(id)
      if (c === undefined) return
      let shards: Uint8Array[]
      try {
        const plain = await this.readChunk(id)
        shards = await encodeShards(encryptChunk(this.keys.chunkKey(id), id, plain), c.k, c.m)
      } catch {
        failed += list.length
        return
      }
      const holders = new Set(this.store.shards(id).filter(s => s.status === 'ok' && active.has(s.peer)).map(s => s.peer))
      for (const s of this.store.shards(id).filter(x => x.status !== 'ok' || !active.has(x.peer))) {
        const data = shards[s.idx] as Uint8Array
        if (!equalBytes(merkleRoot(data), s.addr)) { failed++; continue }
        const candidates = [...this.activeBackends().filter(b => !holders.has(b.id) && b.id !== s.peer), ...(active.has(s.peer) && all.get(s.peer) !== undefined ? [all.get(s.peer) as ShardBackend] : [])]
        let done = false
        for (const target of candidates) {
          try {
            await target.put(s.addr, data)
            this.store.moveShard(id, s.idx, target.id)
            holders.add(target.id)
            done = true
            break
          } catch { /* next candidate */ }
        }
        if (done) repaired++
        else failed++
      }
    })
    return { repaired, failed }
  }

  /**
   * Per-file health: healthy (every shard ok on an active peer), degraded (readable, but some
   * shards are lost or wait on a removed peer: repair will fix it), lost (fewer than k shards
   * of some chunk are left). The margin of a chunk is how many more shards it can lose.
   */
  health (): { files: number, healthy: number, degraded: number, lost: number, worstMargin: number | null } {
    const active = new Set(this.store.peers().map(p => p.id))
    const state = new Map<string, { margin: number, full: boolean }>()
    for (const c of this.store.allChunks()) {
      const shards = this.store.shards(c.id)
      const ok = shards.filter(s => s.status === 'ok')
      state.set(toHex(c.id), { margin: ok.length - c.k, full: ok.length === c.k + c.m && ok.every(s => active.has(s.peer)) })
    }
    let healthy = 0
    let degraded = 0
    let lost = 0
    let worst: number | null = null
    const files = this.store.list('/')
    for (const f of files) {
      const chunks = f.chunks.map(id => state.get(toHex(id)) ?? { margin: -1, full: false })
      const min = chunks.length === 0 ? Infinity : Math.min(...chunks.map(c => c.margin))
      if (min < 0) lost++
      else if (chunks.every(c => c.full)) healthy++
      else degraded++
      if (min !== Infinity) worst = worst === null ? min : Math.min(worst, min)
    }
    return { files: files.length, healthy, degraded, lost, worstMargin: worst }
  }

  // ---- index snapshots ----------------------------------------------------------------

  /**
   * Stores the whole index as an ordinary vault object (chunked, encrypted, erasure-coded) and
   * a signed root pointer naming it on every peer; the highest sequence wins at restore.
   */
  async snapshot (): Promise<number> {
    const data = encodeCbor({
      v: 1,
      files: this.store.allFiles().map(f => ({ ...f, deleted: f.deleted ? 1 : 0 })),
      chunks: this.store.allChunks(),
      shards: this.store.allShards(),
      peers: this.store.peers(true).map(p => ({ id: p.id, address: p.address, kind: p.kind, added: p.added, removed: p.removed }))
    })
    const peers = this.activeBackends()
    const { k, m } = codeFor(peers.length)
    const ids: Uint8Array[] = []
    const chunks: ChunkRow[] = []
    const shards: ShardRow[] = []
    const uploaded: Array<{ addr: Uint8Array, peer: string }> = []
    let slot = 0
    for await (const chunk of chunkStream(single(data))) {
      const id = this.keys.chunkId(chunk)
      ids.push(id)
      const stored = await this.storeChunk(id, chunk, k, m, peers, slot++, uploaded)
      chunks.push(stored.chunk)
      shards.push(...stored.shards)
    }
    const seq = Number(this.store.setting('root-seq') ?? '0') + 1
    // The snapshot's own chunks are described inside the root, since the restored index cannot
    // describe itself; sealed, since the description names every other peer holding a shard.
    const snapshot: SnapshotRef = { size: data.length, chunks: ids.map(id => encodeCbor({ chunk: chunks.find(c => equalBytes(c.id, id)), shards: shards.filter(s => equalBytes(s.chunk, id)) })) }
    const header = { id: this.signer.id, seq, created: Date.now() }
    const r = { v: 2 as const, ...header, snap: sealForOwner(this.keys.rootKey, rootAad(header), encodeCbor(snapshot)) }
    const root = encodeCbor({ r, sig: this.signer.sign(encodeCbor(r)) })
    let kept = 0
    await Promise.all(peers.map(async b => { try { await b.putRoot(root); kept++ } catch { /* others keep it */ } }))
    if (kept === 0) throw new VaultError('SNAPSHOT_FAILED', 'no storage peer took the vault index snapshot')
    this.store.clearPending(uploaded)
    this.store.setSetting('root-seq', String(seq))
    // The previous snapshot's shards are no longer needed once the new root is out.
    const previous = this.store.setting('root-shards')
    this.store.setSetting('root-shards', JSON.stringify(shards.map(s => [toHex(s.addr), s.peer])))
    if (previous !== undefined) {
      const all = this.backends()
      const fresh = new Set(shards.map(s => toHex(s.addr) + s.peer))
      for (const [addr, peer] of JSON.parse(previous) as Array<[string, string]>) {
        if (!fresh.has(addr + peer)) await all.get(peer)?.delete(fromHex(addr)).catch(() => {})
      }
    }
    return seq
  }

  private openSnapshot (r: z.infer<typeof rootV2Schema>['r']): SnapshotRef {
    const parsed = snapshotSchema.safeParse(decodeCbor(openForOwner(this.keys.rootKey, rootAad(r), r.snap, 'snapshot description'), 'snapshot description'))
    if (!parsed.success) throw new VaultError('ROOT_INVALID', 'a root\'s snapshot description has the wrong shape')
    return parsed.data
  }

  /** Rebuilds the index from the newest valid root found on the peers (either root version). */
  async recover (): Promise<{ seq: number, files: number } | undefined> {
    let best: { seq: number, snapshot: SnapshotRef } | undefined
    for (const b of this.activeBackends()) {
      try {
        const bytes = await b.getRoot()
        if (bytes === undefined) continue
        const parsed = rootSchema.safeParse(decodeCbor(bytes, 'vault root'))
        if (!parsed.success) continue
        const { r, sig } = parsed.data
        if (r.id !== this.signer.id || !this.signer.verify(encodeCbor(r), sig)) continue
        if (best !== undefined && r.seq <= best.seq) continue
        best = { seq: r.seq, snapshot: r.v === 1 ? r.snapshot : this.openSnapshot(r) }
      } catch { /* an unreachable or lying peer, or a root this vault's key does not open, is skipped */ }
    }
    if (best === undefined) return undefined
    // Teach the store the snapshot's chunks so readChunk can find them, then read the snapshot.
    const described = best.snapshot.chunks.map(b => decodeCbor(b, 'snapshot chunk') as { chunk: ChunkRow, shards: ShardRow[] })
    this.store.addChunks(described.map(d => d.chunk), described.flatMap(d => d.shards))
    const parts: Uint8Array[] = []
    for (const d of described) parts.push(await this.readChunk(d.chunk.id))
    const data = Buffer.concat(parts)
    const index = decodeCbor(new Uint8Array(data), 'vault index') as { files: Array<Omit<FileVersion, 'deleted'> & { deleted: number }>, chunks: ChunkRow[], shards: ShardRow[], peers: PeerRow[] }
    this.store.replaceAll({
      files: index.files.map(f => ({ ...f, deleted: f.deleted === 1 })),
      chunks: index.chunks,
      shards: index.shards,
      peers: index.peers.map(p => ({ ...p, checks: 0, failures: 0, lastSeen: null }))
    })
    this.store.setSetting('root-seq', String(best.seq))
    return { seq: best.seq, files: this.store.list('/').length }
  }
}

async function * single (data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data
}

async function * hashing (source: AsyncIterable<Uint8Array>, hash: ReturnType<typeof createHash>, count: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const piece of source) {
    hash.update(piece)
    count(piece.length)
    yield piece
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T)
  }))
}

