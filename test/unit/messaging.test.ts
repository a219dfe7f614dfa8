import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createIdentity, generatePhrase, x25519PrivateKey, createDocument } from '../../src/identity/index.js'
import {
  checkEnvelopeTiming, createEnvelope, decodeEnvelope, openEnvelope, verifyEnvelopeSignature, MAX_CLOCK_SKEW_MS
} from '../../src/messaging/envelope.js'
import { EnvelopeRejected } from '../../src/messaging/errors.js'
import { open, seal } from '../../src/messaging/seal.js'
import { Batcher } from '../../src/net/batcher.js'
import { compareRecords, decodeRecord, encodeRecord, recordKey, selectRecord, validateRecordForKey } from '../../src/net/record.js'
import { MessageStore } from '../../src/messaging/store.js'
import { openDb } from '../../src/db/index.js'
import { TwinError } from '../../src/errors.js'
import { utf8 } from '../../src/wire/index.js'

const alice = createIdentity(generatePhrase())
const bob = createIdentity(generatePhrase())
const envelopeFor = (over: Record<string, unknown> = {}) => createEnvelope({
  from: alice.state.id, fromKeySeq: 0, signingKey: alice.current.signing,
  to: bob.state.id, toKeySeq: 0, toEncryptionKey: bob.state.keys.encryption,
  kind: 'event', body: { verb: 'chat.message', payload: { text: 'hi' } }, ...over
})
const bobSecret = x25519PrivateKey(bob.current.encryption)

describe('seal', () => {
  it('opens only with the recipient key and the same header', () => {
    const header = utf8('header')
    const sealed = seal(bob.state.keys.encryption, header, utf8('secret'))
    expect(Buffer.from(open(bobSecret, bob.state.keys.encryption, header, sealed)!).toString()).toBe('secret')
    expect(open(bobSecret, bob.state.keys.encryption, utf8('other header'), sealed)).toBeUndefined()
    expect(open(x25519PrivateKey(alice.current.encryption), alice.state.keys.encryption, header, sealed)).toBeUndefined()
    const flipped = sealed.slice()
    flipped[40] = flipped[40]! ^ 1
    expect(open(bobSecret, bob.state.keys.encryption, header, flipped)).toBeUndefined()
  })

  it('uses a fresh ephemeral key per message', () => {
    const a = seal(bob.state.keys.encryption, utf8('h'), utf8('same'))
    const b = seal(bob.state.keys.encryption, utf8('h'), utf8('same'))
    expect(a.subarray(0, 32)).not.toEqual(b.subarray(0, 32))
    expect(a).not.toEqual(b)
  })
})

describe('envelope', () => {
  it('round-trips: decode, check, verify, open', () => {
    const { bytes } = envelopeFor()
    const env = decodeEnvelope(bytes)
    checkEnvelopeTiming(env, bob.state.id)
    verifyEnvelopeSignature(env, alice.state.keys.signing)
    expect(openEnvelope(env, bobSecret, bob.state.keys.encryption)).toEqual({ verb: 'chat.message', payload: { text: 'hi' } })
  })

  it('keeps the verb and payload out of the clear', () => {
    const { bytes } = envelopeFor({ body: { verb: 'chat.message', payload: { text: 'very secret words' } } })
    expect(Buffer.from(bytes).includes(Buffer.from('very secret words'))).toBe(false)
    expect(Buffer.from(bytes).includes(Buffer.from('chat.message'))).toBe(false)
  })

  it('refuses a sender claim it cannot bind: a re-signed envelope with another from fails to open', () => {
    const { envelope } = envelopeFor()
    const forged = { ...envelope, from: bob.state.id }
    expect(() => openEnvelope(forged, bobSecret, bob.state.keys.encryption)).toThrow(/cannot be opened/)
  })

  it('refuses expired, future, misaddressed and over-long envelopes', () => {
    const now = Date.now()
    expect(() => checkEnvelopeTiming(decodeEnvelope(envelopeFor({ now: now - 10_000, ttlMs: 5_000 }).bytes), bob.state.id, now)).toThrow(/expired/)
    expect(() => checkEnvelopeTiming(decodeEnvelope(envelopeFor({ now: now + MAX_CLOCK_SKEW_MS + 60_000 }).bytes), bob.state.id, now)).toThrow(/future/)
    expect(() => checkEnvelopeTiming(decodeEnvelope(envelopeFor().bytes), alice.state.id, now)).toThrow(/another twin/)
    expect(() => envelopeFor({ ttlMs: 365 * 24 * 3600_000 })).toThrow(TwinError)
  })

  it('refuses a message body that does not fit its kind', () => {
    const { envelope } = envelopeFor({ kind: 'ack', body: { verb: 'chat.message', payload: 1 } })
    expect(() => openEnvelope(envelope, bobSecret, bob.state.keys.encryption)).toThrow(/ack body is not valid/)
  })

  it('fails cleanly on random bytes and never accepts a mutated envelope', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), bytes => {
      expect(() => decodeEnvelope(bytes)).toThrow(EnvelopeRejected)
    }), { numRuns: 2000 })
    const { bytes } = envelopeFor()
    fc.assert(fc.property(fc.nat({ max: bytes.length - 1 }), fc.nat({ max: 7 }), (at, bit) => {
      const m = bytes.slice()
      m[at] = m[at]! ^ (1 << bit)
      expect(() => {
        const env = decodeEnvelope(m)
        checkEnvelopeTiming(env, bob.state.id)
        verifyEnvelopeSignature(env, alice.state.keys.signing)
        openEnvelope(env, bobSecret, bob.state.keys.encryption)
      }).toThrow(EnvelopeRejected)
    }), { numRuns: 2000 })
  })
})

describe('twin records', () => {
  const doc1 = createDocument(alice.state, alice.current.signing, { name: 'A', peer: '12D3KooWabc', addrs: ['/ip4/127.0.0.1/tcp/1'], relays: [] }, -1, 1000)
  const doc2 = createDocument(alice.state, alice.current.signing, { name: 'A', peer: '12D3KooWabc', addrs: ['/ip4/127.0.0.1/tcp/2'], relays: [] }, doc1.d.seq, 2000)
  const r1 = encodeRecord(alice.events, doc1)
  const r2 = encodeRecord(alice.events, doc2)

  it('validates only under its own id, and the newest document wins', () => {
    expect(decodeRecord(r1, alice.state.id).net.addrs).toEqual(['/ip4/127.0.0.1/tcp/1'])
    expect(() => validateRecordForKey(recordKey(bob.state.id), r1)).toThrow()
    expect(selectRecord(recordKey(alice.state.id), [r1, r2, new Uint8Array([1])])).toBe(1)
    expect(selectRecord(recordKey(alice.state.id), [r2, r1])).toBe(0)
    expect(compareRecords(decodeRecord(r2), decodeRecord(r1))).toBeGreaterThan(0)
  })

  it('rejects a record with a document of another twin', () => {
    const mixed = encodeRecord(bob.events, doc1)
    expect(() => decodeRecord(mixed)).toThrow(/document is for/)
  })
})

describe('stores', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-stores-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('numbers messages per recipient and stores each inbound message once', () => {
    const db = openDb(join(dir, 'twin.db'), { create: true })
    const store = new MessageStore(db)
    const q = (to: string) => store.queue({ id: crypto.getRandomValues(new Uint8Array(16)), to, kind: 'event', verb: 'chat.message', payload: { text: to }, makeEnvelope: () => ({ bytes: new Uint8Array(1), created: 1, expires: Date.now() + 1000 }) })
    expect([q('x').seq, q('x').seq, q('y').seq, q('x').seq]).toEqual([1, 2, 1, 3])
    const m = { from: 'a', id: new Uint8Array(16).fill(7), seq: 1, verb: 'chat.message', payload: { text: 'once' }, sentAt: 5, expires: Date.now() + 1000 }
    expect(store.storeInbound([m, m])).toHaveLength(1)
    expect(store.storeInbound([m])).toHaveLength(0)
    expect(store.listInbox()).toHaveLength(1)
    db.close()
  })
})

describe('batcher', () => {
  it('groups items that arrive together and answers each in order', async () => {
    const sizes: number[] = []
    const b = new Batcher<number, number>(items => { sizes.push(items.length); return items.map(i => i * 2) })
    const results = await Promise.all([1, 2, 3, 4].map(async i => await b.push(i)))
    expect(results).toEqual([2, 4, 6, 8])
    expect(sizes).toEqual([4])
  })
})
