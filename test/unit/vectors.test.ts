import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import {
  createDocument, deriveGeneration, ed25519DidKey, ed25519PublicKey, ed25519Sign, ed25519Verify, encodeDocument,
  encodeKeyEvent, formatSignature, phraseToSeed, publicKeysOf, restoreIdentity, rotateIdentity, createIdentity,
  signContent, verifyKel, x25519DidKey, parseKelFile, formatKelFile, parseSignature, verifyContentSignature
} from '../../src/identity/index.js'
import { fromHex, sha256, toHex } from '../../src/wire/index.js'
import { x25519PrivateKey } from '../../src/identity/index.js'
import { createEnvelope, decodeEnvelope, openEnvelope, verifyEnvelopeSignature } from '../../src/messaging/envelope.js'

const vectors = (name: string): any => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8'))

describe('RFC 8032 Ed25519 vectors', () => {
  for (const v of vectors('rfc8032-ed25519.json').vectors) {
    it(`${v.name}: derives the public key, signs byte-exact and verifies`, () => {
      const seed = fromHex(v.secretKey)
      const message = fromHex(v.message)
      expect(toHex(ed25519PublicKey(seed))).toBe(v.publicKey)
      expect(toHex(ed25519Sign(seed, message))).toBe(v.signature)
      expect(ed25519Verify(fromHex(v.publicKey), message, fromHex(v.signature))).toBe(true)
      const bad = fromHex(v.signature)
      bad[0] = (bad[0] as number) ^ 1
      expect(ed25519Verify(fromHex(v.publicKey), message, bad)).toBe(false)
    })
  }
})

describe('BIP39 English vectors (passphrase TREZOR)', () => {
  const file = vectors('bip39-english.json')
  for (const [i, v] of (file.vectors as any[]).entries()) {
    it(`vector ${i}: the mnemonic is valid and gives the expected seed`, () => {
      expect(validateMnemonic(v.mnemonic, wordlist)).toBe(true)
      expect(toHex(phraseToSeed(v.mnemonic, file.passphrase))).toBe(v.seed)
    })
  }
})

// Twin's own known-answer vectors: another implementation can check itself against these.
// Regenerate only on a deliberate format change: UPDATE_VECTORS=1 npx vitest run test/unit/vectors.test.ts
const PHRASE = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon ' +
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art'
const NOW = 1_790_000_000_000

function buildIdentityVectors (): object {
  const seed = phraseToSeed(PHRASE)
  const generations = [0, 1, 2].map(i => {
    const g = deriveGeneration(seed, i)
    const pub = publicKeysOf(g)
    return {
      index: i,
      signingSecret: toHex(g.signing),
      encryptionSecret: toHex(g.encryption),
      signingKey: ed25519DidKey(pub.signing),
      encryptionKey: x25519DidKey(pub.encryption)
    }
  })
  const made = createIdentity(PHRASE)
  const once = rotateIdentity(PHRASE, made.events)
  const doc = createDocument(once.state, once.current.signing, { name: 'Alice' }, -1, NOW)
  const content = new TextEncoder().encode('hello twin\n')
  const sig = signContent(sha256(content), once.current.signing, once.events, once.state)
  return {
    description: 'Twin identity known-answer vectors: see docs/PROTOCOL.md',
    phrase: PHRASE,
    seed: toHex(seed),
    vaultKey: toHex(deriveGeneration(seed, 0).vault as Uint8Array),
    generations,
    id: once.state.id,
    kel: once.events.map(e => toHex(encodeKeyEvent(e))),
    document: { now: NOW, name: 'Alice', bytes: toHex(encodeDocument(doc)) },
    kelFile: formatKelFile(once.state, { events: once.events, document: doc }),
    contentSignature: { content: toHex(content), text: formatSignature(sig) }
  }
}

describe('Twin identity vectors', () => {
  const path = new URL('../vectors/twin-identity.json', import.meta.url)
  if (process.env.UPDATE_VECTORS === '1') writeFileSync(path, JSON.stringify(buildIdentityVectors(), null, 2) + '\n')
  const committed = JSON.parse(readFileSync(path, 'utf8'))

  it('derives the committed keys, KEL, document and signature byte for byte', () => {
    expect(buildIdentityVectors()).toEqual(committed)
  })

  it('verifies the committed key event log and signature as an independent reader would', () => {
    const parsed = parseKelFile(committed.kelFile)
    expect(parsed.state.id).toBe(committed.id)
    expect(parsed.state.sequence).toBe(1)
    expect(verifyKel(parsed.events).id).toBe(committed.id)
    const check = verifyContentSignature(parseSignature(committed.contentSignature.text), sha256(fromHex(committed.contentSignature.content)))
    expect(check).toMatchObject({ valid: true, id: committed.id, sequence: 1, rotated: false })
  })

  it('restores the rotated keys from the phrase and the committed log', () => {
    const restored = restoreIdentity(PHRASE, parseKelFile(committed.kelFile).events)
    expect(ed25519DidKey(restored.state.keys.signing)).toBe(committed.generations[1].signingKey)
    expect(toHex(restored.current.signing)).toBe(committed.generations[1].signingSecret)
  })
})

// An envelope from alice (phrase "abandon x23 art") to bob (phrase "zoo x23 vote"). Sealing is
// randomized (ephemeral key, id), so this vector is generated once and then only checked: any
// implementation must verify and open it to the same body.
describe('Twin envelope vector', () => {
  const BOB = 'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote'
  const path = new URL('../vectors/twin-envelope.json', import.meta.url)
  if (process.env.UPDATE_VECTORS === '1') {
    const alice = createIdentity(PHRASE)
    const bob = createIdentity(BOB)
    const { bytes } = createEnvelope({
      from: alice.state.id, fromKeySeq: 0, signingKey: alice.current.signing, to: bob.state.id, toKeySeq: 0,
      toEncryptionKey: bob.state.keys.encryption, kind: 'event', seq: 1, now: NOW, ttlMs: 3600_000,
      body: { verb: 'chat.message', payload: { text: 'hello bob' } }
    })
    writeFileSync(path, JSON.stringify({
      description: 'An envelope from the twin of phrase "abandon x23 art" to the twin of phrase "zoo x23 vote"; see docs/PROTOCOL.md section 11',
      senderPhrase: PHRASE, recipientPhrase: BOB, envelope: toHex(bytes), body: { verb: 'chat.message', payload: { text: 'hello bob' } }
    }, null, 2) + '\n')
  }
  const v = JSON.parse(readFileSync(path, 'utf8'))

  it('verifies with the sender\'s key and opens with the recipient\'s key to the committed body', () => {
    const alice = createIdentity(v.senderPhrase)
    const bob = createIdentity(v.recipientPhrase)
    const env = decodeEnvelope(fromHex(v.envelope))
    expect(env).toMatchObject({ v: 1, from: alice.state.id, to: bob.state.id, fk: 0, tk: 0, kind: 'event', seq: 1, created: NOW, expires: NOW + 3600_000 })
    verifyEnvelopeSignature(env, alice.state.keys.signing)
    expect(openEnvelope(env, x25519PrivateKey(bob.current.encryption), bob.state.keys.encryption)).toEqual(v.body)
    expect(() => openEnvelope(env, x25519PrivateKey(alice.current.encryption), alice.state.keys.encryption)).toThrow()
  })
})
