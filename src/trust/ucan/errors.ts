import { TwinError, type ErrorCodes } from '../../errors.js'

/**
 * Two kinds of failure live here. Bytes or arguments that are not a UCAN at all (a decoder
 * or a builder was handed something malformed) throw a `UcanError` or `PolicyError`. A
 * well-formed token that does not grant what is asked is not an exception: validation
 * returns a `Denial`, a value whose `reason` is one of the stable codes below and whose
 * `message` is one sentence that can be shown to the person who was refused.
 */

/** The codes of the trust part's errors, each with its HTTP status (docs/ERRORS.md). */
export const UCAN_ERRORS = {
  UCAN_INVALID: 400, // bytes or an argument that are not a UCAN 1.0 token, DID or CID as Twin reads it
  UCAN_POLICY_INVALID: 400 // a policy that is not in the UCAN policy language
} as const satisfies ErrorCodes

/** A token, a DID, a CID or a builder argument that is not valid UCAN 1.0 as Twin reads it. */
export class UcanError extends TwinError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('UCAN_INVALID', UCAN_ERRORS.UCAN_INVALID, message, options)
    this.name = 'UcanError'
  }
}

/** A policy (the `pol` of a delegation) whose shape is not the UCAN policy language. */
export class PolicyError extends TwinError {
  /** Where in the policy the problem is, e.g. `statement 2 > and[0]`. */
  readonly at: string

  constructor (at: string, problem: string) {
    super('UCAN_POLICY_INVALID', UCAN_ERRORS.UCAN_POLICY_INVALID, at === '' ? `the policy is not valid: ${problem}` : `the policy is not valid at ${at}: ${problem}`)
    this.name = 'PolicyError'
    this.at = at
  }
}

/**
 * Every reason a capability check can give, one typed list (STYLE.md: no free strings).
 * The fixtures' error names map onto these in test/unit/ucan-fixtures.test.ts.
 */
export const DENIAL_REASONS = [
  // The tokens themselves
  'malformed_invocation', // the invocation bytes are not a UCAN 1.0 invocation
  'malformed_proof', // a delegation in the chain is not a UCAN 1.0 delegation
  'too_many_proofs', // the chain is longer than a verifier accepts
  'missing_proof', // a CID in `prf` names a delegation that was not provided
  // Who signed
  'unsupported_principal', // an issuer whose DID method or key type cannot be verified here
  'unresolvable_issuer', // a did:twin issuer whose key event log cannot be found
  'invalid_signature', // the signature does not verify with the issuer's key
  'rotated_key', // signed by a did:twin key that its twin has since rotated away
  // The shape of the chain
  'no_authority', // no proofs, and the invoker is not the subject
  'invalid_powerline', // the root delegation has `sub: null`
  'root_not_subject', // the root delegation is not issued by the subject
  'broken_chain', // an audience is not the issuer of the next token
  'subject_mismatch', // a delegation is about another subject than the invocation
  'wrong_executor', // the invocation is addressed to someone other than this verifier
  // What is granted
  'command_not_covered', // a delegation's command does not cover the invoked command
  'policy_violation', // the invocation's arguments fail a delegation's policy
  'command_widened', // a delegation claims a broader command than its proof
  'expiry_widened', // a delegation outlives its proof
  'not_before_widened', // a delegation starts before its proof does
  'subject_widened', // a delegation drops the subject its proof names
  'path_widened', // a delegation's path reaches outside its proof's path
  // When and whether
  'expired',
  'not_yet_valid',
  'lifetime_too_long', // an invocation that would stay valid longer than this executor allows
  'revoked',
  'replayed' // this exact invocation was already used
] as const

export type DenialReason = typeof DENIAL_REASONS[number]

/** Which token a denial is about: the invocation, or the delegation at `index` of `prf` (0 = root). */
export interface TokenRef {
  kind: 'invocation' | 'delegation'
  /** The token's CID (base32), or undefined when its bytes could not be read at all. */
  cid?: string
  /** Position in the invocation's `prf` (0 is the root delegation). */
  index?: number
}

/** A refusal that explains itself: a stable `reason` for programs and a `message` for people. */
export interface Denial {
  ok: false
  reason: DenialReason
  /** One sentence saying why, safe to show: DIDs, CIDs and commands, never key material. */
  message: string
  token?: TokenRef
}

export function deny (reason: DenialReason, message: string, token?: TokenRef): Denial {
  return token === undefined ? { ok: false, reason, message } : { ok: false, reason, message, token }
}
