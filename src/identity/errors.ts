import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the identity part's errors, each with its HTTP status (docs/ERRORS.md). */
export const IDENTITY_ERRORS = {
  PHRASE_INVALID: 400, // a recovery phrase with a wrong word, a wrong length or a bad checksum
  KEL_INVALID: 400, // a key event log that does not verify
  DOCUMENT_INVALID: 400, // a twin document that does not verify against its key event log
  SIGNATURE_INVALID: 400, // a content signature that is malformed or does not verify
  KEYFILE_INVALID: 500, // the key file is damaged
  KEYFILE_LOCKED: 403, // the key file needs a passphrase (TWIN_PASSPHRASE), or it was wrong
  KEYFILE_MISMATCH: 500 // the key file holds another twin's keys, or keys this twin no longer has
} as const satisfies ErrorCodes
export type IdentityErrorCode = keyof typeof IDENTITY_ERRORS

/** A recovery phrase with a wrong word, a wrong length or a bad checksum. */
export class PhraseError extends TwinError {
  constructor (message: string) {
    super('PHRASE_INVALID', IDENTITY_ERRORS.PHRASE_INVALID, message)
    this.name = 'PhraseError'
  }
}

/** A key event log that does not verify: broken chain, bad signature, wrong keys. */
export class KelError extends TwinError {
  constructor (message: string) {
    super('KEL_INVALID', IDENTITY_ERRORS.KEL_INVALID, message)
    this.name = 'KelError'
  }
}

/** A twin document that does not verify against its key event log. */
export class DocumentError extends TwinError {
  constructor (message: string) {
    super('DOCUMENT_INVALID', IDENTITY_ERRORS.DOCUMENT_INVALID, message)
    this.name = 'DocumentError'
  }
}

/** A signature that is malformed or does not verify; `reason` says why in plain words. */
export class SignatureError extends TwinError {
  constructor (message: string) {
    super('SIGNATURE_INVALID', IDENTITY_ERRORS.SIGNATURE_INVALID, message)
    this.name = 'SignatureError'
  }
}

/** A key file that is missing, damaged, tampered with or locked by a passphrase. */
export class KeyFileError extends TwinError {
  declare readonly code: 'KEYFILE_INVALID' | 'KEYFILE_LOCKED' | 'KEYFILE_MISMATCH'
  constructor (code: 'KEYFILE_INVALID' | 'KEYFILE_LOCKED' | 'KEYFILE_MISMATCH', message: string) {
    super(code, IDENTITY_ERRORS[code], message)
    this.name = 'KeyFileError'
  }
}
