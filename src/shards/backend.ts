/** An audit answer: one leaf of a shard and the Merkle proof from it to the shard's address. */
export interface AuditProof { leaf: Uint8Array, proof: Uint8Array[] }

/**
 * Where shards live: a storage node over libp2p (the normal case) or a local folder (the
 * embedded default and tests). Shards are addressed by their Merkle root; a backend never sees
 * plaintext. Every implementation passes the same compliance suite (test/unit/backend-suite.ts).
 */
export interface ShardBackend {
  /** Stable id: a storage node's peer id, or `local:<n>`. */
  readonly id: string
  /**
   * True while the backend's last attempt failed and it is left alone for a while: reads and
   * puts, which have other peers to go to, skip it; checks and repairs, which the user runs,
   * try it anyway. Absent means never down (a local folder).
   */
  readonly down?: boolean
  /** Stores a shard; resolves once it is durably stored. Throws BackendError (`over-quota`, `rejected`, `unreachable`). */
  put: (addr: Uint8Array, data: Uint8Array) => Promise<void>
  /** The shard's bytes as the backend holds them (the caller checks them), or undefined. */
  get: (addr: Uint8Array) => Promise<Uint8Array | undefined>
  delete: (addr: Uint8Array) => Promise<void>
  /** Leaf `leaf` of a shard with its proof, or undefined when the shard is gone. */
  audit: (addr: Uint8Array, leaf: number) => Promise<AuditProof | undefined>
  /** Addresses of every shard held for this owner. */
  list: () => Promise<Uint8Array[]>
  stat: () => Promise<{ used: number, quota: number | null }>
  /** Keeps the owner's signed root pointer if it is newer than the one held. */
  putRoot: (root: Uint8Array) => Promise<void>
  getRoot: () => Promise<Uint8Array | undefined>
}
