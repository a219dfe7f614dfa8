import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the messaging part's errors, each with its HTTP status (docs/ERRORS.md). */
export const MESSAGING_ERRORS = {
  SEND_TO_SELF: 400, // a message addressed to this twin itself
  TWIN_NOT_FOUND: 404, // the recipient is not known, and cannot be found
  UNREACHABLE: 502, // the recipient cannot be reached directly or through a relay
  STOPPING: 503, // the twin is stopping: requests still waiting are abandoned
  VERB_INVALID: 400, // a verb that does not look like "chat.message"
  TTL_INVALID: 400, // a time to live out of range
  MESSAGE_TOO_LARGE: 413, // the sealed message is over the envelope limit
  ENVELOPE_REJECTED: 400, // an inbound envelope refused by the checks of PROTOCOL.md section 11 (`reason` says which)
  TIMEOUT: 504, // no response to a request before its deadline
  REMOTE_ERROR: 502 // the other twin answered a request with an error (`remoteCode` is its code)
} as const satisfies ErrorCodes
export type MessagingErrorCode = keyof typeof MESSAGING_ERRORS

/** A messaging failure the user can act on; the message says what happened in one sentence. */
export class MessagingError extends TwinError {
  declare readonly code: MessagingErrorCode
  constructor (code: MessagingErrorCode, message: string) {
    super(code, MESSAGING_ERRORS[code], message)
    this.name = 'MessagingError'
  }
}

/** Why an inbound envelope was refused; `reason` is a stable code, the message says it in words. */
export type RejectReason =
  | 'malformed' | 'too-large' | 'wrong-recipient' | 'expired' | 'from-the-future' | 'ttl-too-long'
  | 'unknown-sender' | 'internal' | 'rotated-key' | 'bad-signature' | 'undecryptable' | 'stale-recipient-key' | 'replay'

/** Refusals after which retrying the same envelope cannot succeed. */
export const FINAL_REASONS: ReadonlySet<RejectReason> = new Set<RejectReason>([
  'malformed', 'too-large', 'wrong-recipient', 'expired', 'from-the-future', 'ttl-too-long', 'rotated-key', 'bad-signature',
  'undecryptable', 'stale-recipient-key', 'replay'
])

export class EnvelopeRejected extends TwinError {
  readonly reason: RejectReason
  constructor (reason: RejectReason, message: string) {
    super('ENVELOPE_REJECTED', MESSAGING_ERRORS.ENVELOPE_REJECTED, message)
    this.name = 'EnvelopeRejected'
    this.reason = reason
  }
}

/** A request that got no response before its deadline. */
export class RequestTimeoutError extends TwinError {
  constructor (verb: string, ms: number) {
    super('TIMEOUT', MESSAGING_ERRORS.TIMEOUT, `no response to ${verb} within ${ms} ms`)
    this.name = 'TimeoutError'
  }
}

/** An error response from the other twin (unknown verb, handler failure, refusal). */
export class RemoteError extends TwinError {
  readonly remoteCode: string
  constructor (remoteCode: string, message: string) {
    super('REMOTE_ERROR', MESSAGING_ERRORS.REMOTE_ERROR, message)
    this.name = 'RemoteError'
    this.remoteCode = remoteCode
  }
}
