import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { assertBytes, concatBytes, utf8 } from '../wire/index.js'
import { VaultError } from './errors.js'

/**
 * The vault's keys, all derived from the 32-byte vault key (itself derived from the recovery
 * phrase, "twin/v1/vault"), with HKDF-SHA256 and a purpose label:
 *   chunk ids   HMAC-SHA256(key("twin/v1/vault/chunk-id"), plaintext chunk)
 *   chunk keys  HKDF-SHA256(ikm = vault key, salt = chunk id, info = "twin/v1/vault/chunk-key")
 *   root key    key("twin/v1/vault/root"): seals the snapshot description inside a root pointer
 *   locator key key("twin/v1/vault/locator"): seals the list of storage nodes in the twin document
 * A chunk's key depends on its keyed id, so the same chunk encrypts the same way inside one
 * vault (dedupe) while nobody without the vault key can tell which content it is.
 */
export class VaultKeys {
  private readonly idKey: Uint8Array
  readonly rootKey: Uint8Array
  readonly locatorKey: Uint8Array

  constructor (private readonly vaultKey: Uint8Array) {
    assertBytes(vaultKey, 32, 'vault key')
    this.idKey = derive(vaultKey, 'twin/v1/vault/chunk-id')
    this.rootKey = derive(vaultKey, 'twin/v1/vault/root')
    this.locatorKey = derive(vaultKey, 'twin/v1/vault/locator')
  }

  /** The keyed hash that names a chunk inside this vault. */
  chunkId (plaintext: Uint8Array): Uint8Array {
    return new Uint8Array(createHmac('sha256', this.idKey).update(plaintext).digest())
  }

  chunkKey (chunkId: Uint8Array): Uint8Array {
    return new Uint8Array(hkdfSync('sha256', this.vaultKey, chunkId, utf8('twin/v1/vault/chunk-key'), 32))
  }
}

function derive (key: Uint8Array, info: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', key, utf8('twin/v1'), utf8(info), 32))
}

const NONCE = new Uint8Array(12)
const TAG = 16

/**
 * AES-256-GCM with a key used for exactly one plaintext (a chunk's key is derived from its id,
 * which is a keyed hash of its content), so a fixed nonce is safe. The associated data binds
 * the ciphertext to its chunk id.
 */
export function encryptChunk (key: Uint8Array, chunkId: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-gcm', key, NONCE)
  c.setAAD(chunkId)
  return concatBytes(c.update(plaintext), c.final(), c.getAuthTag())
}

export function decryptChunk (key: Uint8Array, chunkId: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  if (ciphertext.length < TAG) throw new VaultError('CHUNK_CORRUPT', 'an encrypted chunk is too short')
  const d = createDecipheriv('aes-256-gcm', key, NONCE)
  d.setAAD(chunkId)
  d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG))
  try {
    return concatBytes(d.update(ciphertext.subarray(0, ciphertext.length - TAG)), d.final())
  } catch {
    throw new VaultError('CHUNK_CORRUPT', 'an encrypted chunk does not decrypt: it was altered or the key is wrong')
  }
}

const NONCE_BYTES = 12

/**
 * Seals a small value only the owner needs (a root's snapshot description, the storage-node
 * list): AES-256-GCM with a random 96-bit nonce, since the same key seals many values (far
 * fewer than the 2^32 after which random nonces would risk a repeat, NIST SP 800-38D 8.3).
 * Output: nonce || ciphertext || 16-byte tag.
 */
export function sealForOwner (key: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  assertBytes(key, 32, 'sealing key')
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES))
  const c = createCipheriv('aes-256-gcm', key, nonce)
  c.setAAD(aad)
  return concatBytes(nonce, c.update(plaintext), c.final(), c.getAuthTag())
}

/** Opens what `sealForOwner` sealed; throws a TwinError if it was altered or sealed under another key or label. */
export function openForOwner (key: Uint8Array, aad: Uint8Array, sealed: Uint8Array, what: string): Uint8Array {
  assertBytes(key, 32, 'sealing key')
  if (sealed.length < NONCE_BYTES + TAG) throw new VaultError('SEALED_INVALID', `the sealed ${what} is too short`)
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES))
  d.setAAD(aad)
  d.setAuthTag(sealed.subarray(sealed.length - TAG))
  try {
    return concatBytes(d.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG)), d.final())
  } catch {
    throw new VaultError('SEALED_INVALID', `the sealed ${what} does not open with this vault's key`)
  }
}
