import {
  createPrivateKey, createPublicKey, diffieHellman, hkdfSync, sign, verify,
  type KeyObject
} from 'node:crypto'
import { assertBytes, concatBytes, fromBase58btc, toBase58btc, utf8 } from '../wire/index.js'
import { DecodeError } from '../errors.js'

// DER prefixes that wrap a raw 32-byte key as PKCS#8 / SPKI (RFC 8410), so node:crypto can
// use keys whose bytes Twin derives itself.
const ED25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const X25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])
const ED25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
const X25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])

// Multicodec prefixes (varint) for did:key.
const ED25519_PUB_CODEC = Uint8Array.from([0xed, 0x01])
const X25519_PUB_CODEC = Uint8Array.from([0xec, 0x01])

/** The secret keys of one key generation. */
export interface GenerationSecrets {
  /** Key generation, equal to the key event sequence at which these keys are current. */
  index: number
  /** Ed25519 private key seed (32 bytes, RFC 8032 section 5.1.5). */
  signing: Uint8Array
  /** X25519 private key (32 bytes, RFC 7748). */
  encryption: Uint8Array
  /** The vault key ("twin/v1/vault"): the same for every generation; absent in key files from before the vault. */
  vault?: Uint8Array
}

/** The public half of a key generation, as it appears in the key event log. */
export interface PublicKeys {
  signing: Uint8Array
  encryption: Uint8Array
}

/**
 * Derives the keys of generation `index` from the BIP39 seed:
 * HKDF-SHA256 (RFC 5869) with salt "twin/v1" and info "twin/v1/signing/<index>" or
 * "twin/v1/encryption/<index>", 32 bytes each. See docs/PROTOCOL.md.
 */
export function deriveGeneration (seed: Uint8Array, index: number): GenerationSecrets {
  assertBytes(seed, 64, 'BIP39 seed')
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`key generation must be a non-negative integer, got ${index}`)
  return {
    index,
    signing: hkdf(seed, `twin/v1/signing/${index}`),
    encryption: hkdf(seed, `twin/v1/encryption/${index}`),
    vault: hkdf(seed, 'twin/v1/vault')
  }
}

/** Derives a 32-byte purpose key from the BIP39 seed, e.g. "twin/v1/vault". */
export function derivePurposeKey (seed: Uint8Array, info: string): Uint8Array {
  assertBytes(seed, 64, 'BIP39 seed')
  return hkdf(seed, info)
}

function hkdf (seed: Uint8Array, info: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', seed, utf8('twin/v1'), utf8(info), 32))
}

export function ed25519PrivateKey (seed: Uint8Array): KeyObject {
  assertBytes(seed, 32, 'Ed25519 private key')
  return createPrivateKey({ key: Buffer.from(concatBytes(ED25519_PKCS8, seed)), format: 'der', type: 'pkcs8' })
}

// Importing a public key costs more than verifying a signature with it (about 85 us), and a twin
// sees the same few peers' keys again and again: keep the imported objects, bounded.
const publicKeyObjects = new Map<string, KeyObject>()
const MAX_CACHED_KEYS = 4096

function cachedPublicKey (prefix: Uint8Array, publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(prefix.subarray(8, 9)).toString('hex') + Buffer.from(publicKey).toString('hex')
  let key = publicKeyObjects.get(id)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.from(concatBytes(prefix, publicKey)), format: 'der', type: 'spki' })
    if (publicKeyObjects.size >= MAX_CACHED_KEYS) publicKeyObjects.delete(publicKeyObjects.keys().next().value as string)
    publicKeyObjects.set(id, key)
  }
  return key
}

export function ed25519PublicKeyObject (publicKey: Uint8Array): KeyObject {
  assertBytes(publicKey, 32, 'Ed25519 public key')
  return cachedPublicKey(ED25519_SPKI, publicKey)
}

export function x25519PrivateKey (secret: Uint8Array): KeyObject {
  assertBytes(secret, 32, 'X25519 private key')
  return createPrivateKey({ key: Buffer.from(concatBytes(X25519_PKCS8, secret)), format: 'der', type: 'pkcs8' })
}

export function x25519PublicKeyObject (publicKey: Uint8Array): KeyObject {
  assertBytes(publicKey, 32, 'X25519 public key')
  return cachedPublicKey(X25519_SPKI, publicKey)
}

function rawPublic (key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' })
  return new Uint8Array(der.subarray(der.length - 32))
}

/** The Ed25519 public key of a 32-byte seed. */
export function ed25519PublicKey (seed: Uint8Array): Uint8Array {
  return rawPublic(createPublicKey(ed25519PrivateKey(seed)))
}

/** The X25519 public key of a 32-byte private key. */
export function x25519PublicKey (secret: Uint8Array): Uint8Array {
  return rawPublic(createPublicKey(x25519PrivateKey(secret)))
}

export function publicKeysOf (secrets: GenerationSecrets): PublicKeys {
  return { signing: ed25519PublicKey(secrets.signing), encryption: x25519PublicKey(secrets.encryption) }
}

/** A pure Ed25519 signature (RFC 8032) of `message`. */
export function ed25519Sign (key: Uint8Array | KeyObject, message: Uint8Array): Uint8Array {
  const k = key instanceof Uint8Array ? ed25519PrivateKey(key) : key
  return new Uint8Array(sign(null, message, k))
}

/** Verifies an Ed25519 signature; false for any malformed input rather than an exception. */
export function ed25519Verify (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false
  try {
    return verify(null, message, ed25519PublicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}

/**
 * X25519 shared secret (RFC 7748); throws on an all-zero result (a low-order public key).
 * `ephemeral` marks a public key seen once (a sealed message's), which is not worth caching.
 */
export function x25519 (secret: Uint8Array | KeyObject, publicKey: Uint8Array, options: { ephemeral?: boolean } = {}): Uint8Array {
  const privateKey = secret instanceof Uint8Array ? x25519PrivateKey(secret) : secret
  assertBytes(publicKey, 32, 'X25519 public key')
  const pub = options.ephemeral === true
    ? createPublicKey({ key: Buffer.from(concatBytes(X25519_SPKI, publicKey)), format: 'der', type: 'spki' })
    : x25519PublicKeyObject(publicKey)
  const shared = new Uint8Array(diffieHellman({ privateKey, publicKey: pub }))
  if (shared.every(b => b === 0)) throw new RangeError('X25519 produced an all-zero shared secret (low-order public key)')
  return shared
}

/** Signs `payload` under a context label, so a signature made for one purpose is never valid for another. */
export function signWithContext (key: Uint8Array | KeyObject, context: string, payload: Uint8Array): Uint8Array {
  return ed25519Sign(key, contextMessage(context, payload))
}

export function verifyWithContext (publicKey: Uint8Array, context: string, payload: Uint8Array, signature: Uint8Array): boolean {
  return ed25519Verify(publicKey, contextMessage(context, payload), signature)
}

function contextMessage (context: string, payload: Uint8Array): Uint8Array {
  return concatBytes(utf8(context), Uint8Array.of(0), payload)
}

/** `did:key` form of an Ed25519 public key (`did:key:z6Mk...`). */
export function ed25519DidKey (publicKey: Uint8Array): string {
  assertBytes(publicKey, 32, 'Ed25519 public key')
  return 'did:key:' + toBase58btc(concatBytes(ED25519_PUB_CODEC, publicKey))
}

/** `did:key` form of an X25519 public key (`did:key:z6LS...`). */
export function x25519DidKey (publicKey: Uint8Array): string {
  assertBytes(publicKey, 32, 'X25519 public key')
  return 'did:key:' + toBase58btc(concatBytes(X25519_PUB_CODEC, publicKey))
}

/** Parses a `did:key` string back to its key type and 32 raw bytes. */
export function parseDidKey (did: string): { type: 'Ed25519' | 'X25519', publicKey: Uint8Array } {
  if (!did.startsWith('did:key:')) throw new DecodeError('did:key', 'expected a string starting with did:key:')
  const bytes = fromBase58btc(did.slice('did:key:'.length), 'did:key')
  if (bytes.length !== 34) throw new DecodeError('did:key', `expected a 32-byte key, got ${bytes.length - 2} bytes`)
  const prefix = bytes.subarray(0, 2)
  const type = prefix[0] === 0xed && prefix[1] === 0x01 ? 'Ed25519' : prefix[0] === 0xec && prefix[1] === 0x01 ? 'X25519' : undefined
  if (type === undefined) throw new DecodeError('did:key', 'not an Ed25519 or X25519 key')
  return { type, publicKey: bytes.slice(2) }
}
