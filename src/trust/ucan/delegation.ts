import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { cidText, tokenCid } from './cid.js'
import { checkCommand } from './command.js'
import { principalOf } from './did.js'
import { DELEGATION_TAG, decodeEnvelope, encodeEnvelope } from './envelope.js'
import { UcanError } from './errors.js'
import { PayloadReader } from './fields.js'
import { freeze } from './ipld.js'
import { parsePolicy, type Policy } from './policy.js'
import type { Signer } from './signer.js'

/**
 * A UCAN 1.0 delegation (delegation spec, "Delegation Payload"), tag `ucan/dlg@1.0.0`:
 *
 * | field   | type            | required | meaning                                                 |
 * |---------|-----------------|----------|---------------------------------------------------------|
 * | `iss`   | DID             | yes      | who grants (signs)                                      |
 * | `aud`   | DID             | yes      | who receives                                            |
 * | `sub`   | DID or null     | yes      | whose authority this is; null is a powerline            |
 * | `cmd`   | command         | yes      | what may be invoked, and everything below it            |
 * | `pol`   | policy          | yes      | what the invocation's arguments must satisfy            |
 * | `nonce` | bytes           | yes      | makes the token (and its CID) unique                    |
 * | `meta`  | map             | no       | signed, not delegated: Twin puts nothing there yet      |
 * | `nbf`   | integer         | no       | not valid before (Unix seconds)                         |
 * | `exp`   | integer or null | yes      | not valid after (Unix seconds); null never expires      |
 */
export interface DelegationPayload {
  iss: string
  aud: string
  sub: string | null
  cmd: string
  pol: unknown[]
  nonce: Uint8Array
  meta?: Record<string, unknown>
  nbf?: number
  exp: number | null
}

export interface Delegation {
  readonly kind: 'delegation'
  cid: CID
  /** The CID as text (base32): a grant's `id` in Twin's CLI and API. */
  id: string
  bytes: Uint8Array
  signature: Uint8Array
  /** The SigPayload bytes the signature covers. */
  signed: Uint8Array
  payload: DelegationPayload
  policy: Policy
}

const FIELDS = ['iss', 'aud', 'sub', 'cmd', 'pol', 'nonce', 'meta', 'nbf', 'exp'] as const
export const NONCE_BYTES = 16
const MAX_NONCE_BYTES = 1024

/** Decodes a delegation and checks every field; throws a `UcanError` (or `PolicyError`) that says what is wrong. */
export function decodeDelegation (bytes: Uint8Array): Delegation {
  const envelope = decodeEnvelope(bytes, DELEGATION_TAG)
  const r = new PayloadReader(envelope.payload, 'the delegation', FIELDS)
  const rawSub = r.raw('sub')
  const payload: DelegationPayload = {
    iss: principalOf(r.raw('iss'), 'the delegation\'s issuer (iss)').did,
    aud: principalOf(r.raw('aud'), 'the delegation\'s audience (aud)').did,
    sub: rawSub === null ? null : principalOf(rawSub, 'the delegation\'s subject (sub)').did,
    cmd: checkCommand(r.string('cmd'), 'the delegation\'s command (cmd)'),
    pol: r.list('pol'),
    nonce: nonce(r.bytes('nonce')),
    exp: r.time('exp', true, true)
  }
  const meta = r.map('meta', false)
  if (meta !== undefined) payload.meta = meta
  const nbf = r.time('nbf', false, false)
  if (nbf !== undefined) payload.nbf = nbf
  const policy = parsePolicy(payload.pol)
  const cid = tokenCid(envelope.bytes)
  // Decoded once and shared through the cache: read-only from here on.
  return Object.freeze({ kind: 'delegation', cid, id: cidText(cid), bytes: envelope.bytes, signature: envelope.signature, signed: envelope.signed, payload: freeze(payload), policy: freeze(policy) })
}

function nonce (bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_NONCE_BYTES) throw new UcanError(`a nonce of ${bytes.length} bytes is refused (at most ${MAX_NONCE_BYTES})`)
  return bytes
}

export interface DelegationOptions {
  issuer: Signer
  audience: string
  /** The subject whose authority is passed on; null for a powerline (use with care). */
  subject: string | null
  command: string
  /** Statements the invocation's arguments must satisfy; [] allows any arguments. */
  policy?: unknown[]
  /** Unix seconds; null for a grant that never expires (the spec requires the choice to be explicit). */
  expiration: number | null
  notBefore?: number
  /** Defaults to 16 random bytes. */
  nonce?: Uint8Array
  meta?: Record<string, unknown>
}

/** Builds and signs a delegation; the result is exactly what `decodeDelegation` reads back. */
export function createDelegation (options: DelegationOptions): Delegation {
  const payload: Record<string, unknown> = {
    iss: options.issuer.did,
    aud: options.audience,
    sub: options.subject,
    cmd: options.command,
    pol: options.policy ?? [],
    nonce: options.nonce ?? new Uint8Array(randomBytes(NONCE_BYTES)),
    exp: options.expiration
  }
  if (options.meta !== undefined) payload.meta = options.meta
  if (options.notBefore !== undefined) payload.nbf = options.notBefore
  // Check before signing, so that a bad argument is reported as such rather than as a bad token.
  checkCommand(options.command, 'the command')
  principalOf(options.audience, 'the audience')
  if (options.subject !== null) principalOf(options.subject, 'the subject')
  parsePolicy(payload.pol)
  return decodeDelegation(encodeEnvelope(DELEGATION_TAG, payload, options.issuer).bytes)
}
