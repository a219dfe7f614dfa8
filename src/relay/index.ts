// The relay part's public surface: the relay role, and a twin's side of a relay (RelayClient).
export { Relay } from './relay.js'
export { RelayClient, type DepositReply, type RelayClientOptions } from './client.js'
export { MAILBOX_PROTOCOL } from './service.js'
export { DEFAULT_MAILBOX_LIMITS, checkMailboxLimits, type MailboxLimits, type Quota } from './limits.js'
export { DepositRefused, RelayError, RELAY_ERRORS, PUT_REFUSALS, type PutRefusal, type RelayErrorCode } from './errors.js'
