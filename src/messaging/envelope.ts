import type { KeyObject } from 'node:crypto'
import { decodeCbor, encodeCbor } from '../wire/index.js'
import { signWithContext, verifyWithContext } from '../identity/index.js'
import { DecodeError } from '../errors.js'
import { decodeBody, encodeBody, isVerb, type Body } from './body.js'
import { EnvelopeRejected, MessagingError } from './errors.js'
import { checkHeaderFields, newHeader, type HeaderFields, type HeaderInput } from './header.js'
import { MAX_ENVELOPE_BYTES } from './limits.js'
import { open, seal } from './seal.js'
import { bytes, literal, noOtherKeys, record, ShapeError } from './shape.js'
import { decodeEnvelopeV2, looksLikeV2, openEnvelopeV2, verifyEnvelopeV2Signature, type EnvelopeV2 } from './envelope-v2.js'

export { KINDS, type Kind, type Body } from './body.js'
export { newMessageId, checkEnvelopeTiming, checkEnvelopeLifetime, type EnvelopeHeader } from './header.js'
export { MAX_ENVELOPE_BYTES, MAX_CLOCK_SKEW_MS, MAX_TTL_MS, DEFAULT_TTL_MS } from './limits.js'

/** Signature context of envelopes; see docs/PROTOCOL.md. */
export const ENVELOPE_CONTEXT = 'twin/envelope/v1'

/** A version 1 envelope: the header fields, the sealed body and the sender's signature. */
export type Envelope = HeaderFields & { v: 1, body: Uint8Array, sig: Uint8Array }
/** An envelope of either version. */
export type AnyEnvelope = Envelope | EnvelopeV2
export type { EnvelopeV2 } from './envelope-v2.js'

const V1_KEYS = ['v', 'id', 'from', 'fk', 'to', 'tk', 'created', 'expires', 'kind', 'cid', 'seq', 'body', 'sig'] as const

export interface SealInput extends HeaderInput {
  signingKey: Uint8Array | KeyObject
  toEncryptionKey: Uint8Array
  body: Body
}

/** Seals the body to the recipient, signs everything, and returns the envelope and its bytes. */
export function createEnvelope (input: SealInput): { envelope: Envelope, bytes: Uint8Array } {
  const header = { v: 1 as const, ...newHeader(input) }
  const body = seal(input.toEncryptionKey, encodeCbor(header), encodeBody(input.body))
  const sig = signWithContext(input.signingKey, ENVELOPE_CONTEXT, encodeCbor({ ...header, body }))
  const envelope: Envelope = { ...header, body, sig }
  const bytes = encodeCbor(envelope)
  if (bytes.length > MAX_ENVELOPE_BYTES) {
    throw new MessagingError('MESSAGE_TOO_LARGE', `the message is ${bytes.length} bytes sealed; the limit is ${MAX_ENVELOPE_BYTES} (send large content through the vault)`)
  }
  return { envelope, bytes }
}

/**
 * Decodes an envelope of either version: size limit first, then canonical CBOR and the fields,
 * checked by hand. A version 2 envelope is recognized by its first bytes and read without a
 * generic decoder; anything else is read as version 1 (and refused with version 1's messages).
 */
export function decodeEnvelope (bytes: Uint8Array): AnyEnvelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new EnvelopeRejected('too-large', `envelope of ${bytes.length} bytes is over the ${MAX_ENVELOPE_BYTES}-byte limit`)
  if (looksLikeV2(bytes)) return decodeEnvelopeV2(bytes)
  let value: unknown
  try {
    value = decodeCbor(bytes, 'envelope')
  } catch (err) {
    throw new EnvelopeRejected('malformed', err instanceof DecodeError ? err.message : 'envelope is not valid CBOR')
  }
  try {
    return checkV1(value)
  } catch (err) {
    if (err instanceof ShapeError) throw new EnvelopeRejected('malformed', `envelope is not valid: ${err.message}`)
    throw err
  }
}

function checkV1 (value: unknown): Envelope {
  const f = record(value)
  const v = literal(f, 'v', 1)
  const header = checkHeaderFields(f)
  const body = bytes(f, 'body')
  const sig = bytes(f, 'sig', 64)
  noOtherKeys(f, V1_KEYS)
  return { v, ...header, body, sig }
}

export function encodeEnvelope (envelope: Envelope): Uint8Array {
  return encodeCbor(envelope)
}

/** Verifies the sender's signature with the public key of the sender's key sequence `env.fk`. */
export function verifyEnvelopeSignature (env: AnyEnvelope, senderSigningKey: Uint8Array): void {
  if (env.v === 2) { verifyEnvelopeV2Signature(env, senderSigningKey); return }
  const { sig, ...signed } = env
  if (!verifyWithContext(senderSigningKey, ENVELOPE_CONTEXT, encodeCbor(signed), sig)) {
    throw new EnvelopeRejected('bad-signature', 'the envelope\'s signature does not verify')
  }
}

/**
 * Opens the sealed body with the recipient's key and checks it against the envelope's kind. A
 * version 2 envelope is authenticated by its session, whose signature needs the sender's key.
 */
export function openEnvelope (env: AnyEnvelope, secret: KeyObject, publicKey: Uint8Array, senderSigningKey?: Uint8Array): Body {
  if (env.v === 2) {
    if (senderSigningKey === undefined) throw new TypeError('a version 2 envelope is opened with the sender\'s signing key (its session is signed)')
    return openEnvelopeV2(env, secret, publicKey, senderSigningKey)
  }
  const { body, sig: _sig, ...header } = env
  const plain = open(secret, publicKey, encodeCbor(header), body)
  if (plain === undefined) throw new EnvelopeRejected('undecryptable', 'the envelope cannot be opened with this twin\'s key')
  return decodeBody(env.kind, plain)
}

/** Checks a verb name as senders must write it ("chat.message"). */
export function checkVerb (verb: string): string {
  if (!isVerb(verb)) throw new MessagingError('VERB_INVALID', `"${verb}" is not a verb: a verb looks like "chat.message"`)
  return verb
}
