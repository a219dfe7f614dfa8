import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the db part's errors, each with its HTTP status (docs/ERRORS.md). */
export const DB_ERRORS = {
  DB_OPEN_FAILED: 500, // the SQLite file cannot be opened
  DB_TOO_NEW: 500, // the database was written by a newer version of twin
  DB_OUTDATED: 500 // the database needs a migration, and was opened read-only
} as const satisfies ErrorCodes
export type DbErrorCode = keyof typeof DB_ERRORS

/** A database that cannot be used as it is. */
export class DbError extends TwinError {
  declare readonly code: DbErrorCode
  constructor (code: DbErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, DB_ERRORS[code], message, options)
    this.name = 'DbError'
  }
}
