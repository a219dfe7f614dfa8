// The vault part's public surface; other parts import only this.
export { Vault, codeFor, vaultPath, type PutResult, type Progress, type RootSigner } from './vault.js'
export { VaultStore, type FileVersion, type ChunkRow, type ShardRow, type ShardStatus, type PeerRow } from './store.js'
export { VaultKeys } from './crypto.js'
export { sealLocator, openLocator, MAX_LOCATOR_ADDRS, MAX_LOCATOR_NODES, type NodeLocation } from './locator.js'
export { estimateDurability } from './durability.js'
export { encodeShards, decodeShards } from './erasure.js'
export { encodeShardsPortable, decodeShardsPortable } from './erasure-portable.js'
export {
  MAX_DATA_SHARDS, MAX_PARITY_SHARDS, SHARD_ALIGNMENT, MAX_SHARDS_BYTES, shardSize, codeParameters,
  type CodeParameters
} from './erasure-layout.js'
export { code as erasureCode, type Code as ErasureCode } from './erasure-matrix.js'
export { VaultError, ErasureError, VAULT_ERRORS, type VaultErrorCode, type ErasureFailure } from './errors.js'
