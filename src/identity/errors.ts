import { TwinError } from '../errors.js'

/** A recovery phrase with a wrong word, a wrong length or a bad checksum. */
export class PhraseError extends TwinError {
  constructor (message: string) {
    super('PHRASE_INVALID', message)
    this.name = 'PhraseError'
  }
}

/** A key event log that does not verify: broken chain, bad signature, wrong keys. */
export class KelError extends TwinError {
  constructor (message: string) {
    super('KEL_INVALID', message)
    this.name = 'KelError'
  }
}

/** A twin document that does not verify against its key event log. */
export class DocumentError extends TwinError {
  constructor (message: string) {
    super('DOCUMENT_INVALID', message)
    this.name = 'DocumentError'
  }
}

/** A signature that is malformed or does not verify; `reason` says why in plain words. */
export class SignatureError extends TwinError {
  constructor (message: string) {
    super('SIGNATURE_INVALID', message)
    this.name = 'SignatureError'
  }
}

/** A key file that is missing, damaged, tampered with or locked by a passphrase. */
export class KeyFileError extends TwinError {
  constructor (code: 'KEYFILE_INVALID' | 'KEYFILE_LOCKED' | 'KEYFILE_MISMATCH', message: string) {
    super(code, message)
    this.name = 'KeyFileError'
  }
}
