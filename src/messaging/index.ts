// The messaging part's public surface; other parts import only this.
export { Messaging } from './messaging.js'
export { MESSAGE_PROTOCOL, type RelayMailbox } from './channels.js'
export { ENVELOPE_VERSIONS, type Self } from './sealer.js'
export type { Handler, RequestContext } from './requests.js'
export type { OutboxChange } from './outbox.js'
export { DEFAULT_TIMING, type Timing } from './timing.js'
export { MessageStore, type OutboxRow, type OutboxStatus, type InboxRow, type NewInbound } from './store.js'
export {
  ENVELOPE_CONTEXT, MAX_ENVELOPE_BYTES, MAX_CLOCK_SKEW_MS, MAX_TTL_MS, DEFAULT_TTL_MS, KINDS,
  createEnvelope, decodeEnvelope, encodeEnvelope, checkEnvelopeTiming, checkEnvelopeLifetime, verifyEnvelopeSignature, openEnvelope,
  checkVerb, newMessageId, type Envelope, type AnyEnvelope, type EnvelopeV2, type EnvelopeHeader, type Body, type Kind, type SealInput
} from './envelope.js'
export { EnvelopeRejected, MessagingError, RemoteError, RequestTimeoutError, FINAL_REASONS, MESSAGING_ERRORS, type RejectReason, type MessagingErrorCode } from './errors.js'
