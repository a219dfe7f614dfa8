import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { failsCleanly, mutate, mutation } from './mutations.js'
import {
  createDocument, createIdentity, decodeDocument, decodeKeyEvent, encodeDocument, encodeKeyEvent, formatKelFile,
  formatKeyFile, formatSignature, generatePhrase, parseDidKey, parseKelFile, parseKeyFile, parseSignature, parseTwinId,
  rotateIdentity, signContent, publicKeysOf, verifyContentSignature, verifyDocument, verifyKel, normalizePhrase
} from '../../src/identity/index.js'
import { decodeCbor, fromBase64url, sha256, toBase64url, utf8 } from '../../src/wire/index.js'
import { TwinError } from '../../src/errors.js'

// Every decoder, given random or mutated input, must either throw a TwinError (a clear,
// user-facing reason) or, for mutated signed data, never report a wrong success.

const phrase = generatePhrase()
const made = rotateIdentity(phrase, createIdentity(phrase).events)
const doc = createDocument(made.state, made.current.signing, { name: 'Alice' })
const digest = sha256(utf8('content'))
const sigText = formatSignature(signContent(digest, made.current.signing, made.events, made.state))
const kelText = formatKelFile(made.state, { events: made.events, document: doc })

describe('decoders under random input', () => {
  it('CBOR, key events and documents fail cleanly on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), bytes => {
      expect(failsCleanly(() => decodeKeyEvent(bytes))).toBe(true)
      expect(failsCleanly(() => decodeDocument(bytes))).toBe(true)
      try { decodeCbor(bytes, 'x') } catch (err) { expect(err).toBeInstanceOf(TwinError) }
    }), { numRuns: 2000 })
  })

  it('text decoders fail cleanly on random strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), text => {
      expect(failsCleanly(() => parseSignature(text))).toBe(true)
      expect(failsCleanly(() => parseKelFile(text))).toBe(true)
      expect(failsCleanly(() => parseKeyFile(text, made.state))).toBe(true)
      expect(failsCleanly(() => parseTwinId(text))).toBe(true)
      expect(failsCleanly(() => parseDidKey(text))).toBe(true)
      expect(failsCleanly(() => normalizePhrase(text))).toBe(true)
      try { fromBase64url(text, 'x') } catch (err) { expect(err).toBeInstanceOf(TwinError) }
    }), { numRuns: 2000 })
  })

  it('text decoders fail cleanly on random JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), value => {
      const text = JSON.stringify(value)
      expect(failsCleanly(() => parseKelFile(text))).toBe(true)
      expect(failsCleanly(() => parseKeyFile(text, made.state))).toBe(true)
    }), { numRuns: 1000 })
  })
})

describe('decoders under mutated valid input never give a wrong success', () => {
  it('a mutated key event never verifies', () => {
    const bytes = encodeKeyEvent(made.events[1]!)
    fc.assert(fc.property(mutation(bytes.length), m => {
      expect(failsCleanly(() => verifyKel([made.events[0]!, decodeKeyEvent(mutate(bytes, m))]))).toBe(true)
    }), { numRuns: 1500 })
  })

  it('a mutated twin document never verifies', () => {
    const bytes = encodeDocument(doc)
    fc.assert(fc.property(mutation(bytes.length), m => {
      expect(failsCleanly(() => verifyDocument(decodeDocument(mutate(bytes, m)), made.state))).toBe(true)
    }), { numRuns: 1500 })
  })

  it('a mutated signature never verifies', () => {
    const raw = fromBase64url(sigText.slice('twinsig1.'.length), 'sig')
    fc.assert(fc.property(mutation(raw.length), m => {
      const text = 'twinsig1.' + toBase64url(mutate(raw, m))
      expect(failsCleanly(() => verifyContentSignature(parseSignature(text), digest))).toBe(true)
    }), { numRuns: 1500 })
  })

  it('a mutated key event log file never parses as valid', () => {
    const bytes = utf8(kelText)
    fc.assert(fc.property(mutation(bytes.length), m => {
      const text = Buffer.from(mutate(bytes, m)).toString('utf8')
      // White space in JSON carries no meaning: a flip that only changes formatting may still parse.
      try {
        const parsed = parseKelFile(text)
        expect(parsed.events.map(encodeKeyEvent)).toEqual(made.events.map(encodeKeyEvent))
        expect(parsed.document && encodeDocument(parsed.document)).toEqual(encodeDocument(doc))
      } catch (err) {
        expect(err).toBeInstanceOf(TwinError)
      }
    }), { numRuns: 1500 })
  })

  it('a mutated key file never yields other keys', () => {
    const bytes = utf8(formatKeyFile(made.state.id, made.current))
    fc.assert(fc.property(mutation(bytes.length), m => {
      let keys
      try {
        keys = parseKeyFile(Buffer.from(mutate(bytes, m)).toString('utf8'), made.state)
      } catch (err) {
        expect(err).toBeInstanceOf(TwinError)
        return
      }
      // X25519 ignores three low bits and the top bit of its secret (RFC 7748 clamping), so a
      // flip there gives the same key; anything accepted must act exactly as the original.
      expect(keys.signing).toEqual(made.current.signing)
      expect(publicKeysOf(keys)).toEqual(publicKeysOf(made.current))
    }), { numRuns: 1500 })
  })
})
