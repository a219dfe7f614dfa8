import { z } from 'zod'
import { bytesSchema, decodeCbor, encodeCbor, equalBytes, fromHex, toHex } from '../wire/index.js'
import { chunkStream } from './chunker.js'
import { openForOwner, sealForOwner } from './crypto.js'
import { VaultError } from './errors.js'
import { activeBackends, type Upload, type VaultParts } from './parts.js'
import { codeFor } from './placement.js'
import type { VaultReader } from './reader.js'
import type { ChunkRow, FileVersion, PeerRow, ShardRow } from './store.js'
import { storeChunk } from './writer.js'

/** Signs the vault root pointer: provided by the twin, which holds the signing key. */
export interface RootSigner {
  id: string
  sign: (payload: Uint8Array) => Uint8Array
  verify: (payload: Uint8Array, signature: Uint8Array) => boolean
}

const snapshotSchema = z.strictObject({ size: z.number().int().min(0), chunks: z.array(bytesSchema()) })
const rootHeader = { id: z.string().max(100), seq: z.number().int().min(0), created: z.number().int().min(0) }
/** Version 1 (read only): the snapshot's description in plain CBOR, which told each node where the others are. */
const rootV1Schema = z.strictObject({ r: z.strictObject({ v: z.literal(1), ...rootHeader, snapshot: snapshotSchema }), sig: bytesSchema(64) })
/** Version 2: the description sealed under the root key; a node still checks id, seq and signature. */
const rootV2Schema = z.strictObject({ r: z.strictObject({ v: z.literal(2), ...rootHeader, snap: bytesSchema() }), sig: bytesSchema(64) })
const rootSchema = z.union([rootV1Schema, rootV2Schema])
type SnapshotRef = z.infer<typeof snapshotSchema>
type IndexSnapshot = { files: Array<Omit<FileVersion, 'deleted'> & { deleted: number }>, chunks: ChunkRow[], shards: ShardRow[], peers: PeerRow[] }

/** Associated data of a root's sealed snapshot description: the root's own header. */
const rootAad = (r: { id: string, seq: number, created: number }): Uint8Array => encodeCbor({ v: 2, id: r.id, seq: r.seq, created: r.created })

/**
 * Index snapshots (docs/PROTOCOL.md §13): the whole index stored as an ordinary vault object,
 * named by a signed root pointer that every peer keeps (highest sequence wins), so the phrase
 * alone brings the index back.
 */
export class VaultSnapshots {
  constructor (private readonly parts: VaultParts, private readonly reader: VaultReader, private readonly signer: RootSigner) {}

  /** Stores the index and a new root on every peer; returns the root's sequence number. */
  async snapshot (): Promise<number> {
    const { store, keys } = this.parts
    const data = encodeCbor({
      v: 1,
      files: store.allFiles().map(f => ({ ...f, deleted: f.deleted ? 1 : 0 })),
      chunks: store.allChunks(),
      shards: store.allShards(),
      peers: store.peers(true).map(p => ({ id: p.id, address: p.address, kind: p.kind, added: p.added, removed: p.removed }))
    })
    const peers = activeBackends(this.parts)
    const code = codeFor(peers.length)
    const ids: Uint8Array[] = []
    const chunks: ChunkRow[] = []
    const shards: ShardRow[] = []
    const attempted: Upload[] = []
    let slot = 0
    for await (const plain of chunkStream(single(data))) {
      const id = keys.chunkId(plain)
      ids.push(id)
      const stored = await storeChunk(this.parts, { id, plain, code, peers, slot: slot++ })
      attempted.push(...stored.attempted)
      // What was uploaded stays pending, and is collected as orphans.
      if (!stored.ok) throw stored.error
      chunks.push(stored.chunk)
      shards.push(...stored.shards)
    }
    const seq = Number(store.setting('root-seq') ?? '0') + 1
    // The snapshot's own chunks are described inside the root, since the restored index cannot
    // describe itself; sealed, since the description names every other peer holding a shard.
    const snapshot: SnapshotRef = { size: data.length, chunks: ids.map(id => encodeCbor({ chunk: chunks.find(c => equalBytes(c.id, id)), shards: shards.filter(s => equalBytes(s.chunk, id)) })) }
    const header = { id: this.signer.id, seq, created: Date.now() }
    const r = { v: 2 as const, ...header, snap: sealForOwner(keys.rootKey, rootAad(header), encodeCbor(snapshot)) }
    const root = encodeCbor({ r, sig: this.signer.sign(encodeCbor(r)) })
    let kept = 0
    await Promise.all(peers.map(async b => {
      try {
        await b.putRoot(root)
        kept++
      } catch { /* the other peers keep it; none at all fails the snapshot below */ }
    }))
    if (kept === 0) throw new VaultError('SNAPSHOT_FAILED', 'no storage peer took the vault index snapshot')
    store.clearPending(attempted)
    store.setSetting('root-seq', String(seq))
    await this.dropPrevious(shards)
    return seq
  }

  /** The previous snapshot's shards are no longer needed once the new root is out. */
  private async dropPrevious (fresh: ShardRow[]): Promise<void> {
    const { store } = this.parts
    const previous = store.setting('root-shards')
    store.setSetting('root-shards', JSON.stringify(fresh.map(s => [toHex(s.addr), s.peer])))
    if (previous === undefined) return
    const all = this.parts.backends()
    const keep = new Set(fresh.map(s => toHex(s.addr) + s.peer))
    for (const [addr, peer] of JSON.parse(previous) as Array<[string, string]>) {
      if (keep.has(addr + peer)) continue
      await all.get(peer)?.delete(fromHex(addr)).catch(() => { /* left on the peer: unreferenced, it costs space only */ })
    }
  }

  /** Rebuilds the index from the newest valid root found on the peers (either root version). */
  async recover (): Promise<{ seq: number, files: number } | undefined> {
    const { store } = this.parts
    const best = await this.newestRoot()
    if (best === undefined) return undefined
    // Teach the store the snapshot's chunks so the reader can find them, then read the snapshot.
    const described = best.snapshot.chunks.map(b => decodeCbor(b, 'snapshot chunk') as { chunk: ChunkRow, shards: ShardRow[] })
    store.addChunks(described.map(d => d.chunk), described.flatMap(d => d.shards))
    const parts: Uint8Array[] = []
    for (const d of described) parts.push(await this.reader.readChunk(d.chunk.id))
    const index = decodeCbor(new Uint8Array(Buffer.concat(parts)), 'vault index') as IndexSnapshot
    store.replaceAll({
      files: index.files.map(f => ({ ...f, deleted: f.deleted === 1 })),
      chunks: index.chunks,
      shards: index.shards,
      peers: index.peers.map(p => ({ ...p, checks: 0, failures: 0, lastSeen: null }))
    })
    store.setSetting('root-seq', String(best.seq))
    return { seq: best.seq, files: store.list('/').length }
  }

  /** The highest-sequence root that this twin signed and this vault's key opens. */
  private async newestRoot (): Promise<{ seq: number, snapshot: SnapshotRef } | undefined> {
    let best: { seq: number, snapshot: SnapshotRef } | undefined
    for (const b of activeBackends(this.parts)) {
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
    return best
  }

  private openSnapshot (r: z.infer<typeof rootV2Schema>['r']): SnapshotRef {
    const parsed = snapshotSchema.safeParse(decodeCbor(openForOwner(this.parts.keys.rootKey, rootAad(r), r.snap, 'snapshot description'), 'snapshot description'))
    if (!parsed.success) throw new VaultError('ROOT_INVALID', 'a root\'s snapshot description has the wrong shape')
    return parsed.data
  }
}

async function * single (data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data
}
