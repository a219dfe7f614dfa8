import { createCipheriv, createDecipheriv, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto'
import { concatBytes, utf8 } from '../wire/index.js'
import { x25519 } from '../identity/index.js'

/**
 * Sealed box for one recipient, after HPKE base mode (RFC 9180) with a fixed suite:
 * a fresh X25519 key pair per message (ephemeral-static Diffie-Hellman), HKDF-SHA256, and
 * ChaCha20-Poly1305 with the envelope header as associated data. The key is used for one
 * message only, so the nonce is fixed at zero. See docs/PROTOCOL.md, "Seal".
 *
 *   shared = X25519(ephemeral secret, recipient public)
 *   key    = HKDF-SHA256(ikm = shared, salt = ephemeral public || recipient public, info = "twin/seal/v1", 32)
 *   sealed = ephemeral public (32) || ChaCha20-Poly1305(key, nonce = 0^12, aad = header, plaintext) || tag (16)
 */
const INFO = utf8('twin/seal/v1')
const NONCE = new Uint8Array(12)
const TAG = 16
export const SEAL_OVERHEAD = 32 + TAG

function sealKey (shared: Uint8Array, ephemeralPublic: Uint8Array, recipientPublic: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', shared, concatBytes(ephemeralPublic, recipientPublic), INFO, 32))
}

export function seal (recipientPublic: Uint8Array, header: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const eph = generateKeyPairSync('x25519')
  const ephPublic = new Uint8Array(eph.publicKey.export({ format: 'der', type: 'spki' }).subarray(12))
  const key = sealKey(x25519(eph.privateKey, recipientPublic), ephPublic, recipientPublic)
  const cipher = createCipheriv('chacha20-poly1305', key, NONCE, { authTagLength: TAG })
  cipher.setAAD(header, { plaintextLength: plaintext.length })
  const out = concatBytes(ephPublic, cipher.update(plaintext), cipher.final(), cipher.getAuthTag())
  key.fill(0)
  return out
}

/** Opens a sealed box; returns undefined when it was not sealed to this key or was altered. */
export function open (recipientSecret: KeyObject, recipientPublic: Uint8Array, header: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.length < SEAL_OVERHEAD) return undefined
  const ephPublic = sealed.subarray(0, 32)
  let key: Uint8Array
  try {
    key = sealKey(x25519(recipientSecret, ephPublic, { ephemeral: true }), ephPublic, recipientPublic)
  } catch {
    return undefined
  }
  const decipher = createDecipheriv('chacha20-poly1305', key, NONCE, { authTagLength: TAG })
  decipher.setAAD(header, { plaintextLength: sealed.length - SEAL_OVERHEAD })
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG))
  try {
    return concatBytes(decipher.update(sealed.subarray(32, sealed.length - TAG)), decipher.final())
  } catch {
    return undefined
  } finally {
    key.fill(0)
  }
}
