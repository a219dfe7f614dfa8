import { TwinError, type ErrorCodes } from '../errors.js'

/**
 * The codes of the CLI's own errors (docs/ERRORS.md). They never reach the API; their statuses
 * are the ones it would answer, so that every code has one.
 */
export const CLI_ERRORS = {
  USAGE: 400, // arguments that do not go together
  OPTION_INVALID: 400, // an option's value is not valid
  JSON_INVALID: 400, // a payload given on the command line is not JSON
  FILE_UNREADABLE: 400, // a file named on the command line cannot be read
  FILE_UNWRITABLE: 500, // a file to write cannot be written
  SIGNATURE_INVALID: 400, // a signature argument that is neither a signature nor a readable file
  SIGNATURE_WRONG_SIGNER: 400, // a valid signature by another twin than the one expected
  KEL_WRONG_TWIN: 400, // a key event log given for another twin than the signature's
  PUT_FAILED: 502, // the running twin stopped before the file was stored
  GET_FAILED: 502, // the file could not be read back from the running twin
  DEMO_FAILED: 500 // a step of `twin demo` failed
} as const satisfies ErrorCodes
export type CliErrorCode = keyof typeof CLI_ERRORS

/** A command that cannot run as given; the message says what to change. */
export class CliError extends TwinError {
  declare readonly code: CliErrorCode
  constructor (code: CliErrorCode, message: string) {
    super(code, CLI_ERRORS[code], message)
    this.name = 'CliError'
  }
}
