import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto'
import { z } from 'zod'
import { equalBytes, fromBase64url, toBase64url, utf8 } from '../wire/index.js'
import { KeyFileError } from './errors.js'
import { publicKeysOf, type GenerationSecrets } from './keys.js'
import type { KelState } from './kel.js'

/** scrypt cost for passphrase-protected key files (RFC 7914; N = 2^17, r = 8, p = 1). */
export const SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const

const b64 = z.string().max(200)
const plainSchema = z.strictObject({
  format: z.literal('twin-keys/1'),
  id: z.string().max(100),
  generation: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  signing: b64,
  encryption: b64,
  vault: b64.optional()
})
const encryptedSchema = z.strictObject({
  format: z.literal('twin-keys/1'),
  id: z.string().max(100),
  generation: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  encrypted: z.strictObject({
    kdf: z.literal('scrypt'),
    N: z.number().int().min(2 ** 14).max(2 ** 22),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(16),
    salt: b64,
    cipher: z.literal('aes-256-gcm'),
    nonce: b64,
    ciphertext: b64
  })
})
const keyFileSchema = z.union([plainSchema, encryptedSchema])

/**
 * The key file's JSON text. With a passphrase the two secret keys are sealed with
 * AES-256-GCM under a scrypt-derived key, with the twin id and generation as associated data.
 */
export function formatKeyFile (id: string, secrets: GenerationSecrets, passphrase?: string): string {
  const header = { format: 'twin-keys/1' as const, id, generation: secrets.index }
  if (passphrase === undefined || passphrase === '') {
    return JSON.stringify({
      ...header,
      signing: toBase64url(secrets.signing),
      encryption: toBase64url(secrets.encryption),
      ...(secrets.vault === undefined ? {} : { vault: toBase64url(secrets.vault) })
    }, null, 2) + '\n'
  }
  const salt = new Uint8Array(randomBytes(16))
  const nonce = new Uint8Array(randomBytes(12))
  const key = passphraseKey(passphrase, salt, SCRYPT)
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(aad(id, secrets.index))
  const plain = Buffer.concat([secrets.signing, secrets.encryption, ...(secrets.vault === undefined ? [] : [secrets.vault])])
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  plain.fill(0)
  key.fill(0)
  return JSON.stringify({
    ...header,
    encrypted: { kdf: 'scrypt', ...SCRYPT, salt: toBase64url(salt), cipher: 'aes-256-gcm', nonce: toBase64url(nonce), ciphertext: toBase64url(ciphertext) }
  }, null, 2) + '\n'
}

/** True when the key file needs a passphrase. */
export function keyFileIsEncrypted (text: string): boolean {
  try {
    return encryptedSchema.safeParse(JSON.parse(text)).success
  } catch {
    return false
  }
}

/**
 * Reads the key file and checks that its keys are the current keys of the twin's verified key
 * event log, so a damaged or swapped file is caught before it signs anything.
 */
export function parseKeyFile (text: string, state: KelState, passphrase?: string): GenerationSecrets {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new KeyFileError('KEYFILE_INVALID', 'the key file is damaged (not valid JSON)')
  }
  const parsed = keyFileSchema.safeParse(json)
  if (!parsed.success) throw new KeyFileError('KEYFILE_INVALID', 'the key file is damaged (unexpected content)')
  const f = parsed.data
  if (f.id !== state.id) throw new KeyFileError('KEYFILE_MISMATCH', 'the key file belongs to another twin')
  let secrets: GenerationSecrets
  if ('encrypted' in f) {
    if (passphrase === undefined || passphrase === '') {
      throw new KeyFileError('KEYFILE_LOCKED', 'this twin\'s keys are protected by a passphrase: set TWIN_PASSPHRASE')
    }
    const e = f.encrypted
    const key = passphraseKey(passphrase, fromBase64url(e.salt, 'salt'), e)
    const data = fromBase64url(e.ciphertext, 'ciphertext')
    if (data.length !== 64 + 16 && data.length !== 96 + 16) throw new KeyFileError('KEYFILE_INVALID', 'the key file is damaged (wrong length)')
    const body = data.length - 16
    const decipher = createDecipheriv('aes-256-gcm', key, fromBase64url(e.nonce, 'nonce'))
    decipher.setAAD(aad(f.id, f.generation))
    decipher.setAuthTag(data.subarray(body))
    let plain: Buffer
    try {
      plain = Buffer.concat([decipher.update(data.subarray(0, body)), decipher.final()])
    } catch {
      throw new KeyFileError('KEYFILE_LOCKED', 'wrong passphrase, or the key file was altered')
    } finally {
      key.fill(0)
    }
    secrets = {
      index: f.generation,
      signing: new Uint8Array(plain.subarray(0, 32)),
      encryption: new Uint8Array(plain.subarray(32, 64)),
      ...(plain.length === 96 ? { vault: new Uint8Array(plain.subarray(64)) } : {})
    }
    plain.fill(0)
  } else {
    try {
      secrets = {
        index: f.generation,
        signing: fromBase64url(f.signing, 'signing key'),
        encryption: fromBase64url(f.encryption, 'encryption key'),
        ...(f.vault === undefined ? {} : { vault: fromBase64url(f.vault, 'vault key') })
      }
    } catch {
      throw new KeyFileError('KEYFILE_INVALID', 'the key file is damaged (bad key encoding)')
    }
    if (secrets.signing.length !== 32 || secrets.encryption.length !== 32 || (secrets.vault !== undefined && secrets.vault.length !== 32)) {
      throw new KeyFileError('KEYFILE_INVALID', 'the key file is damaged (wrong key length)')
    }
  }
  if (secrets.index !== state.sequence) {
    throw new KeyFileError('KEYFILE_MISMATCH',
      `the key file holds key generation ${secrets.index} but the key event log is at ${state.sequence}` +
      (secrets.index < state.sequence ? ' (an interrupted rotation: run `twin rotate --phrase-file FILE` to finish it)' : ''))
  }
  const pub = publicKeysOf(secrets)
  if (!equalBytes(pub.signing, state.keys.signing) || !equalBytes(pub.encryption, state.keys.encryption)) {
    throw new KeyFileError('KEYFILE_MISMATCH', 'the key file does not hold this twin\'s current keys (damaged or tampered)')
  }
  return secrets
}

function passphraseKey (passphrase: string, salt: Uint8Array, cost: { N: number, r: number, p: number }): Buffer {
  return scryptSync(passphrase.normalize('NFKC'), salt, 32, { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r })
}

function aad (id: string, generation: number): Uint8Array {
  return utf8(`twin-keys/1:${id}:${generation}`)
}
