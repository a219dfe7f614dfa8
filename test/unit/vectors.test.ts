import { createDecipheriv, hkdfSync } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import {
  createDocument, deriveGeneration, ed25519DidKey, ed25519PublicKey, ed25519Sign, ed25519Verify, encodeDocument,
  encodeKeyEvent, formatSignature, phraseToSeed, publicKeysOf, restoreIdentity, rotateIdentity, createIdentity,
  signContent, verifyKel, x25519DidKey, parseKelFile, formatKelFile, parseSignature, verifyContentSignature
} from '../../src/identity/index.js'
import { concatBytes, decodeCbor, encodeCbor, fromHex, sha256, toHex, utf8 } from '../../src/wire/index.js'
import { x25519, x25519PrivateKey } from '../../src/identity/index.js'
import { createEnvelope, decodeEnvelope, openEnvelope, verifyEnvelopeSignature } from '../../src/messaging/envelope.js'
import { createEnvelopeV2 } from '../../src/messaging/envelope-v2.js'
import { startSession } from '../../src/messaging/session.js'

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

// Version 2 (docs/PROTOCOL.md, section 11a): with the ephemeral secret, the id and the
// time fixed, every byte is determined (X25519, HKDF, ChaCha20-Poly1305 and Ed25519 are all
// deterministic), so this vector is rebuilt and compared byte for byte, and the key schedule is
// computed here again from the document's description, independently of src/messaging/session.ts.
describe('Twin envelope v2 vector', () => {
  const BOB = 'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote'
  const EPHEMERAL = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a' // RFC 7748, section 6.1, Alice's secret
  const path = new URL('../vectors/twin-envelope-v2.json', import.meta.url)

  function build (): object {
    const alice = createIdentity(PHRASE)
    const bob = createIdentity(BOB)
    const session = startSession({ id: alice.state.id, sequence: 0, signingKey: alice.current.signing }, bob.state.id, 0, bob.state.keys.encryption, NOW, fromHex(EPHEMERAL))
    const common = { from: alice.state.id, fromKeySeq: 0, to: bob.state.id, toKeySeq: 0, now: NOW, ttlMs: 3600_000, session }
    const event = createEnvelopeV2({ ...common, kind: 'event', seq: 1, id: new Uint8Array(16).fill(1), n: 0, body: { verb: 'chat.message', payload: { text: 'hello bob' } }, signingKey: alice.current.signing })
    const request = createEnvelopeV2({ ...common, kind: 'request', id: new Uint8Array(16).fill(2), n: 1, body: { verb: 'twin.ping', payload: null } })
    return {
      description: 'Two version 2 envelopes of one session from the twin of phrase "abandon x23 art" to the twin of phrase "zoo x23 vote": a signed event (n = 0) and an unsigned request (n = 1); see docs/PROTOCOL.md section 11',
      senderPhrase: PHRASE,
      recipientPhrase: BOB,
      ephemeralSecret: EPHEMERAL,
      ephemeralPublic: toHex(session.init.e),
      sessionSignature: toHex(session.es),
      envelopes: [
        { envelope: toHex(event.bytes), body: { verb: 'chat.message', payload: { text: 'hello bob' } } },
        { envelope: toHex(request.bytes), body: { verb: 'twin.ping', payload: null } }
      ]
    }
  }

  // Deterministic, so regenerating it alone (UPDATE_VECTORS=v2) leaves the randomized version 1 vector as it is.
  if (process.env.UPDATE_VECTORS === '1' || process.env.UPDATE_VECTORS === 'v2') writeFileSync(path, JSON.stringify(build(), null, 2) + '\n')
  const v = JSON.parse(readFileSync(path, 'utf8'))

  it('is rebuilt byte for byte from the phrases, the ephemeral secret, the ids and the time', () => {
    expect(build()).toEqual(v)
  })

  it('opens with the recipient\'s key after the key schedule the protocol describes, and verifies for a relay', () => {
    const alice = createIdentity(v.senderPhrase)
    const bob = createIdentity(v.recipientPhrase)
    const [event, request] = v.envelopes.map((e: { envelope: string }) => decodeEnvelope(fromHex(e.envelope)))
    expect(event).toMatchObject({ v: 2, from: alice.state.id, to: bob.state.id, fk: 0, tk: 0, kind: 'event', seq: 1, n: 0, created: NOW, expires: NOW + 3600_000 })
    expect(request).toMatchObject({ v: 2, kind: 'request', n: 1, sig: null })
    // The session key, computed from the text of docs/PROTOCOL.md.
    const init = encodeCbor({ from: alice.state.id, fk: 0, to: bob.state.id, tk: 0, e: event.e })
    expect(ed25519Verify(alice.state.keys.signing, concatBytes(utf8('twin/session/v2'), Uint8Array.of(0), init), event.es)).toBe(true)
    const shared = x25519(x25519PrivateKey(bob.current.encryption), event.e)
    const okm = Buffer.from(hkdfSync('sha256', shared, concatBytes(event.e, bob.state.keys.encryption), concatBytes(utf8('twin/session/v2'), init), 44))
    for (const [i, env] of [event, request].entries()) {
      const nonce = Buffer.from(okm.subarray(32, 44))
      nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ env.n) >>> 0, 8)
      const d = createDecipheriv('chacha20-poly1305', okm.subarray(0, 32), nonce, { authTagLength: 16 })
      d.setAAD(env.header, { plaintextLength: env.body.length - 16 })
      d.setAuthTag(env.body.subarray(env.body.length - 16))
      const plain = Buffer.concat([d.update(env.body.subarray(0, env.body.length - 16)), d.final()])
      expect(decodeCbor(new Uint8Array(plain), 'body')).toEqual(v.envelopes[i].body)
    }
    // The same through the library, and the relay's check of the signed one.
    expect(openEnvelope(event, x25519PrivateKey(bob.current.encryption), bob.state.keys.encryption, alice.state.keys.signing)).toEqual(v.envelopes[0].body)
    verifyEnvelopeSignature(event, alice.state.keys.signing)
    expect(() => { verifyEnvelopeSignature(request, alice.state.keys.signing) }).toThrow(/not signed/)
    expect(() => openEnvelope(event, x25519PrivateKey(alice.current.encryption), alice.state.keys.encryption, alice.state.keys.signing)).toThrow()
  })
})
