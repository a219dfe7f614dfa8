import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the fs part's errors, each with its HTTP status (docs/ERRORS.md). */
export const FS_ERRORS = {
  ALREADY_RUNNING: 409, // another process runs the twin, relay or storage node of this home folder
  LOCK_FAILED: 409 // the home folder's lock could not be taken: other processes keep taking it
} as const satisfies ErrorCodes
export type FsErrorCode = keyof typeof FS_ERRORS

/** A home folder that another process holds. */
export class FsError extends TwinError {
  declare readonly code: FsErrorCode
  constructor (code: FsErrorCode, message: string) {
    super(code, FS_ERRORS[code], message)
    this.name = 'FsError'
  }
}
