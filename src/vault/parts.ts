import type { ShardBackend } from '../shards/index.js'
import type { VaultKeys } from './crypto.js'
import type { VaultStore } from './store.js'

/** What each part of the vault (writer, reader, health, snapshots) works with. */
export interface VaultParts {
  store: VaultStore
  keys: VaultKeys
  /** Backends of every peer ever used, by id: removed peers too, so their shards stay readable until repaired. */
  backends: () => Map<string, ShardBackend>
}

/** Backends of the peers that take new shards, in the index's order (the order placement rotates). */
export function activeBackends (parts: VaultParts): ShardBackend[] {
  const all = parts.backends()
  return parts.store.peers().map(p => all.get(p.id)).filter((b): b is ShardBackend => b !== undefined)
}

/** A shard sent to a peer, whether or not the peer kept it: until a commit references it, a possible orphan. */
export interface Upload { addr: Uint8Array, peer: string }
