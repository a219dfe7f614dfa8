import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto'
import { assertBytes, concatBytes, utf8 } from '../wire/index.js'
import { TwinError } from '../errors.js'

/**
 * The vault's keys, all derived from the 32-byte vault key (itself derived from the recovery
 * phrase, "twin/v1/vault"), with HKDF-SHA256 and a purpose label:
 *   chunk ids   HMAC-SHA256(key("twin/v1/vault/chunk-id"), plaintext chunk)
 *   chunk keys  HKDF-SHA256(ikm = vault key, salt = chunk id, info = "twin/v1/vault/chunk-key")
 * A chunk's key depends on its keyed id, so the same chunk encrypts the same way inside one
 * vault (dedupe) while nobody without the vault key can tell which content it is.
 */
export class VaultKeys {
  private readonly idKey: Uint8Array

  constructor (private readonly vaultKey: Uint8Array) {
    assertBytes(vaultKey, 32, 'vault key')
    this.idKey = derive(vaultKey, 'twin/v1/vault/chunk-id')
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
  if (ciphertext.length < TAG) throw new TwinError('CHUNK_CORRUPT', 'an encrypted chunk is too short')
  const d = createDecipheriv('aes-256-gcm', key, NONCE)
  d.setAAD(chunkId)
  d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG))
  try {
    return concatBytes(d.update(ciphertext.subarray(0, ciphertext.length - TAG)), d.final())
  } catch {
    throw new TwinError('CHUNK_CORRUPT', 'an encrypted chunk does not decrypt: it was altered or the key is wrong')
  }
}
