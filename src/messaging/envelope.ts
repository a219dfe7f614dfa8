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

export { KINDS, type Kind, type Body } from './body.js'
export { newMessageId, checkEnvelopeTiming, checkEnvelopeLifetime, type EnvelopeHeader } from './header.js'
export { MAX_ENVELOPE_BYTES, MAX_CLOCK_SKEW_MS, MAX_TTL_MS, DEFAULT_TTL_MS } from './limits.js'

/** Signature context of envelopes; see docs/PROTOCOL.md. */
export const ENVELOPE_CONTEXT = 'twin/envelope/v1'

/** A version 1 envelope: the header fields, the sealed body and the sender's signature. */
export type Envelope = HeaderFields & { v: 1, body: Uint8Array, sig: Uint8Array }

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

/** Decodes an envelope's bytes: size limit first, then canonical CBOR and the fields, by hand. */
export function decodeEnvelope (bytes: Uint8Array): Envelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new EnvelopeRejected('too-large', `envelope of ${bytes.length} bytes is over the ${MAX_ENVELOPE_BYTES}-byte limit`)
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
export function verifyEnvelopeSignature (env: Envelope, senderSigningKey: Uint8Array): void {
  const { sig, ...signed } = env
  if (!verifyWithContext(senderSigningKey, ENVELOPE_CONTEXT, encodeCbor(signed), sig)) {
    throw new EnvelopeRejected('bad-signature', 'the envelope\'s signature does not verify')
  }
}

/** Opens the sealed body with the recipient's key and checks it against the envelope's kind. */
export function openEnvelope (env: Envelope, secret: KeyObject, publicKey: Uint8Array): Body {
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
