import { z } from 'zod'
import { decodeCbor, encodeCbor, equalBytes, sha256, bytesSchema } from '../wire/index.js'
import { DecodeError } from '../errors.js'
import { KelError } from './errors.js'
import { signWithContext, verifyWithContext, type GenerationSecrets, type PublicKeys, publicKeysOf } from './keys.js'
import { signedTwinIdSchema, twinIdFromDigest } from './twin-id.js'

/** Signature context of key events; see docs/PROTOCOL.md. */
export const KEL_CONTEXT = 'twin/kel/v1'

const bytes32 = bytesSchema(32)
const bytes64 = bytesSchema(64)
const keysSchema = z.strictObject({ s: bytes32, e: bytes32 })

const inceptionSchema = z.strictObject({
  v: z.literal(1),
  t: z.literal('icp'),
  s: z.literal(0),
  k: keysSchema,
  n: bytes32
})

const rotationSchema = z.strictObject({
  v: z.literal(1),
  t: z.literal('rot'),
  i: signedTwinIdSchema,
  s: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  p: bytes32,
  k: keysSchema,
  n: bytes32
})

const signedEventSchema = z.strictObject({
  e: z.discriminatedUnion('t', [inceptionSchema, rotationSchema]),
  sig: bytes64
})

export type InceptionEvent = z.infer<typeof inceptionSchema>
export type RotationEvent = z.infer<typeof rotationSchema>
export type KeyEvent = InceptionEvent | RotationEvent
export interface SignedKeyEvent { e: KeyEvent, sig: Uint8Array }

/** What a verified key event log says about its twin now. */
export interface KelState {
  id: string
  /** Sequence of the last event: 0 after inception, +1 per rotation. */
  sequence: number
  /** Keys that are current after the last event. */
  keys: PublicKeys
  /** SHA-256 digest of the next keys, committed to by the last event. */
  next: Uint8Array
  /** SHA-256 digest of the last event. */
  head: Uint8Array
  /** Keys of every sequence, oldest first, so old signatures can be checked. */
  history: PublicKeys[]
}

/** SHA-256 of an event's canonical DAG-CBOR bytes. */
export function eventDigest (event: KeyEvent): Uint8Array {
  return sha256(encodeCbor(event))
}

/** The commitment to a key generation that the event before it carries. */
export function keysDigest (keys: PublicKeys): Uint8Array {
  return sha256(encodeCbor({ s: keys.signing, e: keys.encryption }))
}

/** Builds and signs the inception event for generation 0, committing to generation 1. */
export function createInception (current: GenerationSecrets, next: PublicKeys): SignedKeyEvent {
  if (current.index !== 0) throw new RangeError('inception uses key generation 0')
  const keys = publicKeysOf(current)
  const e: InceptionEvent = { v: 1, t: 'icp', s: 0, k: { s: keys.signing, e: keys.encryption }, n: keysDigest(next) }
  return { e, sig: signWithContext(current.signing, KEL_CONTEXT, encodeCbor(e)) }
}

/**
 * Builds and signs a rotation to the keys the previous event committed to. It is signed by
 * the new keys, which only the recovery phrase can derive, so a stolen operational key cannot
 * rotate the identity.
 */
export function createRotation (state: KelState, revealed: GenerationSecrets, next: PublicKeys): SignedKeyEvent {
  if (revealed.index !== state.sequence + 1) throw new RangeError(`rotation to generation ${state.sequence + 1} needs its keys, got generation ${revealed.index}`)
  const keys = publicKeysOf(revealed)
  if (!equalBytes(keysDigest(keys), state.next)) throw new KelError('these keys are not the ones this twin committed to: the recovery phrase belongs to another twin')
  const e: RotationEvent = {
    v: 1, t: 'rot', i: state.id, s: revealed.index, p: state.head, k: { s: keys.signing, e: keys.encryption }, n: keysDigest(next)
  }
  return { e, sig: signWithContext(revealed.signing, KEL_CONTEXT, encodeCbor(e)) }
}

export function encodeKeyEvent (event: SignedKeyEvent): Uint8Array {
  return encodeCbor(event)
}

/** Decodes one signed key event (structure only; `verifyKel` checks the chain). */
export function decodeKeyEvent (bytes: Uint8Array): SignedKeyEvent {
  const value = decodeCbor(bytes, 'key event')
  const parsed = signedEventSchema.safeParse(value)
  if (!parsed.success) throw new DecodeError('key event', parsed.error.issues[0]?.message ?? 'wrong shape')
  return parsed.data
}

/**
 * Verifies a whole key event log and returns its state: the inception is self-signed, each
 * rotation reveals exactly the keys committed to before it, names the previous event's
 * digest, and is signed by the revealed key. Throws a `KelError` that says which event failed.
 */
export function verifyKel (events: SignedKeyEvent[], expectedId?: string): KelState {
  const first = events[0]
  if (first === undefined) throw new KelError('the key event log is empty')
  if (first.e.t !== 'icp') throw new KelError('the key event log does not start with an inception event')
  if (!verifyWithContext(first.e.k.s, KEL_CONTEXT, encodeCbor(first.e), first.sig)) {
    throw new KelError('the inception event has a bad signature')
  }
  const head0 = eventDigest(first.e)
  const id = twinIdFromDigest(head0)
  if (expectedId !== undefined && id !== expectedId) {
    throw new KelError(`the key event log belongs to twin ${id}, not ${expectedId}`)
  }
  const history: PublicKeys[] = [{ signing: first.e.k.s, encryption: first.e.k.e }]
  let head = head0
  let next = first.e.n
  for (let i = 1; i < events.length; i++) {
    const { e, sig } = events[i] as SignedKeyEvent
    if (e.t !== 'rot') throw new KelError(`key event ${i} is not a rotation`)
    if (e.s !== i) throw new KelError(`key event ${i} has sequence ${e.s}`)
    if (e.i !== id) throw new KelError(`key event ${i} names another twin`)
    if (!equalBytes(e.p, head)) throw new KelError(`key event ${i} does not follow event ${i - 1}`)
    const keys = { signing: e.k.s, encryption: e.k.e }
    if (!equalBytes(keysDigest(keys), next)) throw new KelError(`key event ${i} reveals keys that event ${i - 1} did not commit to`)
    if (!verifyWithContext(e.k.s, KEL_CONTEXT, encodeCbor(e), sig)) throw new KelError(`key event ${i} has a bad signature`)
    history.push(keys)
    head = eventDigest(e)
    next = e.n
  }
  const keys = history[history.length - 1] as PublicKeys
  return { id, sequence: events.length - 1, keys, next, head, history }
}

/**
 * Of two verified logs of the same twin, returns the longer one, after checking that one
 * extends the other. Two logs that differ at the same sequence are a fork (duplicity): only a
 * holder of the recovery phrase could make one, so it is reported, never resolved silently.
 */
export function longerKel (a: SignedKeyEvent[], b: SignedKeyEvent[]): SignedKeyEvent[] {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (!equalBytes(encodeKeyEvent(a[i] as SignedKeyEvent), encodeKeyEvent(b[i] as SignedKeyEvent))) {
      throw new KelError(`two different key event logs for the same twin disagree at sequence ${i}`)
    }
  }
  return a.length >= b.length ? a : b
}
