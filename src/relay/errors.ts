import { TwinError } from '../errors.js'

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
    super('DEPOSIT_REFUSED', message)
    this.name = 'DepositRefused'
    this.reason = reason
  }
}
