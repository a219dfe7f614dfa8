// The cost in Node of each primitive a message uses, per message of 1 KiB, in a warm loop on one
// core, with a memory copy of the same size as the baseline: the floor under the per-message
// figures of the messaging benchmark's profile (docs/PERFORMANCE.md). It calls node:crypto,
// @ipld/dag-cbor and better-sqlite3 directly, not Twin's own code, so it keeps measuring the same
// thing whatever the envelope format becomes; it then adds up the primitives of the envelope
// constructions (v1: a fresh X25519 key pair per message; a session: symmetric AEAD only).
import {
  createCipheriv, createDecipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, sign, verify
} from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as cbor from '@ipld/dag-cbor'
import Database from 'better-sqlite3'
import { printTable, writeResults } from './lib.js'

const N = Number(process.env.BENCH_ENVELOPE_N ?? 3000)
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex')

function time (fn, n = N) {
  for (let i = 0; i < Math.min(200, n); i++) fn(i)
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn(i)
  return Number(process.hrtime.bigint() - t) / 1000 / n
}

export async function run () {
  const payload = randomBytes(1024)
  const message = randomBytes(1300) // an envelope's signed bytes: header and sealed body
  const key32 = randomBytes(32)
  const nonce = Buffer.alloc(12)
  const signer = generateKeyPairSync('ed25519')
  const recipient = generateKeyPairSync('x25519')
  const recipientRaw = recipient.publicKey.export({ format: 'der', type: 'spki' }).subarray(12)
  const signature = sign(null, message, signer.privateKey)
  const ephemeral = Array.from({ length: 256 }, () => generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12))
  const sealedChacha = (() => { const c = createCipheriv('chacha20-poly1305', key32, nonce, { authTagLength: 16 }); return Buffer.concat([c.update(payload), c.final(), c.getAuthTag()]) })()
  const envelope = { v: 1, id: randomBytes(16), from: 'b'.repeat(59), to: 'c'.repeat(59), created: Date.now(), expires: Date.now() + 60_000, body: Buffer.concat([randomBytes(32), sealedChacha]), sig: signature }
  const encoded = cbor.encode(envelope)
  const copy = Buffer.alloc(message.length)

  const dir = mkdtempSync(join(tmpdir(), 'twin-bench-envelope-'))
  const db = new Database(join(dir, 'db.sqlite'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE inbox (id BLOB PRIMARY KEY, body BLOB)')
  const insert = db.prepare('INSERT INTO inbox (id, body) VALUES (?, ?)')
  const one = db.transaction(() => { insert.run(randomBytes(16), encoded) })
  const batch = db.transaction(() => { for (let i = 0; i < 1000; i++) insert.run(randomBytes(16), encoded) })

  let r
  try {
    r = {
      'memcpy 1.3 KB (baseline)': time(() => { message.copy(copy) }),
      'X25519 key pair (generateKeyPairSync)': time(() => generateKeyPairSync('x25519')),
      'X25519 public key export (DER)': time(() => recipient.publicKey.export({ format: 'der', type: 'spki' })),
      'X25519 public key export (JWK)': time(() => recipient.publicKey.export({ format: 'jwk' })),
      'X25519 public key import from raw (createPublicKey, DER)': time(i => createPublicKey({ key: Buffer.concat([SPKI_X25519, ephemeral[i % ephemeral.length]]), format: 'der', type: 'spki' })),
      'X25519 public key import from raw (createPublicKey, JWK)': time(i => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: ephemeral[i % ephemeral.length].toString('base64url') }, format: 'jwk' })),
      'X25519 agreement (diffieHellman, keys imported)': time(() => diffieHellman({ privateKey: recipient.privateKey, publicKey: recipient.publicKey })),
      'HKDF-SHA256, 32 bytes': time(() => hkdfSync('sha256', key32, recipientRaw, 'twin/seal/v1', 32)),
      'ChaCha20-Poly1305 seal, 1 KiB': time(() => { const c = createCipheriv('chacha20-poly1305', key32, nonce, { authTagLength: 16 }); c.update(payload); c.final(); c.getAuthTag() }),
      'ChaCha20-Poly1305 open, 1 KiB': time(() => {
        const d = createDecipheriv('chacha20-poly1305', key32, nonce, { authTagLength: 16 })
        d.setAuthTag(sealedChacha.subarray(1024))
        d.update(sealedChacha.subarray(0, 1024))
        d.final()
      }),
      'AES-256-GCM seal, 1 KiB': time(() => { const c = createCipheriv('aes-256-gcm', key32, nonce); c.update(payload); c.final(); c.getAuthTag() }),
      'Ed25519 sign, 1.3 KB': time(() => sign(null, message, signer.privateKey)),
      'Ed25519 verify, 1.3 KB (key imported)': time(() => verify(null, message, signer.publicKey, signature)),
      'SHA-256, 1.3 KB': time(() => createHash('sha256').update(message).digest()),
      'DAG-CBOR encode of an envelope': time(() => cbor.encode(envelope)),
      'DAG-CBOR decode of an envelope': time(() => cbor.decode(encoded)),
      'SQLite insert, one transaction each (WAL, synchronous FULL: an fsync)': time(() => one(), 200),
      'SQLite insert, 1000 per transaction (per message)': time(() => batch(), 5) / 1000
    }
  } finally {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
  const base = r['memcpy 1.3 KB (baseline)']
  printTable(`per-message primitives in Node, 1 KiB payload (mean of ${N} in a warm loop, one core)`, Object.entries(r).map(([step, us]) => ({ step, 'µs': us.toFixed(1), 'x memcpy': (us / base).toFixed(0) })))

  // The constructions, added up from the primitives (the CPU floor of each, without framing or bookkeeping).
  const sealV1 = r['X25519 key pair (generateKeyPairSync)'] + r['X25519 public key export (DER)'] + r['X25519 agreement (diffieHellman, keys imported)'] + r['HKDF-SHA256, 32 bytes'] + r['ChaCha20-Poly1305 seal, 1 KiB']
  const openV1 = r['X25519 public key import from raw (createPublicKey, DER)'] + r['X25519 agreement (diffieHellman, keys imported)'] + r['HKDF-SHA256, 32 bytes'] + r['ChaCha20-Poly1305 open, 1 KiB']
  const jwkSaving = r['X25519 public key export (DER)'] - r['X25519 public key export (JWK)'] + r['X25519 public key import from raw (createPublicKey, DER)'] - r['X25519 public key import from raw (createPublicKey, JWK)']
  const sign1 = r['Ed25519 sign, 1.3 KB']
  const verify1 = r['Ed25519 verify, 1.3 KB (key imported)']
  const codec = r['DAG-CBOR encode of an envelope'] + r['DAG-CBOR decode of an envelope']
  const sums = {
    'v1 seal (fresh X25519 pair, export, agree, HKDF, AEAD)': sealV1,
    'v1 open (import, agree, HKDF, AEAD)': openV1,
    'v1 request + response, one side (seal + sign + encode, decode + verify + open)': sealV1 + sign1 + verify1 + openV1 + codec,
    'the same, with the X25519 public keys exported and imported as JWK instead of DER': sealV1 + sign1 + verify1 + openV1 + codec - jwkSaving,
    'session request + response, one side (AEAD both ways, sign + verify, codec)': r['ChaCha20-Poly1305 seal, 1 KiB'] + r['ChaCha20-Poly1305 open, 1 KiB'] + sign1 + verify1 + codec,
    'session, no signatures (AEAD both ways, codec)': r['ChaCha20-Poly1305 seal, 1 KiB'] + r['ChaCha20-Poly1305 open, 1 KiB'] + codec
  }
  printTable('constructions, added up from the primitives above (CPU floor per message, µs)', Object.entries(sums).map(([what, us]) => ({ what, 'µs': us.toFixed(1), 'messages/s on one core': (1e6 / us).toFixed(0) })))
  writeResults('envelope', { microseconds: r, constructions: sums })
}
