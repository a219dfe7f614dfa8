import { BackendError, type ShardBackend } from '../shards/index.js'
import { VaultError } from './errors.js'
import type { Upload } from './parts.js'

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

/**
 * A shard whose peer was unreachable, with no other peer left to take it, is sent to the same
 * peers again this many times, on a new stream each time, waiting 1 s, 2 s, 4 s before: a
 * connection that broke on a slow or lossy link must not fail the whole file (issue 14).
 */
export const SHARD_RETRIES = 3
const RETRY_FIRST_WAIT_MS = 1_000

export interface PlaceRequest {
  /** The chunk's shards and their addresses, index for index. */
  shards: Uint8Array[]
  addrs: Uint8Array[]
  /** The active peers; shard i goes to peer (i + slot) mod P first. */
  peers: ShardBackend[]
  /** The chunk's position in its put: rotating by it spreads the load over the peers. */
  slot: number
  /** Records uploads as pending before they are sent, so a put that never commits leaves no untracked shard. */
  pending: (uploads: Upload[]) => void
  /** The wait before the first retry of a shard on a peer already tried (tests shorten it). */
  retryWaitMs?: number
}

/** Where each shard went (peer id by shard index), and every upload tried, also on failure. */
export type Placement =
  | { ok: true, peers: string[], attempted: Upload[] }
  | { ok: false, error: VaultError, attempted: Upload[] }

/**
 * Stores each shard of one chunk on a distinct peer. A peer that refuses (full, unreachable)
 * is replaced by one that holds no shard of this chunk yet; when none is left, a shard whose
 * peers were only unreachable is sent to them again (SHARD_RETRIES), and then the placement
 * fails: two shards of a chunk on one peer would silently lower the margin.
 */
export async function placeShards (req: PlaceRequest): Promise<Placement> {
  const { shards, addrs, peers, slot } = req
  const rotated = peers.map((_, i) => peers[(i + slot) % peers.length] as ShardBackend)
  // Peers that just failed go last: they are tried only when the others are not enough.
  const order = [...rotated.filter(p => p.down !== true), ...rotated.filter(p => p.down === true)]
  const target: ShardBackend[] = shards.map((_, idx) => order[idx] as ShardBackend)
  const spare = order.slice(shards.length)
  const upload = (idx: number): Upload => ({ addr: addrs[idx] as Uint8Array, peer: (target[idx] as ShardBackend).id })
  // The first choices are marked pending together (one write for the chunk), a replacement on its own.
  const attempted: Upload[] = shards.map((_, idx) => upload(idx))
  req.pending(attempted)
  const errors: string[] = []
  // Per shard, the peers it could not reach: a retry goes to them (one that refused, e.g. full, gets none).
  const unreachable: ShardBackend[][] = shards.map(() => [])
  const send = async (idx: number): Promise<boolean> => {
    const backend = target[idx] as ShardBackend
    try {
      await backend.put(addrs[idx] as Uint8Array, shards[idx] as Uint8Array)
      return true
    } catch (err) {
      errors.push(`${backend.id}: ${(err as Error).message}`)
      if (err instanceof BackendError && err.reason === 'unreachable') unreachable[idx]?.push(backend)
      return false
    }
  }
  const stored = await Promise.all(shards.map(async (_, idx) => await send(idx)))
  for (let idx = 0; idx < shards.length; idx++) {
    let retries = 0
    while (stored[idx] !== true) {
      const next = spare.shift()
      const again = unreachable[idx] as ShardBackend[]
      if (next === undefined && again.length > 0 && retries < SHARD_RETRIES) {
        await new Promise(resolve => setTimeout(resolve, (req.retryWaitMs ?? RETRY_FIRST_WAIT_MS) * 2 ** retries))
        target[idx] = again[retries % again.length] as ShardBackend
        retries++
        stored[idx] = await send(idx)
        continue
      }
      if (next === undefined) {
        const error = new VaultError('PLACEMENT_FAILED', `cannot store the file: no storage peer took shard ${idx + 1} of ${shards.length} (${errors.join('; ')}); nothing was changed`)
        return { ok: false, error, attempted }
      }
      target[idx] = next
      const replacement = upload(idx)
      req.pending([replacement])
      attempted.push(replacement)
      stored[idx] = await send(idx)
    }
  }
  return { ok: true, peers: target.map(b => b.id), attempted }
}
