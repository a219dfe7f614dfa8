import { describe, expect, it } from 'vitest'
import {
  createDocument, createIdentity, createRotation, decodeDocument, deriveGeneration, encodeDocument, encodeKeyEvent,
  decodeKeyEvent, generatePhrase, KEL_CONTEXT, KelError, longerKel, normalizePhrase, parseDidKey, parseTwinId, phraseToSeed,
  publicKeysOf, rotateIdentity, restoreIdentity, signWithContext, verifyDocument, verifyKel, ed25519DidKey, x25519DidKey,
  keysDigest, normalizeTwinId, PhraseError, DocumentError, x25519, type SignedKeyEvent, type RotationEvent
} from '../../src/identity/index.js'
import { encodeCbor, sha256 } from '../../src/wire/index.js'

const phraseA = generatePhrase()
const phraseB = generatePhrase()

describe('recovery phrase', () => {
  it('generates 24 BIP39 words that pass its own check', () => {
    expect(phraseA.split(' ')).toHaveLength(24)
    expect(normalizePhrase(phraseA)).toBe(phraseA)
  })

  it('accepts extra white space and capitals', () => {
    expect(normalizePhrase(`  ${phraseA.toUpperCase().replaceAll(' ', ' \n\t ')}\n`)).toBe(phraseA)
  })

  it('names the word that is not in the BIP39 list', () => {
    const words = phraseA.split(' ')
    words[4] = 'zzzzz'
    expect(() => normalizePhrase(words.join(' '))).toThrow(/word 5 .*"zzzzz"/)
  })

  it('rejects a phrase with a wrong checksum', () => {
    // A fixed phrase (BIP39 test vector, entropy 68a79eac...): swapping two words keeps every
    // word valid, and only the 8-bit checksum can catch it, which misses about one swap in 256.
    // Swapping this phrase's first two words is known to break the checksum.
    const vector = 'hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length'
    expect(normalizePhrase(vector)).toBe(vector)
    const words = vector.split(' ')
    ;[words[0], words[1]] = [words[1] as string, words[0] as string]
    expect(() => normalizePhrase(words.join(' '))).toThrow(PhraseError)
    expect(() => normalizePhrase(words.join(' '))).toThrow(/wrong checksum/)
  })

  it('rejects a phrase of the wrong length', () => {
    expect(() => normalizePhrase(phraseA.split(' ').slice(0, 12).join(' '))).toThrow(/24 words, this one has 12/)
  })
})

describe('key derivation', () => {
  it('derives the same keys from the same phrase and different keys per generation', () => {
    const seed = phraseToSeed(phraseA)
    const g0 = publicKeysOf(deriveGeneration(seed, 0))
    const g0again = publicKeysOf(deriveGeneration(phraseToSeed(phraseA), 0))
    const g1 = publicKeysOf(deriveGeneration(seed, 1))
    expect(g0again).toEqual(g0)
    expect(g1.signing).not.toEqual(g0.signing)
    expect(g1.encryption).not.toEqual(g0.encryption)
  })

  it('writes keys as did:key strings and reads them back', () => {
    const keys = publicKeysOf(deriveGeneration(phraseToSeed(phraseA), 0))
    const sig = ed25519DidKey(keys.signing)
    const enc = x25519DidKey(keys.encryption)
    expect(sig).toMatch(/^did:key:z6Mk/)
    expect(enc).toMatch(/^did:key:z6LS/)
    expect(parseDidKey(sig)).toEqual({ type: 'Ed25519', publicKey: keys.signing })
    expect(parseDidKey(enc)).toEqual({ type: 'X25519', publicKey: keys.encryption })
  })

  it('agrees on an X25519 shared secret from both sides', () => {
    const a = deriveGeneration(phraseToSeed(phraseA), 0)
    const b = deriveGeneration(phraseToSeed(phraseB), 0)
    expect(x25519(a.encryption, publicKeysOf(b).encryption)).toEqual(x25519(b.encryption, publicKeysOf(a).encryption))
  })
})

describe('key event log', () => {
  it('gives a twin id that is URL-safe, stable across rotations and parseable', () => {
    const made = createIdentity(phraseA)
    expect(made.state.id).toMatch(/^b[a-z2-7]+$/)
    const rotated = rotateIdentity(phraseA, made.events)
    const twice = rotateIdentity(phraseA, rotated.events)
    expect(rotated.state.id).toBe(made.state.id)
    expect(twice.state.id).toBe(made.state.id)
    expect(twice.state.sequence).toBe(2)
    expect(twice.state.keys.signing).not.toEqual(rotated.state.keys.signing)
    expect(parseTwinId(made.state.id)).toHaveLength(32)
    expect(normalizeTwinId(`did:twin:${made.state.id.toUpperCase()}`)).toBe(made.state.id)
  })

  it('keeps the keys of every sequence so old signatures can be checked', () => {
    const made = createIdentity(phraseA)
    const rotated = rotateIdentity(phraseA, made.events)
    expect(rotated.state.history[0]).toEqual(made.state.keys)
    expect(rotated.state.history[1]).toEqual(rotated.state.keys)
  })

  it('refuses a rotation with keys the previous event did not commit to', () => {
    const made = createIdentity(phraseA)
    const other = deriveGeneration(phraseToSeed(phraseB), 1)
    expect(() => createRotation(made.state, other, publicKeysOf(deriveGeneration(phraseToSeed(phraseB), 2))))
      .toThrow(/not the ones this twin committed to/)
  })

  it('rejects a rotation signed by the current key instead of the committed one (a stolen key cannot rotate)', () => {
    const made = createIdentity(phraseA)
    const thief = made.current // the operational key a thief could steal
    const attackerNext = publicKeysOf(deriveGeneration(phraseToSeed(phraseB), 5))
    const e: RotationEvent = {
      v: 1, t: 'rot', i: made.state.id, s: 1, p: made.state.head,
      k: { s: attackerNext.signing, e: attackerNext.encryption }, n: keysDigest(attackerNext)
    }
    const forged: SignedKeyEvent = { e, sig: signWithContext(thief.signing, KEL_CONTEXT, encodeCbor(e)) }
    expect(() => verifyKel([...made.events, forged])).toThrow(/reveals keys that event 0 did not commit to/)
  })

  it('rejects a rotation whose signature is not by the revealed key', () => {
    const made = createIdentity(phraseA)
    const good = rotateIdentity(phraseA, made.events).events[1] as SignedKeyEvent
    const bad: SignedKeyEvent = { e: good.e, sig: signWithContext(made.current.signing, KEL_CONTEXT, encodeCbor(good.e)) }
    expect(() => verifyKel([...made.events, bad])).toThrow(/key event 1 has a bad signature/)
  })

  it('rejects events out of order, a broken chain and a log of another twin', () => {
    const made = createIdentity(phraseA)
    const two = rotateIdentity(phraseA, rotateIdentity(phraseA, made.events).events).events
    expect(() => verifyKel([two[0], two[2]] as SignedKeyEvent[])).toThrow(KelError)
    expect(() => verifyKel(two.slice(1))).toThrow(/does not start with an inception/)
    expect(() => verifyKel([])).toThrow(/empty/)
    expect(() => verifyKel(two, createIdentity(phraseB).state.id)).toThrow(/belongs to twin/)
  })

  it('detects two different logs of the same twin (a fork) instead of choosing one', () => {
    const made = createIdentity(phraseA)
    const rotated = rotateIdentity(phraseA, made.events)
    expect(longerKel(made.events, rotated.events)).toBe(rotated.events)
    const e = { ...(rotated.events[1] as SignedKeyEvent).e, n: new Uint8Array(32) } as RotationEvent
    const twin = restoreIdentity(phraseA, rotated.events)
    const fork: SignedKeyEvent = { e, sig: signWithContext(twin.current.signing, KEL_CONTEXT, encodeCbor(e)) }
    expect(() => longerKel(rotated.events, [made.events[0] as SignedKeyEvent, fork])).toThrow(/disagree at sequence 1/)
  })

  it('round-trips events through canonical CBOR', () => {
    const made = rotateIdentity(phraseA, createIdentity(phraseA).events)
    const again = made.events.map(e => decodeKeyEvent(encodeKeyEvent(e)))
    expect(verifyKel(again)).toEqual(made.state)
  })

  it('refuses a rotation that names its twin in another case (ids in signed structures have one form)', () => {
    const rotation = rotateIdentity(phraseA, createIdentity(phraseA).events).events[1] as SignedKeyEvent
    const upper = { ...rotation, e: { ...rotation.e, i: (rotation.e as RotationEvent).i.toUpperCase() } }
    expect(() => decodeKeyEvent(encodeCbor(upper))).toThrow(/must be in canonical form/)
  })

  it('restores the latest keys with the log, and refuses a log of another twin', () => {
    const rotated = rotateIdentity(phraseA, createIdentity(phraseA).events)
    const restored = restoreIdentity(phraseA, rotated.events)
    expect(publicKeysOf(restored.current)).toEqual(rotated.state.keys)
    expect(() => restoreIdentity(phraseB, rotated.events)).toThrow(/this recovery phrase is for twin/)
  })
})

describe('twin document', () => {
  const made = createIdentity(phraseA)

  it('verifies against the log and survives encoding', () => {
    const doc = createDocument(made.state, made.current.signing, { name: 'Alice' })
    const back = decodeDocument(encodeDocument(doc))
    expect(verifyDocument(back, made.state).name).toBe('Alice')
  })

  it('takes a sequence that supersedes the previous one, even with a clock behind', () => {
    const doc = createDocument(made.state, made.current.signing, { name: 'A' }, 5_000_000_000_000, 1_000)
    expect(doc.d.seq).toBe(5_000_000_000_001)
  })

  it('rejects a document after the twin rotated, or with a changed field', () => {
    const doc = createDocument(made.state, made.current.signing, { name: 'Alice' })
    const rotated = rotateIdentity(phraseA, made.events)
    expect(() => verifyDocument(doc, rotated.state)).toThrow(/made at key sequence 0; the twin is at 1/)
    const changed = { d: { ...doc.d, name: 'Mallory' }, sig: doc.sig }
    expect(() => verifyDocument(changed, made.state)).toThrow(DocumentError)
  })

  it('keeps unknown fields of newer versions under the signature', () => {
    const doc = createDocument(made.state, made.current.signing, { name: 'Alice', relays: ['/dns4/relay.example/tcp/4001'] })
    const back = decodeDocument(encodeDocument(doc))
    expect(verifyDocument(back, made.state).relays).toEqual(['/dns4/relay.example/tcp/4001'])
  })

  it('refuses a document whose id is written in another case', () => {
    const doc = createDocument(made.state, made.current.signing, { name: 'Alice' })
    expect(() => decodeDocument(encodeCbor({ d: { ...doc.d, id: doc.d.id.toUpperCase() }, sig: doc.sig }))).toThrow(/must be in canonical form/)
  })

  it('binds the digest in the id to the inception event', () => {
    expect(parseTwinId(made.state.id)).toEqual(sha256(encodeCbor((made.events[0] as SignedKeyEvent).e)))
  })
})
