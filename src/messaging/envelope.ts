import { randomBytes, type KeyObject } from 'node:crypto'
import { z } from 'zod'
import { bytesSchema, decodeCbor, encodeCbor } from '../wire/index.js'
import { signedTwinIdSchema, signWithContext, verifyWithContext } from '../identity/index.js'
import { DecodeError, TwinError } from '../errors.js'
import { EnvelopeRejected } from './errors.js'
import { open, seal } from './seal.js'

/** Signature context of envelopes; see docs/PROTOCOL.md. */
export const ENVELOPE_CONTEXT = 'twin/envelope/v1'
/** Largest envelope a twin or relay accepts, in bytes. Large content goes through the vault. */
export const MAX_ENVELOPE_BYTES = 256 * 1024
/** How far in the future an envelope's creation time may be (clock skew allowance). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000
/** Longest lifetime an envelope may claim. */
export const MAX_TTL_MS = 30 * 24 * 3600_000
/** Lifetime of a message when the sender does not choose one. */
export const DEFAULT_TTL_MS = 7 * 24 * 3600_000

export const KINDS = ['event', 'request', 'response', 'error', 'ack'] as const
export type Kind = typeof KINDS[number]

const id16 = bytesSchema(16)
const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

const envelopeSchema = z.strictObject({
  v: z.literal(1),
  id: id16,
  from: signedTwinIdSchema,
  fk: uint,
  to: signedTwinIdSchema,
  tk: uint,
  created: uint,
  expires: uint,
  kind: z.enum(KINDS),
  cid: id16.nullable(),
  seq: uint,
  body: bytesSchema(),
  sig: bytesSchema(64)
})

export type Envelope = z.infer<typeof envelopeSchema>
export type EnvelopeHeader = Omit<Envelope, 'body' | 'sig'>

/** What is inside the sealed body, by kind. */
export type Body =
  | { verb: string, payload: unknown } // event, request
  | { payload: unknown } // response
  | { code: string, message: string } // error
  | { ids: Uint8Array[] } // ack

const verbSchema = z.string().min(1).max(128).regex(/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/, 'a verb looks like "chat.message"')
const bodySchemas = {
  event: z.strictObject({ verb: verbSchema, payload: z.unknown() }),
  request: z.strictObject({ verb: verbSchema, payload: z.unknown() }),
  response: z.strictObject({ payload: z.unknown() }),
  error: z.strictObject({ code: z.string().max(64), message: z.string().max(1000) }),
  ack: z.strictObject({ ids: z.array(id16).min(1).max(1024) })
} as const

/** A new random 16-byte message id. */
export function newMessageId (): Uint8Array {
  return new Uint8Array(randomBytes(16))
}

export interface SealInput {
  from: string
  fromKeySeq: number
  signingKey: Uint8Array | KeyObject
  to: string
  toKeySeq: number
  toEncryptionKey: Uint8Array
  kind: Kind
  body: Body
  seq?: number
  cid?: Uint8Array | null
  id?: Uint8Array
  now?: number
  ttlMs?: number
}

/** Seals the body to the recipient, signs everything, and returns the envelope and its bytes. */
export function createEnvelope (input: SealInput): { envelope: Envelope, bytes: Uint8Array } {
  const now = input.now ?? Date.now()
  const ttl = input.ttlMs ?? DEFAULT_TTL_MS
  if (ttl <= 0 || ttl > MAX_TTL_MS) throw new TwinError('TTL_INVALID', `a message lives between 1 ms and ${MAX_TTL_MS / 86_400_000} days`)
  const header: EnvelopeHeader = {
    v: 1,
    id: input.id ?? newMessageId(),
    from: input.from,
    fk: input.fromKeySeq,
    to: input.to,
    tk: input.toKeySeq,
    created: now,
    expires: now + ttl,
    kind: input.kind,
    cid: input.cid ?? null,
    seq: input.seq ?? 0
  }
  const plaintext = encodeCbor(input.body)
  const body = seal(input.toEncryptionKey, encodeCbor(header), plaintext)
  const sig = signWithContext(input.signingKey, ENVELOPE_CONTEXT, encodeCbor({ ...header, body }))
  const envelope: Envelope = { ...header, body, sig }
  const bytes = encodeCbor(envelope)
  if (bytes.length > MAX_ENVELOPE_BYTES) {
    throw new TwinError('MESSAGE_TOO_LARGE', `the message is ${bytes.length} bytes sealed; the limit is ${MAX_ENVELOPE_BYTES} (send large content through the vault)`)
  }
  return { envelope, bytes }
}

/** Decodes an envelope's bytes: size limit first, then canonical CBOR and the schema. */
export function decodeEnvelope (bytes: Uint8Array): Envelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new EnvelopeRejected('too-large', `envelope of ${bytes.length} bytes is over the ${MAX_ENVELOPE_BYTES}-byte limit`)
  let value: unknown
  try {
    value = decodeCbor(bytes, 'envelope')
  } catch (err) {
    throw new EnvelopeRejected('malformed', err instanceof DecodeError ? err.message : 'envelope is not valid CBOR')
  }
  const parsed = envelopeSchema.safeParse(value)
  if (!parsed.success) throw new EnvelopeRejected('malformed', `envelope is not valid: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`)
  return parsed.data
}

export function encodeEnvelope (envelope: Envelope): Uint8Array {
  return encodeCbor(envelope)
}

/** The checks that need no keys: addressed to me, not expired, not from the future, sane lifetime. */
export function checkEnvelopeTiming (env: Envelope, me: string, now = Date.now()): void {
  if (env.to !== me) throw new EnvelopeRejected('wrong-recipient', 'the envelope is addressed to another twin')
  checkEnvelopeLifetime(env, now)
}

/** The timing checks alone (not expired, not from the future, sane lifetime), which relays apply too. */
export function checkEnvelopeLifetime (env: Pick<Envelope, 'created' | 'expires'>, now = Date.now()): void {
  if (env.expires <= now) throw new EnvelopeRejected('expired', 'the envelope has expired')
  if (env.created > now + MAX_CLOCK_SKEW_MS) throw new EnvelopeRejected('from-the-future', `the envelope was created more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes in the future`)
  if (env.expires - env.created > MAX_TTL_MS || env.expires < env.created) throw new EnvelopeRejected('ttl-too-long', 'the envelope claims a lifetime over the limit')
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
  let value: unknown
  try {
    value = decodeCbor(plain, 'message body')
  } catch {
    throw new EnvelopeRejected('malformed', 'the sealed body is not valid CBOR')
  }
  const parsed = bodySchemas[env.kind].safeParse(value)
  if (!parsed.success) throw new EnvelopeRejected('malformed', `the ${env.kind} body is not valid: ${parsed.error.issues[0]?.message}`)
  return parsed.data as Body
}

/** Checks a verb name as senders must write it ("chat.message"). */
export function checkVerb (verb: string): string {
  const r = verbSchema.safeParse(verb)
  if (!r.success) throw new TwinError('VERB_INVALID', `"${verb}" is not a verb: a verb looks like "chat.message"`)
  return verb
}
