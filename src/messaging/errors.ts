import { TwinError } from '../errors.js'

/** The codes of the errors messaging reports, as the API and the CLI show them. */
export type MessagingErrorCode =
  | 'SEND_TO_SELF' | 'TWIN_NOT_FOUND' | 'UNREACHABLE' | 'STOPPING' | 'VERB_INVALID' | 'TTL_INVALID' | 'MESSAGE_TOO_LARGE'
  | 'ENVELOPE_REJECTED' | 'TIMEOUT' | 'REMOTE_ERROR'

/** A messaging failure the user can act on; the message says what happened in one sentence. */
export class MessagingError extends TwinError {
  declare readonly code: MessagingErrorCode
  constructor (code: MessagingErrorCode, message: string) {
    super(code, message)
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
    super('ENVELOPE_REJECTED', message)
    this.name = 'EnvelopeRejected'
    this.reason = reason
  }
}

/** A request that got no response before its deadline. */
export class RequestTimeoutError extends TwinError {
  constructor (verb: string, ms: number) {
    super('TIMEOUT', `no response to ${verb} within ${ms} ms`)
    this.name = 'TimeoutError'
  }
}

/** An error response from the other twin (unknown verb, handler failure, refusal). */
export class RemoteError extends TwinError {
  readonly remoteCode: string
  constructor (remoteCode: string, message: string) {
    super('REMOTE_ERROR', message)
    this.name = 'RemoteError'
    this.remoteCode = remoteCode
  }
}
