// The vault part's public surface; other parts import only this.
export { Vault, type Progress, type PutResult, type RootSigner } from './vault.js'
export { codeFor } from './placement.js'
export { vaultPath } from './paths.js'
export { VaultStore, type FileVersion, type ChunkRow, type ShardRow, type PeerRow, type ShardStatus } from './store.js'
export { VaultKeys } from './crypto.js'
export { estimateDurability } from './durability.js'
export { openLocator, sealLocator, MAX_LOCATOR_ADDRS, MAX_LOCATOR_NODES, type NodeLocation } from './locator.js'
export { encodeShards, decodeShards } from './erasure.js'
export { encodeShardsPortable, decodeShardsPortable } from './erasure-portable.js'
export {
  MAX_DATA_SHARDS, MAX_PARITY_SHARDS, SHARD_ALIGNMENT, MAX_SHARDS_BYTES, shardSize, codeParameters,
  type CodeParameters
} from './erasure-layout.js'
export { code as erasureCode, type Code as ErasureCode } from './erasure-matrix.js'
export { VaultError, ErasureError, VAULT_ERRORS, type VaultErrorCode, type ErasureFailure } from './errors.js'
