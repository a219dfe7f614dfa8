import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the shards part's errors, each with its HTTP status (docs/ERRORS.md). */
export const SHARD_ERRORS = {
  STORAGE_OVER_QUOTA: 507, // the storage node holds as much of this twin's data as its quota allows
  STORAGE_REJECTED: 502, // the backend refused the shard or the request (e.g. a shard that does not match its address)
  STORAGE_UNREACHABLE: 502, // the storage node cannot be reached, or did not answer
  STORAGE_NOT_FOUND: 502, // the storage node does not hold what was asked
  STORAGE_NOT_ADMITTED: 403, // the storage node's operator has not admitted this twin (or refused its invite)
  STORAGE_DENIED: 403 // the storage node's operator refused this twin
} as const satisfies ErrorCodes
export type ShardErrorCode = keyof typeof SHARD_ERRORS

/**
 * Why a backend refused: `not-admitted` and `denied` are a storage node's operator's choice
 * (the twin was never admitted, or was refused since), not a fault of the node. These words are
 * also the storage protocol's (docs/PROTOCOL.md).
 */
export type BackendErrorCode = 'over-quota' | 'rejected' | 'unreachable' | 'not-found' | 'not-admitted' | 'denied'

const CODES: Record<BackendErrorCode, ShardErrorCode> = {
  'over-quota': 'STORAGE_OVER_QUOTA',
  rejected: 'STORAGE_REJECTED',
  unreachable: 'STORAGE_UNREACHABLE',
  'not-found': 'STORAGE_NOT_FOUND',
  'not-admitted': 'STORAGE_NOT_ADMITTED',
  denied: 'STORAGE_DENIED'
}

export class BackendError extends TwinError {
  declare readonly code: ShardErrorCode
  readonly reason: BackendErrorCode
  constructor (reason: BackendErrorCode, message: string) {
    super(CODES[reason], SHARD_ERRORS[CODES[reason]], message)
    this.name = 'BackendError'
    this.reason = reason
  }
}
