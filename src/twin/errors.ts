import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the twin part's errors, each with its HTTP status (docs/ERRORS.md). */
export const TWIN_ERRORS = {
  HOME_INVALID: 400, // the home folder is a file, cannot be read, or cannot be made private
  HOME_HAS_TWIN: 409, // `init` or `restore` in a folder that already holds a twin
  HOME_NOT_EMPTY: 409, // `init` or `restore` in a folder that holds other files
  NOT_A_TWIN: 404, // no twin in the home folder
  KEYFILE_MISSING: 500, // the twin's key file is missing
  DOCUMENT_MISSING: 500, // the twin's database holds no document
  NAME_INVALID: 400, // a name too long, or with control characters
  PHRASE_WRONG_TWIN: 400, // a recovery phrase of another twin than this home's
  VAULT_KEY_MISSING: 500 // a key file from before the vault: `twin rotate` adds the vault key
} as const satisfies ErrorCodes
export type LocalTwinErrorCode = keyof typeof TWIN_ERRORS

/**
 * What the twin part reports: its home folder, its key file and document. (The name TwinError
 * is the base's, which every part's errors extend.)
 */
export class LocalTwinError extends TwinError {
  declare readonly code: LocalTwinErrorCode
  constructor (code: LocalTwinErrorCode, message: string) {
    super(code, TWIN_ERRORS[code], message)
    this.name = 'LocalTwinError'
  }
}
