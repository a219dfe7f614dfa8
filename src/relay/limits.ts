import { z } from 'zod'
import { RelayError } from './errors.js'
import { MAX_ENVELOPE_BYTES } from '../messaging/index.js'

/** At most `messages` envelopes and `bytes` bytes (envelope bytes, as deposited). */
export interface Quota { messages: number, bytes: number }

/** What a relay keeps; see docs/PROTOCOL.md, section 12. */
export interface MailboxLimits {
  /** One recipient's mailbox. */
  perRecipient: Quota
  /** One verified sender's envelopes waiting in all mailboxes together. */
  perSender: Quota
  /** Everything the relay keeps. */
  total: Quota
}

export const DEFAULT_MAILBOX_LIMITS: MailboxLimits = {
  perRecipient: { messages: 100_000, bytes: 512 * 1024 ** 2 },
  perSender: { messages: 20_000, bytes: 256 * 1024 ** 2 },
  total: { messages: 1_000_000, bytes: 4 * 1024 ** 3 }
}

// Each quota holds at least one envelope of the largest size, so no envelope is refused by a
// quota that is empty.
const quotaSchema = z.strictObject({
  messages: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  bytes: z.number().int().min(MAX_ENVELOPE_BYTES, `at least ${MAX_ENVELOPE_BYTES} bytes (one envelope of the largest size)`).max(Number.MAX_SAFE_INTEGER)
})
const limitsSchema = z.strictObject({ perRecipient: quotaSchema, perSender: quotaSchema, total: quotaSchema })

/**
 * Checks a relay's limits; the error names the limit that is wrong, as `name` calls it
 * (e.g. the command-line option for `perRecipient.bytes`).
 */
export function checkMailboxLimits (limits: MailboxLimits, name = (path: string) => `mailbox limit ${path}`): MailboxLimits {
  const parsed = limitsSchema.safeParse(limits)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RelayError('OPTION_INVALID', `${name(issue?.path.join('.') ?? '')} is not valid: ${issue?.message ?? 'wrong shape'}`)
  }
  return parsed.data
}
