// The vault's public surface: other parts import from here only.
export { Vault, type Progress, type PutResult, type RootSigner } from './vault.js'
export { codeFor } from './placement.js'
export { vaultPath } from './paths.js'
export { pool } from './pool.js'
export { VaultStore, type FileVersion, type ChunkRow, type ShardRow, type PeerRow, type ShardStatus } from './store.js'
export { VaultKeys } from './crypto.js'
export { BackendError, type BackendErrorCode, type ShardBackend, type AuditProof } from './backend.js'
export { FolderShardStore, type ShardAccount } from './local-store.js'
export { estimateDurability } from './durability.js'
export { openLocator, sealLocator, MAX_LOCATOR_ADDRS, MAX_LOCATOR_NODES, type NodeLocation } from './locator.js'
export { LEAF_SIZE, merkleRoot, merkleProof, verifyMerkleProof } from './merkle.js'
export { VaultError, type VaultErrorCode } from './errors.js'
export { encodeShards, decodeShards } from './erasure.js'
export { encodeShardsPortable, decodeShardsPortable } from './erasure-portable.js'
export {
  MAX_DATA_SHARDS, MAX_PARITY_SHARDS, SHARD_ALIGNMENT, MAX_SHARDS_BYTES, shardSize, codeParameters,
  type CodeParameters
} from './erasure-layout.js'
export { code as erasureCode, type Code as ErasureCode } from './erasure-matrix.js'
export { ErasureError, type ErasureFailure } from './errors.js'
