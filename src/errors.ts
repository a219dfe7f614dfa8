/** The HTTP statuses the local API answers errors with. */
export const HTTP_STATUSES = [400, 401, 403, 404, 409, 413, 500, 502, 503, 504, 507] as const
export type HttpStatus = typeof HTTP_STATUSES[number]

/**
 * One part's error codes, each with the HTTP status the local API answers it with. Every part
 * that reports errors lists its codes in its `errors.ts`, e.g.
 * `export const VAULT_ERRORS = { NOT_FOUND: 404, ... } as const satisfies ErrorCodes`, and its
 * error class takes only those: a code missing from the list is a type error. docs/ERRORS.md
 * says what each code means.
 */
export type ErrorCodes = Readonly<Record<string, HttpStatus>>

/**
 * The base of every error Twin reports to a user on purpose.
 *
 * A `TwinError` message is one plain sentence that is safe to show: it never holds key
 * material, plaintext or tokens. The CLI prints it as one line and exits non-zero; the API
 * answers `{ error, code }` with its `status`. Anything that is not a `TwinError` is an
 * internal failure and is reported as such. It is abstract: each part throws its own subclass,
 * whose constructor takes only the codes of that part's list.
 */
export abstract class TwinError extends Error {
  /** A stable, machine-readable code, e.g. `PHRASE_INVALID`. */
  readonly code: string
  /** The HTTP status the local API answers with: the one its part's list gives the code. */
  readonly status: HttpStatus

  constructor (code: string, status: HttpStatus, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TwinError'
    this.code = code
    this.status = status
  }
}

/** Codes of the errors any part may throw from here. */
export const BASE_ERRORS = {
  DECODE_FAILED: 400 // bytes or text that do not decode, or do not match their schema
} as const satisfies ErrorCodes

/** Input that does not decode or does not match its schema. */
export class DecodeError extends TwinError {
  constructor (what: string, reason: string, options?: { cause?: unknown }) {
    super('DECODE_FAILED', BASE_ERRORS.DECODE_FAILED, `${what} is not valid: ${reason}`, options)
    this.name = 'DecodeError'
  }
}

/** True for errors whose message is meant for the user. */
export function isTwinError (err: unknown): err is TwinError {
  return err instanceof TwinError
}
