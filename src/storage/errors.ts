import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the storage part's errors, each with its HTTP status (docs/ERRORS.md). */
export const STORAGE_NODE_ERRORS = {
  OPTION_INVALID: 400, // a size, duration or id given on the command line is not valid
  STORAGE_NODE_NOT_FOUND: 404, // no storage node in the home folder (never started there)
  STORAGE_QUOTA_TOO_LARGE: 400, // a quota larger than the disk of the shard folder
  STORAGE_INVITE_INVALID: 400, // a token that is not a storage-node invite, or whose signature fails
  STORAGE_INVITE_EXPIRED: 400 // an invite past its expiry
} as const satisfies ErrorCodes
export type StorageNodeErrorCode = keyof typeof STORAGE_NODE_ERRORS

/** An operator command or an invite that cannot be used; the message says what to do. */
export class StorageNodeError extends TwinError {
  declare readonly code: StorageNodeErrorCode
  constructor (code: StorageNodeErrorCode, message: string) {
    super(code, STORAGE_NODE_ERRORS[code], message)
    this.name = 'StorageNodeError'
  }
}
