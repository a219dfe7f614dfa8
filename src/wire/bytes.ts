import { timingSafeEqual } from 'node:crypto'
import { base58btc } from 'multiformats/bases/base58'
import { base32 } from 'multiformats/bases/base32'
import { DecodeError } from '../errors.js'

/** Byte equality that takes the same time for equal-length inputs. */
export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) { out.set(p, offset); offset += p.length }
  return out
}

export function utf8 (text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function fromHex (hex: string, what = 'hex string'): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new DecodeError(what, 'expected hexadecimal')
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

export function toBase64url (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

export function fromBase64url (text: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new DecodeError(what, 'expected base64url text')
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'))
  // Reject non-canonical encodings (trailing bits), so one value has one text form.
  if (toBase64url(bytes) !== text) throw new DecodeError(what, 'not canonical base64url')
  return bytes
}

/** Multibase base58btc (`z...`), as used by did:key. */
export function toBase58btc (bytes: Uint8Array): string {
  return base58btc.encode(bytes)
}

export function fromBase58btc (text: string, what: string): Uint8Array {
  try {
    return base58btc.decode(text)
  } catch (err) {
    throw new DecodeError(what, 'expected multibase base58btc text (z...)', { cause: err })
  }
}

/** Multibase base32 lower case (`b...`): URL-safe, case-insensitive, as in CIDv1. */
export function toBase32 (bytes: Uint8Array): string {
  return base32.encode(bytes)
}

export function fromBase32 (text: string, what: string): Uint8Array {
  try {
    return base32.decode(text)
  } catch (err) {
    throw new DecodeError(what, 'expected multibase base32 text (b...)', { cause: err })
  }
}

/** Checks that a value is a Uint8Array of an exact length, with a message that says what was wrong. */
export function assertBytes (value: unknown, length: number, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what}: expected Uint8Array, got ${typeof value}`)
  if (value.length !== length) throw new TypeError(`${what}: expected Uint8Array of length ${length}, got ${value.length}`)
}
