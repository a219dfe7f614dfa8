export { encodeShards, decodeShards } from './erasure.js'
export { encodeShardsPortable, decodeShardsPortable } from './erasure-portable.js'
export {
  MAX_DATA_SHARDS, MAX_PARITY_SHARDS, SHARD_ALIGNMENT, MAX_SHARDS_BYTES, shardSize, codeParameters,
  type CodeParameters
} from './erasure-layout.js'
export { code as erasureCode, type Code as ErasureCode } from './erasure-matrix.js'
export { ErasureError, type ErasureFailure } from './errors.js'
