import { z } from 'zod'
import { decodeCbor, encodeCbor, equalBytes, fromBase64url, toBase64url, bytesSchema } from '../wire/index.js'
import { DecodeError } from '../errors.js'
import { SignatureError } from './errors.js'
import { signWithContext, verifyWithContext } from './keys.js'
import { decodeKeyEvent, encodeKeyEvent, longerKel, verifyKel, type KelState, type SignedKeyEvent } from './kel.js'
import { signedTwinIdSchema } from './twin-id.js'

/** Signature context of detached signatures over content; see docs/PROTOCOL.md. */
export const CONTENT_CONTEXT = 'twin/content-signature/v1'
/** Text prefix of a detached signature. */
export const SIGNATURE_PREFIX = 'twinsig1.'

const signatureSchema = z.strictObject({
  v: z.literal(1),
  id: signedTwinIdSchema,
  s: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  h: bytesSchema(32),
  sig: bytesSchema(64),
  kel: z.array(bytesSchema()).min(1).max(10_000)
})

/** A detached, self-contained signature: who signed, with which key sequence, over which digest. */
export interface ContentSignature {
  id: string
  sequence: number
  digest: Uint8Array
  signature: Uint8Array
  /** The signer's key event log up to (at least) `sequence`, so anyone can check it offline. */
  kel: SignedKeyEvent[]
}

/** The outcome of verifying a content signature. */
export interface SignatureCheck {
  valid: true
  id: string
  /** Key sequence the signature was made with. */
  sequence: number
  /** Latest key sequence known to the verifier. */
  currentSequence: number
  /** True when the key that signed has since been rotated away. */
  rotated: boolean
}

function signedPayload (id: string, sequence: number, digest: Uint8Array): Uint8Array {
  return encodeCbor({ v: 1, id, s: sequence, h: digest })
}

/** Signs a SHA-256 content digest with the twin's current key. */
export function signContent (digest: Uint8Array, signingKey: Uint8Array, kel: SignedKeyEvent[], state: KelState): ContentSignature {
  const signature = signWithContext(signingKey, CONTENT_CONTEXT, signedPayload(state.id, state.sequence, digest))
  return { id: state.id, sequence: state.sequence, digest, signature, kel }
}

/** Text form: `twinsig1.` followed by base64url of the DAG-CBOR signature object. */
export function formatSignature (sig: ContentSignature): string {
  const value = { v: 1, id: sig.id, s: sig.sequence, h: sig.digest, sig: sig.signature, kel: sig.kel.map(encodeKeyEvent) }
  return SIGNATURE_PREFIX + toBase64url(encodeCbor(value))
}

export function parseSignature (text: string): ContentSignature {
  const trimmed = text.trim()
  if (!trimmed.startsWith(SIGNATURE_PREFIX)) throw new SignatureError(`not a Twin signature (it should start with "${SIGNATURE_PREFIX}")`)
  let value: unknown
  try {
    value = decodeCbor(fromBase64url(trimmed.slice(SIGNATURE_PREFIX.length), 'signature'), 'signature')
  } catch (err) {
    if (err instanceof DecodeError) throw new SignatureError('the signature is damaged or truncated')
    throw err
  }
  const parsed = signatureSchema.safeParse(value)
  if (!parsed.success) throw new SignatureError(schemaProblem(parsed.error.issues))
  const p = parsed.data
  let kel: SignedKeyEvent[]
  try {
    kel = p.kel.map(decodeKeyEvent)
  } catch {
    throw new SignatureError('the key event log inside the signature is damaged')
  }
  return { id: p.id, sequence: p.s, digest: p.h, signature: p.sig, kel }
}

/**
 * Why a decoded signature object does not match its schema, in words a user can act on. Signed
 * structures allow no unknown fields (a verifier that ignored one would accept bytes whose
 * meaning it does not know), so an unknown field is named; a missing or mistyped one means
 * damage.
 */
function schemaProblem (issues: z.core.$ZodIssue[]): string {
  const unknown = issues.find(i => i.code === 'unrecognized_keys')
  if (unknown !== undefined && unknown.code === 'unrecognized_keys') {
    return `the signature has ${unknown.keys.length === 1 ? 'an unknown field' : 'unknown fields'} ${unknown.keys.map(k => `"${k}"`).join(', ')}: signed structures allow no fields beyond those of their version`
  }
  const badId = issues.find(i => i.path[0] === 'id' && i.code === 'custom')
  if (badId !== undefined) return `the signer id in the signature is not valid: ${badId.message}`
  return 'the signature is damaged or truncated'
}

/**
 * Verifies a content signature against the content's digest. The signer's key event log comes
 * from the signature itself, extended by any longer log the verifier knows (`knownKel`), so a
 * signature made before a rotation is reported as made with a key since rotated.
 */
export function verifyContentSignature (sig: ContentSignature, digest: Uint8Array, knownKel?: SignedKeyEvent[]): SignatureCheck {
  let state: KelState
  try {
    const kel = knownKel === undefined ? sig.kel : longerKel(sig.kel, knownKel)
    state = verifyKel(kel, sig.id)
  } catch (err) {
    throw new SignatureError(`the signer ${sig.id} cannot be verified: ${(err as Error).message}`)
  }
  const keys = state.history[sig.sequence]
  if (keys === undefined) throw new SignatureError(`the signature names key sequence ${sig.sequence}, which twin ${sig.id} never had`)
  if (!equalBytes(sig.digest, digest)) throw new SignatureError('the signature was made for different content')
  if (!verifyWithContext(keys.signing, CONTENT_CONTEXT, signedPayload(sig.id, sig.sequence, sig.digest), sig.signature)) {
    throw new SignatureError('the signature bytes are wrong: it was not made by this twin\'s key')
  }
  return { valid: true, id: sig.id, sequence: sig.sequence, currentSequence: state.sequence, rotated: sig.sequence < state.sequence }
}
