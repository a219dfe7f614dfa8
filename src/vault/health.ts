import { randomInt } from 'node:crypto'
import { equalBytes, toHex } from '../wire/index.js'
import type { ShardBackend } from '../shards/index.js'
import { encryptChunk } from './crypto.js'
import { encodeShards } from './erasure.js'
import { ErasureError, VaultError } from './errors.js'
import { leafCount, merkleRoot, verifyMerkleProof } from '../shards/index.js'
import { activeBackends, type VaultParts } from './parts.js'
import { pool } from './pool.js'
import type { VaultReader } from './reader.js'
import type { ShardRow, ShardUpdate } from './store.js'
import type { Progress } from './writer.js'

export interface VerifyResult { checked: number, ok: number, missing: number, corrupt: number }
export interface AuditResult { checked: number, failed: number }
export interface RepairResult { repaired: number, failed: number }
export interface HealthSummary { files: number, healthy: number, degraded: number, lost: number, worstMargin: number | null }

/**
 * Finds and fixes lost shards: `verify` (every shard downloaded and checked, exact), `audit`
 * (a sample proven leaf by leaf, cheap), `repair` (rebuilt from k good shards), and the
 * per-file summary `health`. Every check also counts toward its peer's availability.
 */
export class VaultHealth {
  constructor (private readonly parts: VaultParts, private readonly reader: VaultReader) {}

  /** Downloads every shard and checks it against its address; records what is missing or corrupt. */
  async verify (onProgress?: (p: Progress) => void): Promise<VerifyResult> {
    const { store } = this.parts
    const shards = store.allShards()
    const all = this.parts.backends()
    const result = { checked: 0, ok: 0, missing: 0, corrupt: 0 }
    await pool(shards, 8, async s => {
      const backend = all.get(s.peer)
      let data: Uint8Array | undefined
      let reachable = backend !== undefined
      try {
        data = backend === undefined ? undefined : await backend.get(s.addr)
      } catch {
        reachable = false // counted as missing, and against the peer's availability
      }
      const status = data === undefined ? 'missing' : equalBytes(merkleRoot(data), s.addr) ? 'ok' : 'corrupt'
      store.setShardStatus(s.chunk, s.idx, status)
      store.recordCheck(s.peer, reachable)
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
  async audit (sample = 64): Promise<AuditResult> {
    const { store } = this.parts
    const shards = store.allShards()
    const picked = shards.length <= sample ? shards : Array.from({ length: sample }, () => shards[randomInt(shards.length)] as ShardRow)
    const all = this.parts.backends()
    let failed = 0
    await pool(picked, 8, async s => {
      const c = store.chunk(s.chunk)
      const backend = all.get(s.peer)
      if (c === undefined) return
      const leaf = randomInt(leafCount(c.shardSize))
      let ok = false
      let reachable = backend !== undefined
      try {
        const answer = backend === undefined ? undefined : await backend.audit(s.addr, leaf)
        ok = answer !== undefined && verifyMerkleProof(s.addr, c.shardSize, leaf, answer.leaf, answer.proof)
        if (!ok) store.setShardStatus(s.chunk, s.idx, answer === undefined ? 'missing' : 'corrupt')
      } catch {
        reachable = false
        store.setShardStatus(s.chunk, s.idx, 'missing')
      }
      store.recordCheck(s.peer, reachable)
      if (!ok) failed++
    })
    return { checked: picked.length, failed }
  }

  /**
   * Rebuilds every shard marked missing or corrupt, or held by a removed peer, from k healthy
   * ones, onto a peer that holds no other shard of its chunk when there is one. The index
   * changes only after the new shard is stored.
   */
  async repair (): Promise<RepairResult> {
    const { store, keys } = this.parts
    const active = new Set(store.peers().map(p => p.id))
    const bad = store.allShards().filter(s => s.status !== 'ok' || !active.has(s.peer))
    const byChunk = new Map<string, ShardRow[]>()
    for (const s of bad) {
      const key = toHex(s.chunk)
      byChunk.set(key, [...(byChunk.get(key) ?? []), s])
    }
    let repaired = 0
    let failed = 0
    const all = this.parts.backends()
    await pool([...byChunk.values()], 4, async list => {
      const id = (list[0] as ShardRow).chunk
      const c = store.chunk(id)
      if (c === undefined) return
      let shards: Uint8Array[]
      try {
        const plain = await this.reader.readChunk(id)
        shards = await encodeShards(encryptChunk(keys.chunkKey(id), id, plain), c.k, c.m)
      } catch (err) {
        // Fewer than k good shards, or a chunk that does not open: nothing to rebuild from. Any
        // other error (the database, a bug) is not a lost chunk, and stops the repair.
        if (!(err instanceof VaultError || err instanceof ErasureError)) throw err
        failed += list.length
        return
      }
      const moves: ShardUpdate[] = []
      const holders = new Set(store.shards(id).filter(s => s.status === 'ok' && active.has(s.peer)).map(s => s.peer))
      for (const s of store.shards(id).filter(x => x.status !== 'ok' || !active.has(x.peer))) {
        const data = shards[s.idx] as Uint8Array
        if (!equalBytes(merkleRoot(data), s.addr)) { failed++; continue }
        const candidates = [
          ...activeBackends(this.parts).filter(b => !holders.has(b.id) && b.id !== s.peer),
          ...(active.has(s.peer) && all.get(s.peer) !== undefined ? [all.get(s.peer) as ShardBackend] : [])
        ]
        let done = false
        for (const target of candidates) {
          try {
            await target.put(s.addr, data)
            moves.push({ chunk: id, idx: s.idx, status: 'ok', moveTo: target.id })
            holders.add(target.id)
            done = true
            break
          } catch { /* this candidate refused: the next one is tried */ }
        }
        if (done) repaired++
        else failed++
      }
      store.updateShards(moves.splice(0)) // the index changes only after the new shards are stored
    })
    return { repaired, failed }
  }

  /**
   * Per-file health: healthy (every shard ok on an active peer), degraded (readable, but some
   * shards are lost or wait on a removed peer: repair will fix it), lost (fewer than k shards
   * of some chunk are left). The margin of a chunk is how many more shards it can lose.
   */
  health (): HealthSummary {
    const { store } = this.parts
    const active = new Set(store.peers().map(p => p.id))
    const state = new Map<string, { margin: number, full: boolean }>()
    for (const c of store.allChunks()) {
      const ok = store.shards(c.id).filter(s => s.status === 'ok')
      state.set(toHex(c.id), { margin: ok.length - c.k, full: ok.length === c.k + c.m && ok.every(s => active.has(s.peer)) })
    }
    let healthy = 0
    let degraded = 0
    let lost = 0
    let worst: number | null = null
    const files = store.list('/')
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
}
