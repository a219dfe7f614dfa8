import { DecodeError } from '../../errors.js'
import { decodeCbor, encodeCbor } from '../../wire/index.js'
import { UcanError } from './errors.js'
import { describeKind, isMap } from './ipld.js'
import type { Signer } from './signer.js'
import { ED25519_DAG_CBOR_HEADER, checkVarsigHeader } from './varsig.js'

/**
 * The UCAN envelope (UCAN spec, "Envelope"), in DAG-CBOR:
 *
 *   [ signature: bytes, { "h": varsig header, "ucan/<tag>@<version>": payload } ]
 *
 * `.1` is the SigPayload: the signature is Ed25519 (RFC 8032, pure) by the payload's `iss`
 * over the canonical DAG-CBOR bytes of `.1`, header included. A token is decoded only if its
 * bytes are canonical DAG-CBOR (one value, one encoding: the signature and the CID then name
 * the same thing), the array and the SigPayload hold exactly these entries, and the header is
 * Ed25519 + DAG-CBOR (varsig.ts).
 */
export const DELEGATION_TAG = 'ucan/dlg@1.0.0'
export const INVOCATION_TAG = 'ucan/inv@1.0.0'
export type TokenTag = typeof DELEGATION_TAG | typeof INVOCATION_TAG

/** Twin's bound on one token's bytes (the spec sets none); a chain's proofs are bounded in validate.ts. */
export const MAX_TOKEN_BYTES = 64 * 1024
const MAX_SIGNATURE_BYTES = 512

export interface Envelope {
  /** The token's bytes as signed and hashed. */
  bytes: Uint8Array
  signature: Uint8Array
  /** The DAG-CBOR bytes of the SigPayload: what the signature covers. */
  signed: Uint8Array
  payload: Record<string, unknown>
}

const KIND: Record<TokenTag, string> = { [DELEGATION_TAG]: 'delegation', [INVOCATION_TAG]: 'invocation' }

/** Decodes and checks an envelope whose payload must carry `tag`; throws a `UcanError` that says why not. */
export function decodeEnvelope (input: Uint8Array, tag: TokenTag): Envelope {
  const what = `the ${KIND[tag]}`
  if (!(input instanceof Uint8Array)) throw new UcanError(`${what} must be given as bytes`)
  if (input.length > MAX_TOKEN_BYTES) throw new UcanError(`${what} is ${input.length} bytes; Twin reads tokens of at most ${MAX_TOKEN_BYTES} bytes`)
  // A private copy: what is decoded, hashed and cached must not change if the caller reuses its buffer.
  const bytes = input.slice()
  let value: unknown
  try {
    value = decodeCbor(bytes, what)
  } catch (err) {
    if (err instanceof DecodeError) throw new UcanError(`${what} is not canonical DAG-CBOR`, { cause: err })
    throw err
  }
  if (!Array.isArray(value) || value.length !== 2) throw new UcanError(`${what} must be a two-element list [signature, signed payload]`)
  const [signature, sigPayload] = value as [unknown, unknown]
  if (!(signature instanceof Uint8Array)) throw new UcanError(`${what}'s signature must be bytes, got ${describeKind(signature)}`)
  if (signature.length > MAX_SIGNATURE_BYTES) throw new UcanError(`${what}'s signature is ${signature.length} bytes, far more than any signature`)
  if (!isMap(sigPayload)) throw new UcanError(`${what}'s signed payload must be a map, got ${describeKind(sigPayload)}`)
  const keys = Object.keys(sigPayload)
  const payloadKey = keys.find(k => k !== 'h')
  if (!Object.hasOwn(sigPayload, 'h') || keys.length !== 2 || payloadKey === undefined) {
    throw new UcanError(`${what}'s signed payload must hold exactly "h" and one "ucan/..." payload`)
  }
  if (payloadKey !== tag) throw new UcanError(tagProblem(payloadKey, tag))
  const header = sigPayload.h
  if (!(header instanceof Uint8Array)) throw new UcanError(`${what}'s varsig header must be bytes`)
  checkVarsigHeader(header)
  const payload = sigPayload[payloadKey]
  if (!isMap(payload)) throw new UcanError(`${what}'s payload must be a map, got ${describeKind(payload)}`)
  // The input is canonical, so the SigPayload's encoding is the tail of the token after
  // the list header (0x82) and the signature's byte string.
  const signed = bytes.subarray(1 + byteStringHeaderLength(signature.length) + signature.length)
  return { bytes, signature, signed, payload }
}

function tagProblem (found: string, expected: TokenTag): string {
  const other = (Object.keys(KIND) as TokenTag[]).find(t => t !== expected) as TokenTag
  if (found === other) return `this token is ${article(KIND[other])}, not ${article(KIND[expected])}`
  const m = /^ucan\/(dlg|inv)@(.{1,40})$/.exec(found)
  if (m !== null) return `the token is UCAN ${m[1] === 'dlg' ? 'delegation' : 'invocation'} version ${m[2] as string}; Twin reads version 1.0.0`
  return `the token's payload tag ${JSON.stringify(found.slice(0, 60))} is not "${expected}"`
}

function article (noun: string): string {
  return (/^[aeiou]/.test(noun) ? 'an ' : 'a ') + noun
}

/** Length of a CBOR major type 2 header for `n` bytes (RFC 8949 section 3, shortest form). */
function byteStringHeaderLength (n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
}

/** Builds and signs an envelope around `payload` (whose fields the caller has checked). */
export function encodeEnvelope (tag: TokenTag, payload: Record<string, unknown>, signer: Signer): Envelope {
  const sigPayload = { h: ED25519_DAG_CBOR_HEADER, [tag]: payload }
  let signed: Uint8Array
  try {
    signed = encodeCbor(sigPayload)
  } catch (err) {
    throw new UcanError(`the ${KIND[tag]} cannot be encoded as DAG-CBOR (undefined, a non-finite number or an unsupported type)`, { cause: err })
  }
  const signature = signer.sign(signed)
  const bytes = encodeCbor([signature, sigPayload])
  if (bytes.length > MAX_TOKEN_BYTES) throw new UcanError(`the ${KIND[tag]} would be ${bytes.length} bytes; tokens are at most ${MAX_TOKEN_BYTES} bytes`)
  return { bytes, signature, signed, payload }
}
