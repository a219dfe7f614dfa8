// The shards part's public surface: where shards live and how they are addressed. The vault
// writes and reads through a ShardBackend; a storage node keeps each owner's shards in a
// FolderShardStore; both check shards against their Merkle addresses.
export type { ShardBackend, AuditProof } from './backend.js'
export { BackendError, SHARD_ERRORS, type BackendErrorCode, type ShardErrorCode } from './errors.js'
export { FolderShardStore, type ShardAccount } from './folder-store.js'
export { LEAF_SIZE, leafCount, merkleRoot, merkleProof, verifyMerkleProof } from './merkle.js'
