import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the relay part's errors, each with its HTTP status (docs/ERRORS.md). */
export const RELAY_ERRORS = {
  DEPOSIT_REFUSED: 400, // the relay will not keep an envelope (`reason` is one of PUT_REFUSALS)
  RELAY_UNREACHABLE: 502, // the relay cannot be reached, or its stream broke
  RELAY_PROTOCOL: 502, // the relay answered something that is not a reply of its protocol
  OPTION_INVALID: 400 // a mailbox limit given on the command line is not valid
} as const satisfies ErrorCodes
export type RelayErrorCode = keyof typeof RELAY_ERRORS

/** A relay that cannot be reached or used, from a twin's side, or a limit it cannot run with. */
export class RelayError extends TwinError {
  declare readonly code: RelayErrorCode
  constructor (code: RelayErrorCode, message: string) {
    super(code, RELAY_ERRORS[code], message)
    this.name = 'RelayError'
  }
}

/**
 * Why a relay refuses to keep an envelope (`{ no, why, msg }`); see docs/PROTOCOL.md, section 12.
 * `internal` is the relay's own failure: the sender tries again later.
 */
export const PUT_REFUSALS = [
  'malformed', 'too-large', 'expired', 'from-the-future', 'ttl-too-long',
  'unknown-recipient', 'unknown-sender', 'bad-signature', 'rotated-key',
  'sender-over-limit', 'mailbox-full', 'relay-full', 'internal'
] as const
export type PutRefusal = typeof PUT_REFUSALS[number]

/** A deposit the relay will not keep, with a reason code and a sentence that is safe to send back. */
export class DepositRefused extends TwinError {
  readonly reason: PutRefusal
  constructor (reason: PutRefusal, message: string) {
    super('DEPOSIT_REFUSED', RELAY_ERRORS.DEPOSIT_REFUSED, message)
    this.name = 'DepositRefused'
    this.reason = reason
  }
}
