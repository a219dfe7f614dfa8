import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, type KeyObject } from 'node:crypto'
import { signWithContext, verifyWithContext, x25519, x25519PublicKey } from '../identity/index.js'
import { assertBytes, concatBytes, encodeCbor, utf8 } from '../wire/index.js'

/**
 * Sessions of envelope version 2 (docs/PROTOCOL.md, section 11a). A session runs one
 * way, from a sender to a recipient: the sender draws an ephemeral X25519 key, signs it with
 * its identity key together with both ends and their key sequences, and agrees one key with
 * the recipient's static key. Every envelope of the session carries that signed ephemeral key
 * and a counter, so each one can be opened on its own, in any order, by any path:
 *
 *   init   = CBOR({ from, fk, to, tk, e })                      e: the ephemeral public key
 *   es     = Ed25519(sender key fk, "twin/session/v2" || 0x00 || init)
 *   shared = X25519(ephemeral secret, recipient public key tk)  (RFC 7748, section 6.1)
 *   okm    = HKDF-SHA256(ikm = shared, salt = e || recipient public key,
 *                        info = "twin/session/v2" || init, L = 44)   (RFC 5869)
 *   key    = okm[0..32], iv = okm[32..44]
 *   nonce  = iv XOR (n as 12 bytes, big-endian)                 (as TLS 1.3, RFC 8446, section 5.3)
 *   body   = ChaCha20-Poly1305(key, nonce, aad = header bytes, plaintext) || tag   (RFC 8439)
 *
 * The sender forgets the ephemeral secret as soon as the key is agreed, and the key itself when
 * the session rotates (after `SESSION_MAX_MESSAGES` envelopes or `SESSION_MAX_AGE_MS`).
 */
export const SESSION_CONTEXT = 'twin/session/v2'
const INFO = utf8('twin/session/v2')
/** Envelopes sealed in one session before the sender starts a new one. */
export const SESSION_MAX_MESSAGES = 100_000
/** Age of a session after which the sender starts a new one. */
export const SESSION_MAX_AGE_MS = 3600_000
/** Largest counter a receiver accepts: far below the nonce space, far above what rotation allows. */
export const MAX_COUNTER = 2 ** 32 - 1
const TAG = 16

/** What a session signature covers. */
export interface SessionInit { from: string, fk: number, to: string, tk: number, e: Uint8Array }

export function encodeSessionInit (init: SessionInit): Uint8Array {
  return encodeCbor({ from: init.from, fk: init.fk, to: init.to, tk: init.tk, e: init.e })
}

/** Verifies a session signature with the sender's signing key of sequence `fk`. */
export function verifySessionSignature (init: SessionInit, es: Uint8Array, senderSigningKey: Uint8Array): boolean {
  return verifyWithContext(senderSigningKey, SESSION_CONTEXT, encodeSessionInit(init), es)
}

/** The symmetric half of a session: its AEAD key and nonce base. */
export class SessionKeys {
  private constructor (private readonly key: Buffer, private readonly iv: Buffer) {}

  /** HKDF over an agreed secret; the secret is zeroed here, it is not needed again. */
  static derive (shared: Uint8Array, init: SessionInit, recipientPublic: Uint8Array): SessionKeys {
    const okm = Buffer.from(hkdfSync('sha256', shared, concatBytes(init.e, recipientPublic), concatBytes(INFO, encodeSessionInit(init)), 44))
    shared.fill(0)
    return new SessionKeys(okm.subarray(0, 32), okm.subarray(32, 44))
  }

  /** ChaCha20-Poly1305 of `plaintext` as envelope `n` of the session, bound to `aad`. */
  seal (n: number, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const cipher = createCipheriv('chacha20-poly1305', this.key, this.nonce(n), { authTagLength: TAG })
    cipher.setAAD(aad, { plaintextLength: plaintext.length })
    return concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag())
  }

  /** The plaintext of envelope `n`, or undefined when it was not sealed with this key, this counter and this `aad`. */
  open (n: number, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    if (sealed.length < TAG) return undefined
    const decipher = createDecipheriv('chacha20-poly1305', this.key, this.nonce(n), { authTagLength: TAG })
    decipher.setAAD(aad, { plaintextLength: sealed.length - TAG })
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG))
    try {
      return concatBytes(decipher.update(sealed.subarray(0, sealed.length - TAG)), decipher.final())
    } catch {
      return undefined // the tag does not match: altered, or another key, counter or header
    }
  }

  /** Zeroes the key; the session can seal and open nothing after. */
  destroy (): void {
    this.key.fill(0)
    this.iv.fill(0)
  }

  private nonce (n: number): Buffer {
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_COUNTER) throw new RangeError(`session counter out of range: ${n}`)
    const nonce = Buffer.from(this.iv)
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ n) >>> 0, 8)
    return nonce
  }
}

/** A sender's session to one recipient at one of its key sequences. */
export interface SendSession {
  init: SessionInit
  /** The session signature. */
  es: Uint8Array
  keys: SessionKeys
  created: number
  /** Envelopes sealed so far; the next one gets this counter. */
  sent: number
}

export interface SessionOwner { id: string, sequence: number, signingKey: KeyObject | Uint8Array }

/**
 * Starts a session from `owner` to the recipient of static key `recipientPublic` (sequence `tk`).
 * `ephemeralSecret` is for known-answer vectors only; a twin always draws a fresh one.
 */
export function startSession (owner: SessionOwner, to: string, tk: number, recipientPublic: Uint8Array, now: number, ephemeralSecret?: Uint8Array): SendSession {
  assertBytes(recipientPublic, 32, 'recipient X25519 public key')
  if (ephemeralSecret !== undefined) assertBytes(ephemeralSecret, 32, 'ephemeral X25519 secret')
  const secret = new Uint8Array(ephemeralSecret ?? randomBytes(32)) // a copy: zeroed below
  const init: SessionInit = { from: owner.id, fk: owner.sequence, to, tk, e: x25519PublicKey(secret) }
  const keys = SessionKeys.derive(x25519(secret, recipientPublic), init, recipientPublic)
  secret.fill(0)
  return { init, es: signWithContext(owner.signingKey, SESSION_CONTEXT, encodeSessionInit(init)), keys, created: now, sent: 0 }
}

/** Most recipients a sender keeps a session with; the least recently used session goes first. */
const MAX_SEND_SESSIONS = 4096

/** A sender's sessions, one per recipient, rotated by count, age and key sequence. */
export class SendSessions {
  private readonly sessions = new Map<string, SendSession>()

  constructor (private readonly owner: SessionOwner, private readonly now: () => number) {}

  /** The session for the next envelope to `to`, and that envelope's counter. */
  next (to: string, tk: number, recipientPublic: Uint8Array): { session: SendSession, n: number } {
    const now = this.now()
    let s = this.sessions.get(to)
    if (s !== undefined) this.sessions.delete(to) // re-inserted below: most recently used last
    if (s === undefined || s.init.tk !== tk || s.sent >= SESSION_MAX_MESSAGES || now - s.created >= SESSION_MAX_AGE_MS) {
      s?.keys.destroy()
      s = startSession(this.owner, to, tk, recipientPublic, now)
    }
    this.sessions.set(to, s)
    if (this.sessions.size > MAX_SEND_SESSIONS) this.drop(this.sessions.keys().next().value as string)
    return { session: s, n: s.sent++ }
  }

  /** Forgets every session (the twin stops): their keys are zeroed. */
  clear (): void {
    for (const to of [...this.sessions.keys()]) this.drop(to)
  }

  private drop (to: string): void {
    this.sessions.get(to)?.keys.destroy()
    this.sessions.delete(to)
  }
}

/**
 * The counters of one session's envelopes seen so far, over a sliding window (after RFC 4303,
 * section 3.4.3): a counter seen before, or older than the window, is a replay.
 */
export class ReplayWindow {
  static readonly SIZE = 4096
  private top = -1
  private readonly bits = new Uint8Array(ReplayWindow.SIZE / 8)

  /** True the first time `n` is seen (and remembers it); false for a repeat or a counter too old to tell. */
  accept (n: number): boolean {
    const size = ReplayWindow.SIZE
    if (n > this.top) {
      if (n - this.top >= size) this.bits.fill(0)
      else for (let i = this.top + 1; i < n; i++) this.set(i % size, false)
      this.top = n
      this.set(n % size, true)
      return true
    }
    if (this.top - n >= size || this.has(n % size)) return false
    this.set(n % size, true)
    return true
  }

  private has (i: number): boolean {
    return ((this.bits[i >> 3] as number) & (1 << (i & 7))) !== 0
  }

  private set (i: number, on: boolean): void {
    const byte = this.bits[i >> 3] as number
    this.bits[i >> 3] = on ? byte | (1 << (i & 7)) : byte & ~(1 << (i & 7))
  }
}

/** A receiver's side of one session: its keys and the counters seen. */
export interface ReceiveSession { keys: SessionKeys, window: ReplayWindow }

/** Sessions a receiver has verified and agreed, keyed by what their signature covers. */
const MAX_RECEIVE_SESSIONS = 4096

/**
 * The sessions a receiver opened envelopes of: each verified (one signature check) and agreed
 * (one X25519) once, then reused for every envelope that names it. Bounded: the least recently
 * used goes first, and an envelope of a forgotten session is verified and agreed again.
 */
export class ReceiveSessions {
  private readonly sessions = new Map<string, ReceiveSession>()

  /** The session named by `init`, if it was verified and agreed before. */
  get (init: SessionInit): ReceiveSession | undefined {
    const key = sessionKey(init)
    const s = this.sessions.get(key)
    if (s !== undefined) {
      this.sessions.delete(key)
      this.sessions.set(key, s)
    }
    return s
  }

  /** Agrees the key of a verified session with the recipient's static key, and keeps it. */
  add (init: SessionInit, recipientSecret: KeyObject, recipientPublic: Uint8Array): ReceiveSession {
    const s: ReceiveSession = { keys: SessionKeys.derive(x25519(recipientSecret, init.e, { ephemeral: true }), init, recipientPublic), window: new ReplayWindow() }
    this.sessions.set(sessionKey(init), s)
    if (this.sessions.size > MAX_RECEIVE_SESSIONS) {
      const oldest = this.sessions.keys().next().value as string
      this.sessions.get(oldest)?.keys.destroy()
      this.sessions.delete(oldest)
    }
    return s
  }

  clear (): void {
    for (const s of this.sessions.values()) s.keys.destroy()
    this.sessions.clear()
  }
}

function sessionKey (init: SessionInit): string {
  return `${init.from}/${init.fk}/${init.to}/${init.tk}/${Buffer.from(init.e.buffer, init.e.byteOffset, init.e.byteLength).toString('hex')}`
}
