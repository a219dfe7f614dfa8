import { TwinError } from '../errors.js'

/** Why erasure coding refused its input; `reason` is stable, the message says it in words. */
export type ErasureFailure =
  | 'bad-parameters' | 'bad-input' | 'too-large' | 'too-few-shards' | 'shard-size' | 'native-unavailable'

/** Shards that cannot be encoded or decoded as asked: bad (k, m), wrong sizes, too few shards. */
export class ErasureError extends TwinError {
  readonly reason: ErasureFailure
  constructor (reason: ErasureFailure, message: string, options?: { cause?: unknown }) {
    super('ERASURE_FAILED', message, options)
    this.name = 'ErasureError'
    this.reason = reason
  }
}

/** Why a vault operation failed; each code has one meaning. */
export type VaultErrorCode =
  | 'NO_STORAGE' // the vault has no storage peer at all
  | 'PATH_INVALID' // a vault path that is empty, relative in parts, too long or has control characters
  | 'NOT_FOUND' // no such file, version or storage peer
  | 'PLACEMENT_FAILED' // no storage peer took a shard: the put changed nothing
  | 'INDEX_DAMAGED' // the index names a chunk it does not describe
  | 'CHUNK_LOST' // fewer than k shards of a chunk can be read
  | 'CHUNK_CORRUPT' // a chunk does not decrypt or does not match its id
  | 'FILE_CORRUPT' // a whole file does not match its hash
  | 'SNAPSHOT_FAILED' // no storage peer took the index snapshot's root
  | 'ROOT_INVALID' // a root pointer whose sealed description has the wrong shape
  | 'SEALED_INVALID' // a value sealed for the owner that this vault's key does not open
  | 'KEYFILE_MISMATCH' // the key file's vault key is not the one this index was written with
  | 'FILE_UNREADABLE' // a file on this machine that cannot be read to be stored
  | 'FILE_CHANGED' // a file on this machine that changed, or was replaced, while it was stored

/** A vault operation that cannot be done; the message says why in words a user can act on. */
export class VaultError extends TwinError {
  declare readonly code: VaultErrorCode
  constructor (code: VaultErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'VaultError'
  }
}
