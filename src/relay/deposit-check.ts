import { normalizeTwinId } from '../identity/index.js'
import { equalBytes } from '../wire/index.js'
import { MAX_FRAME_BYTES, decodeRecord } from '../net/index.js'
import { checkEnvelopeLifetime, decodeEnvelope, EnvelopeRejected, MAX_ENVELOPE_BYTES, verifyEnvelopeSignature, type AnyEnvelope } from '../messaging/index.js'
import { DepositRefused, PUT_REFUSALS, type PutRefusal } from './errors.js'
import { pushFrameBytes } from './push-frame.js'
import type { SenderRecords, VerifiedRecord } from './sender-records.js'
import type { Deposit, RelayStore } from './store.js'

export type CheckResult = { ok: Deposit } | { no: Uint8Array | null, why: PutRefusal, msg: string }

/**
 * The checks a relay makes before it keeps an envelope, in the order of docs/PROTOCOL.md,
 * section 12; the first failure is the answer. They need no secret: only the envelope, the
 * relay's registry and the sender's record (known, or attached to the deposit as `rec`).
 */
export class DepositCheck {
  constructor (private readonly store: RelayStore, private readonly senders: SenderRecords) {}

  check (bytes: Uint8Array, rec: Uint8Array | undefined, now = Date.now()): CheckResult {
    let env: AnyEnvelope | undefined
    try {
      // An envelope must fit in a push frame on its own, or it could never reach its recipient.
      if (bytes.length > MAX_ENVELOPE_BYTES || pushFrameBytes([bytes.length]) > MAX_FRAME_BYTES) {
        throw new DepositRefused('too-large', `the envelope is ${bytes.length} bytes; the limit is ${MAX_ENVELOPE_BYTES}`)
      }
      env = decodeEnvelope(bytes)
      if (!isTwinId(env.to)) throw new DepositRefused('malformed', 'the recipient (to) is not a twin id')
      if (!isTwinId(env.from)) throw new DepositRefused('malformed', 'the sender (from) is not a twin id')
      checkEnvelopeLifetime(env, now)
      if (!this.store.isRegistered(env.to)) throw new DepositRefused('unknown-recipient', 'the recipient does not use this relay: it keeps mail only for twins that subscribed to it')
      const sender = this.senderRecord(env, rec)
      const keys = sender.record.state.history[env.fk]
      if (keys === undefined) throw new DepositRefused('unknown-sender', `the sender has no key of sequence ${env.fk}`)
      verifyEnvelopeSignature(env, keys.signing)
      if (env.fk < sender.record.state.sequence) throw new DepositRefused('rotated-key', 'the envelope is signed by a key the sender has rotated away')
      return { ok: { to: env.to, from: env.from, id: env.id, expires: env.expires, envelope: bytes } }
    } catch (err) {
      const refused = asRefusal(err)
      if (refused === undefined) throw err
      return { no: env?.id ?? null, why: refused.reason, msg: refused.message }
    }
  }

  /**
   * The sender's newest verified record: the one held in memory or in the registry, or the one
   * attached to the deposit if it is newer (a rotation the relay did not know of). An attached
   * record the relay holds already is not verified again.
   */
  private senderRecord (env: AnyEnvelope, rec: Uint8Array | undefined): VerifiedRecord {
    let known = this.senders.get(env.from) ?? this.fromRegistry(env.from)
    if (rec !== undefined && (known === undefined || !equalBytes(rec, known.bytes))) {
      try {
        known = this.senders.add(decodeRecord(rec, env.from), rec)
      } catch (err) {
        // A record that does not verify for the sender changes nothing; the relay's own may serve.
        if (known === undefined) throw new DepositRefused('unknown-sender', `the attached record of the sender does not verify: ${(err as Error).message}`)
      }
    }
    if (known === undefined) throw new DepositRefused('unknown-sender', 'this relay does not know the sender: attach its twin record')
    if (env.fk > known.record.state.sequence) throw new DepositRefused('unknown-sender', `the sender's key sequence ${env.fk} is newer than its record; attach its current twin record`)
    return known
  }

  private fromRegistry (id: string): VerifiedRecord | undefined {
    const bytes = this.store.getRecord(id)
    if (bytes === undefined) return undefined
    try {
      return this.senders.add(decodeRecord(bytes, id), bytes)
    } catch {
      return undefined // the registry keeps only verified records; one that fails now is treated as absent
    }
  }
}

/** True for a twin id in its canonical form (the one mailboxes are keyed by). */
function isTwinId (text: string): boolean {
  try {
    return normalizeTwinId(text) === text
  } catch {
    return false // not a twin id at all
  }
}

/** Refusals of the envelope checks, as the relay reports them; anything else is not a refusal. */
function asRefusal (err: unknown): DepositRefused | undefined {
  if (err instanceof DepositRefused) return err
  if (err instanceof EnvelopeRejected && (PUT_REFUSALS as readonly string[]).includes(err.reason)) return new DepositRefused(err.reason as PutRefusal, err.message)
  return undefined
}
