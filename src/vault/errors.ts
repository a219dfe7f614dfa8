import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the vault part's errors, each with its HTTP status (docs/ERRORS.md). */
export const VAULT_ERRORS = {
  NOT_FOUND: 404, // no such file or version in the vault, or no such storage peer
  PATH_INVALID: 400, // a vault path that is empty, too long, or has control characters, . or .. parts
  FILE_UNREADABLE: 400, // a file or folder to store that cannot be read on this machine
  FILE_CHANGED: 409, // a file or folder that changed, or was replaced, while it was being stored: nothing was stored
  NO_STORAGE: 503, // the vault has no storage peer
  PLACEMENT_FAILED: 502, // no storage peer took a shard of the file: nothing was stored
  SNAPSHOT_FAILED: 502, // no storage peer took the index snapshot
  CHUNK_LOST: 502, // fewer shards of a chunk can be read than it needs
  CHUNK_CORRUPT: 500, // a chunk does not decrypt, or does not match its id
  FILE_CORRUPT: 500, // a file read back does not match its hash
  INDEX_DAMAGED: 500, // the vault index names a chunk it does not describe
  SEALED_INVALID: 500, // something sealed for the owner does not open with this vault's key
  ROOT_INVALID: 500, // a root pointer's snapshot description has the wrong shape
  ERASURE_FAILED: 500 // erasure coding refused its input (`reason` says why)
} as const satisfies ErrorCodes
export type VaultErrorCode = keyof typeof VAULT_ERRORS

/** A vault operation that failed; the message says what happened in one sentence. */
export class VaultError extends TwinError {
  declare readonly code: VaultErrorCode
  constructor (code: VaultErrorCode, message: string) {
    super(code, VAULT_ERRORS[code], message)
    this.name = 'VaultError'
  }
}

/** Why erasure coding refused its input; `reason` is stable, the message says it in words. */
export type ErasureFailure =
  | 'bad-parameters' | 'bad-input' | 'too-large' | 'too-few-shards' | 'shard-size' | 'native-unavailable'

/** Shards that cannot be encoded or decoded as asked: bad (k, m), wrong sizes, too few shards. */
export class ErasureError extends TwinError {
  readonly reason: ErasureFailure
  constructor (reason: ErasureFailure, message: string, options?: { cause?: unknown }) {
    super('ERASURE_FAILED', VAULT_ERRORS.ERASURE_FAILED, message, options)
    this.name = 'ErasureError'
    this.reason = reason
  }
}
