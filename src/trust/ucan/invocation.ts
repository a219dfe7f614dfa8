import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { cidText, tokenCid } from './cid.js'
import { checkCommand } from './command.js'
import { principalOf } from './did.js'
import { INVOCATION_TAG, decodeEnvelope, encodeEnvelope } from './envelope.js'
import { UcanError } from './errors.js'
import { PayloadReader, asTokenLink } from './fields.js'
import { freeze } from './ipld.js'
import { NONCE_BYTES, type Delegation } from './delegation.js'
import type { Signer } from './signer.js'

/**
 * A UCAN 1.0 invocation (invocation spec, "Invocation Payload"), tag `ucan/inv@1.0.0`:
 *
 * | field   | type             | required | meaning                                                      |
 * |---------|------------------|----------|--------------------------------------------------------------|
 * | `iss`   | DID              | yes      | the invoker (signs)                                          |
 * | `sub`   | DID              | yes      | whose resource is acted on                                   |
 * | `aud`   | DID              | no       | the executor, when it is not the subject (a storage node)    |
 * | `cmd`   | command          | yes      | what to do                                                   |
 * | `args`  | map              | yes      | the command's arguments, checked against every policy        |
 * | `prf`   | list of CIDs     | yes      | the delegations, root (issued by the subject) first          |
 * | `meta`  | map              | no       | signed metadata                                              |
 * | `nonce` | bytes            | yes      | makes the invocation unique (replays are refused by CID)     |
 * | `exp`   | integer or null  | yes      | not valid after (Unix seconds)                               |
 * | `iat`   | integer          | no       | when the invoker says it made it (not trusted)               |
 * | `cause` | CID              | no       | the receipt that asked for this task                         |
 */
export interface InvocationPayload {
  iss: string
  sub: string
  aud?: string
  cmd: string
  args: Record<string, unknown>
  prf: CID[]
  meta?: Record<string, unknown>
  nonce: Uint8Array
  exp: number | null
  iat?: number
  cause?: CID
}

export interface Invocation {
  readonly kind: 'invocation'
  cid: CID
  id: string
  bytes: Uint8Array
  signature: Uint8Array
  signed: Uint8Array
  payload: InvocationPayload
}

const FIELDS = ['iss', 'sub', 'aud', 'cmd', 'args', 'prf', 'meta', 'nonce', 'exp', 'iat', 'cause'] as const
/** The longest proof chain Twin reads (the spec sets no bound). */
export const MAX_PROOFS = 32

/** Decodes an invocation and checks every field; throws a `UcanError` that says what is wrong. */
export function decodeInvocation (bytes: Uint8Array): Invocation {
  const envelope = decodeEnvelope(bytes, INVOCATION_TAG)
  const r = new PayloadReader(envelope.payload, 'the invocation', FIELDS)
  const prf = r.list('prf')
  if (prf.length > MAX_PROOFS) throw new UcanError(`the invocation names ${prf.length} proofs; Twin reads chains of at most ${MAX_PROOFS}`)
  const nonce = r.bytes('nonce')
  if (nonce.length > 1024) throw new UcanError(`a nonce of ${nonce.length} bytes is refused (at most 1024)`)
  const payload: InvocationPayload = {
    iss: principalOf(r.raw('iss'), 'the invocation\'s issuer (iss)').did,
    sub: principalOf(r.raw('sub'), 'the invocation\'s subject (sub)').did,
    cmd: checkCommand(r.string('cmd'), 'the invocation\'s command (cmd)'),
    args: r.map('args', true),
    prf: prf.map((p, i) => asTokenLink(p, `the invocation's proof ${i}`)),
    nonce,
    exp: r.time('exp', true, true)
  }
  if (Object.hasOwn(envelope.payload, 'aud')) payload.aud = principalOf(r.raw('aud'), 'the invocation\'s audience (aud)').did
  const meta = r.map('meta', false)
  if (meta !== undefined) payload.meta = meta
  const iat = r.time('iat', false, false)
  if (iat !== undefined) payload.iat = iat
  const cause = r.link('cause', false)
  if (cause !== undefined) payload.cause = cause
  const cid = tokenCid(envelope.bytes)
  return Object.freeze({ kind: 'invocation', cid, id: cidText(cid), bytes: envelope.bytes, signature: envelope.signature, signed: envelope.signed, payload: freeze(payload) })
}

export interface InvocationOptions {
  issuer: Signer
  subject: string
  /** The executor, when it is not the subject (e.g. a storage node acting for the owner). */
  audience?: string
  command: string
  args?: Record<string, unknown>
  /** The delegation chain, root (issued by the subject) first; empty when the issuer is the subject. */
  proofs: ReadonlyArray<Delegation | CID>
  /** Unix seconds; a few minutes ahead is recommended (invocation spec, "Expiration"). */
  expiration: number | null
  issuedAt?: number
  nonce?: Uint8Array
  meta?: Record<string, unknown>
  cause?: CID
}

/** Builds and signs an invocation; the result is exactly what `decodeInvocation` reads back. */
export function createInvocation (options: InvocationOptions): Invocation {
  const payload: Record<string, unknown> = {
    iss: options.issuer.did,
    sub: options.subject,
    cmd: options.command,
    args: options.args ?? {},
    prf: options.proofs.map(p => CID.asCID(p) ?? (p as Delegation).cid),
    nonce: options.nonce ?? new Uint8Array(randomBytes(NONCE_BYTES)),
    exp: options.expiration
  }
  if (options.audience !== undefined) payload.aud = options.audience
  if (options.meta !== undefined) payload.meta = options.meta
  if (options.issuedAt !== undefined) payload.iat = options.issuedAt
  if (options.cause !== undefined) payload.cause = options.cause
  checkCommand(options.command, 'the command')
  principalOf(options.subject, 'the subject')
  return decodeInvocation(encodeEnvelope(INVOCATION_TAG, payload, options.issuer).bytes)
}
