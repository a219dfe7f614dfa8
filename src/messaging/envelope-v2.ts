import type { KeyObject } from 'node:crypto'
import { signWithContext, verifyWithContext, x25519 } from '../identity/index.js'
import { byteStringHead, concatBytes, decodeCbor, encodeCbor, readByteStringHead } from '../wire/index.js'
import { DecodeError } from '../errors.js'
import { decodeBody, encodeBody, type Body } from './body.js'
import { EnvelopeRejected, MessagingError } from './errors.js'
import { checkHeaderFields, newHeader, type HeaderFields, type HeaderInput } from './header.js'
import { MAX_ENVELOPE_BYTES } from './limits.js'
import { MAX_COUNTER, SessionKeys, verifySessionSignature, type SendSession, type SessionInit } from './session.js'
import { bytes, noOtherKeys, record, ShapeError, uint } from './shape.js'

/**
 * Envelope version 2 (docs/PROTOCOL.md, section 11): the header is carried as the exact bytes
 * that were sealed and signed, so a receiver uses what it got, without encoding anything again.
 *
 *   envelope = CBOR({ v: 2, h: CBOR(header), b: sealed body, sig: signature or null })
 *   header   = the fields of HeaderFields, and e (32), es (64), n: the session (session.ts)
 *   sig      = Ed25519(sender key fk, "twin/envelope/v2" || 0x00 || h || b), or null
 *
 * `h` is one complete CBOR item, so `h || b` splits in one way only. The signature is what a
 * relay checks (it holds no session key); the recipient authenticates by the session.
 */
export const ENVELOPE_V2_CONTEXT = 'twin/envelope/v2'

export interface EnvelopeV2 extends HeaderFields {
  v: 2
  /** The session's ephemeral public key. */
  e: Uint8Array
  /** The session signature. */
  es: Uint8Array
  /** The envelope's counter in its session. */
  n: number
  /** The header as it was sealed and signed. */
  header: Uint8Array
  body: Uint8Array
  sig: Uint8Array | null
}

const HEADER_KEYS = ['id', 'from', 'fk', 'to', 'tk', 'created', 'expires', 'kind', 'cid', 'seq', 'e', 'es', 'n'] as const

export interface SealV2Input extends HeaderInput {
  body: Body
  session: SendSession
  n: number
  /** Signs the envelope, for one that may be left at a relay; without it `sig` is null. */
  signingKey?: Uint8Array | KeyObject
}

/** Seals a body as envelope `n` of a session. */
export function createEnvelopeV2 (input: SealV2Input): { envelope: EnvelopeV2, bytes: Uint8Array } {
  const fields = newHeader(input)
  const { e } = input.session.init
  const { es } = input.session
  const header = encodeCbor({ ...fields, e, es, n: input.n })
  const body = input.session.keys.seal(input.n, header, encodeBody(input.body))
  const sig = input.signingKey === undefined ? null : signV2(header, body, input.signingKey)
  const bytes = encodeV2(header, body, sig)
  // Checked as signed (null is 1 byte, a signature 66): an unsigned envelope may have to be signed for a relay.
  if (bytes.length + (sig === null ? 65 : 0) > MAX_ENVELOPE_BYTES) {
    throw new MessagingError('MESSAGE_TOO_LARGE', `the message is ${bytes.length + (sig === null ? 65 : 0)} bytes sealed; the limit is ${MAX_ENVELOPE_BYTES} (send large content through the vault)`)
  }
  return { envelope: { v: 2, ...fields, e, es, n: input.n, header, body, sig }, bytes }
}

/** The bytes of an envelope with its signature added (an unsigned one that must go through a relay). */
export function signEnvelopeV2 (env: EnvelopeV2, signingKey: Uint8Array | KeyObject): Uint8Array {
  return encodeV2(env.header, env.body, signV2(env.header, env.body, signingKey))
}

function signV2 (header: Uint8Array, body: Uint8Array, key: Uint8Array | KeyObject): Uint8Array {
  return signWithContext(key, ENVELOPE_V2_CONTEXT, concatBytes(header, body))
}

/** Verifies the per-envelope signature, as a relay does before it keeps an envelope. */
export function verifyEnvelopeV2Signature (env: EnvelopeV2, senderSigningKey: Uint8Array): void {
  if (env.sig === null) throw new EnvelopeRejected('bad-signature', 'the envelope is not signed: only envelopes signed by their sender are kept')
  if (!verifyWithContext(senderSigningKey, ENVELOPE_V2_CONTEXT, concatBytes(env.header, env.body), env.sig)) {
    throw new EnvelopeRejected('bad-signature', 'the envelope\'s signature does not verify')
  }
}

/** The session an envelope names. */
export function sessionOf (env: EnvelopeV2): SessionInit {
  return { from: env.from, fk: env.fk, to: env.to, tk: env.tk, e: env.e }
}

/** Opens the body with the session's keys and checks it against the envelope's kind. */
export function openWithSession (env: EnvelopeV2, keys: SessionKeys): Body {
  const plain = keys.open(env.n, env.header, env.body)
  if (plain === undefined) throw new EnvelopeRejected('undecryptable', 'the envelope cannot be opened with this twin\'s key')
  return decodeBody(env.kind, plain)
}

/**
 * Opens an envelope on its own, with nothing cached: checks the session signature with the
 * sender's key `fk`, agrees the session key, opens. For readers that see one envelope (tests,
 * other implementations checking the vector); a twin keeps its sessions (`ReceiveSessions`).
 */
export function openEnvelopeV2 (env: EnvelopeV2, secret: KeyObject, publicKey: Uint8Array, senderSigningKey: Uint8Array): Body {
  if (!verifySessionSignature(sessionOf(env), env.es, senderSigningKey)) throw new EnvelopeRejected('bad-signature', 'the session signature does not verify')
  let keys: SessionKeys
  try {
    keys = SessionKeys.derive(x25519(secret, env.e, { ephemeral: true }), sessionOf(env), publicKey)
  } catch {
    throw new EnvelopeRejected('undecryptable', 'the envelope cannot be opened with this twin\'s key') // a low-order ephemeral key
  }
  try {
    return openWithSession(env, keys)
  } finally {
    keys.destroy()
  }
}

// ---- encoding --------------------------------------------------------------------------------
// The outer map has four fixed keys, so it is written and read by hand: canonical CBOR
// (RFC 8949, section 4.2.1: shortest heads, keys sorted by length then bytes: b, h, v, sig)
// without copying the body through a generic codec twice.

const MAP_4 = Uint8Array.of(0xa4)
const KEY_B = Uint8Array.of(0x61, 0x62)
const KEY_H = Uint8Array.of(0x61, 0x68)
const KEY_V_2 = Uint8Array.of(0x61, 0x76, 0x02)
const KEY_SIG = Uint8Array.of(0x63, 0x73, 0x69, 0x67)
const NULL = Uint8Array.of(0xf6)

function encodeV2 (header: Uint8Array, body: Uint8Array, sig: Uint8Array | null): Uint8Array {
  return concatBytes(
    MAP_4, KEY_B, byteStringHead(body.length), body, KEY_H, byteStringHead(header.length), header, KEY_V_2, KEY_SIG,
    ...(sig === null ? [NULL] : [byteStringHead(sig.length), sig])
  )
}

/** True when `bytes` starts as a version 2 envelope does (a map of four entries whose first key is "b"). */
export function looksLikeV2 (bytes: Uint8Array): boolean {
  return bytes[0] === MAP_4[0] && bytes[1] === KEY_B[0] && bytes[2] === KEY_B[1]
}

class Reader {
  at = 0
  constructor (private readonly bytes: Uint8Array) {}

  expect (expected: Uint8Array, what: string): void {
    for (const b of expected) {
      if (this.bytes[this.at] !== b) throw new ShapeError('', `expected ${what} at byte ${this.at}`)
      this.at++
    }
  }

  /** A byte string with its head in shortest form; returned without copying. */
  byteString (what: string): Uint8Array {
    const head = readByteStringHead(this.bytes, this.at)
    if (head === undefined) throw new ShapeError(what, 'expected bytes with a length in shortest form (canonical CBOR), not truncated')
    this.at = head.start + head.length
    return this.bytes.subarray(head.start, this.at)
  }

  peek (): number | undefined {
    return this.bytes[this.at]
  }

  get done (): boolean {
    return this.at === this.bytes.length
  }
}

/** Decodes a version 2 envelope: the outer map by hand, the header as canonical CBOR, every field checked. */
export function decodeEnvelopeV2 (bytes: Uint8Array): EnvelopeV2 {
  try {
    const r = new Reader(bytes)
    r.expect(MAP_4, 'a map of 4 entries')
    r.expect(KEY_B, 'the key "b"')
    const body = r.byteString('b')
    r.expect(KEY_H, 'the key "h"')
    const header = r.byteString('h')
    r.expect(KEY_V_2, 'v: 2')
    r.expect(KEY_SIG, 'the key "sig"')
    let sig: Uint8Array | null = null
    if (r.peek() === NULL[0]) r.expect(NULL, 'null')
    else {
      sig = r.byteString('sig')
      if (sig.length !== 64) throw new ShapeError('sig', 'expected 64 bytes')
    }
    if (!r.done) throw new ShapeError('', 'bytes after the envelope')
    return { v: 2, ...checkHeader(header), header, body, sig }
  } catch (err) {
    if (err instanceof ShapeError) throw new EnvelopeRejected('malformed', `envelope is not valid: ${err.message}`)
    throw err
  }
}

function checkHeader (header: Uint8Array): HeaderFields & { e: Uint8Array, es: Uint8Array, n: number } {
  let value: unknown
  try {
    value = decodeCbor(header, 'envelope header')
  } catch (err) {
    throw new ShapeError('h', err instanceof DecodeError ? err.message : 'not valid CBOR')
  }
  const f = record(value, 'h')
  const fields = checkHeaderFields(f)
  const e = bytes(f, 'e', 32)
  const es = bytes(f, 'es', 64)
  const n = uint(f, 'n')
  if (n > MAX_COUNTER) throw new ShapeError('n', `Too big: expected int to be <=${MAX_COUNTER}`)
  noOtherKeys(f, HEADER_KEYS)
  return { ...fields, e, es, n }
}
