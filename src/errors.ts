/**
 * The base of every error Twin reports to a user on purpose.
 *
 * A `TwinError` message is one plain sentence that is safe to show: it never holds key
 * material, plaintext or tokens. The CLI prints it as one line and exits non-zero; anything
 * that is not a `TwinError` is an internal failure and is reported as such.
 */
export class TwinError extends Error {
  /** A stable, machine-readable code, e.g. `PHRASE_INVALID`. */
  readonly code: string

  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TwinError'
    this.code = code
  }
}

/** Input that does not decode or does not match its schema. */
export class DecodeError extends TwinError {
  constructor (what: string, reason: string, options?: { cause?: unknown }) {
    super('DECODE_FAILED', `${what} is not valid: ${reason}`, options)
    this.name = 'DecodeError'
  }
}

/** True for errors whose message is meant for the user. */
export function isTwinError (err: unknown): err is TwinError {
  return err instanceof TwinError
}
