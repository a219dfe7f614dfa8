import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createIdentity, ed25519PrivateKey, generatePhrase, x25519PrivateKey, createDocument } from '../../src/identity/index.js'
import {
  checkEnvelopeTiming, createEnvelope, decodeEnvelope, openEnvelope, verifyEnvelopeSignature, MAX_CLOCK_SKEW_MS
} from '../../src/messaging/envelope.js'
import { EnvelopeRejected } from '../../src/messaging/errors.js'
import { open, seal } from '../../src/messaging/seal.js'
import { Batcher } from '../../src/net/batcher.js'
import { compareRecords, decodeRecord, encodeRecord, recordKey, selectRecord, validateRecordForKey } from '../../src/net/record.js'
import { MessageStore } from '../../src/messaging/store.js'
import { Messaging } from '../../src/messaging/index.js'
import type { Resolver } from '../../src/net/resolver.js'
import type { TwinLibp2p } from '../../src/net/node.js'
import { openDb } from '../../src/db/index.js'
import { MIGRATIONS } from '../../src/db/migrations.js'
import { TwinError } from '../../src/errors.js'
import { NetError } from '../../src/net/errors.js'
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

  it('refuses an envelope whose sender or recipient id is written in another case', () => {
    expect(() => decodeEnvelope(envelopeFor({ from: alice.state.id.toUpperCase() }).bytes)).toThrow(/from .*must be in canonical form/)
    expect(() => decodeEnvelope(envelopeFor({ to: bob.state.id.toUpperCase() }).bytes)).toThrow(/to .*must be in canonical form/)
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

  it('makes a recipient that connects get its queued messages now, and those its relay keeps only after a grace period', () => {
    const db = openDb(join(dir, 'wake.db'), { create: true })
    const store = new MessageStore(db)
    const q = () => store.queue({ id: crypto.getRandomValues(new Uint8Array(16)), to: 'x', kind: 'event', verb: 'chat.message', payload: null, makeEnvelope: () => ({ bytes: new Uint8Array(1), created: 1, expires: Date.now() + 3600_000 }) })
    const [queued, relayed] = [q(), q()]
    const now = Date.now()
    store.recordAttempts([{ id: queued.id, nextAttempt: now + 60_000, status: 'queued', error: null }, { id: relayed.id, nextAttempt: now + 600_000, status: 'relayed', error: null }], now)
    expect(store.wake('x', now, now + 15_000)).toBe(2)
    expect(store.due(now).map(r => r.status)).toEqual(['queued'])
    expect(store.due(now + 15_000).map(r => r.status).sort()).toEqual(['queued', 'relayed'])
    db.close()
  })

  it('numbers inbound messages 1, 2, 3... in the order they are stored, skipping duplicates', () => {
    const db = openDb(join(dir, 'arrival.db'), { create: true })
    const store = new MessageStore(db)
    const m = (n: number, sentAt: number) => ({ from: 'a', id: new Uint8Array(16).fill(n), seq: n, verb: 'v.x', payload: null, sentAt, expires: Date.now() + 1000 })
    // Sent in one order, stored in another: arrival follows the storing.
    expect(store.storeInbound([m(3, 30), m(1, 10)]).map(x => x.arrival)).toEqual([1, 2])
    expect(store.storeInbound([m(1, 10), m(2, 20)]).map(x => [x.seq, x.arrival])).toEqual([[2, 3]])
    const byArrival = store.listInbox().sort((x, y) => x.arrival - y.arrival)
    expect(byArrival.map(x => [x.seq, x.arrival])).toEqual([[3, 1], [1, 2], [2, 3]])
    db.close()
  })
})

describe('the arrival migration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-arrival-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('numbers the messages a twin stored before it, in the order they were inserted', () => {
    const path = join(dir, 'old.db')
    const before = MIGRATIONS.findIndex(m => m.name.startsWith('messaging: arrival'))
    const old = openDb(path, { create: true, migrations: MIGRATIONS.slice(0, before) })
    const insert = old.prepare('INSERT INTO msg_inbox (from_id, id, seq, verb, payload, sent_at, received_at, expires) VALUES (?, ?, ?, \'v.x\', x\'f6\', ?, 0, 0)')
    insert.run('a', new Uint8Array(16).fill(1), 2, 20)
    insert.run('a', new Uint8Array(16).fill(2), 1, 10)
    old.close()
    const db = openDb(path)
    const store = new MessageStore(db)
    expect(store.listInbox().map(x => [x.seq, x.arrival])).toEqual([[1, 2], [2, 1]])
    expect(store.storeInbound([{ from: 'a', id: new Uint8Array(16).fill(3), seq: 3, verb: 'v.x', payload: null, sentAt: 30, expires: 0 }])[0]?.arrival).toBe(3)
    db.close()
  })
})

describe('receive pipeline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-receive-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('stores a batch in the order it arrived, even when one sender\'s record must be looked up first', async () => {
    const carol = createIdentity(generatePhrase())
    const recordOf = (t: typeof alice) => decodeRecord(encodeRecord(t.events, createDocument(t.state, t.current.signing, { name: '', addrs: [], relays: [] })))
    const known = recordOf(alice)
    const looked = recordOf(carol)
    // alice is cached; carol is found only after a (simulated) network lookup.
    const resolver = {
      cached: (id: string) => id === alice.state.id ? known : undefined,
      resolve: async (id: string) => {
        await new Promise(resolve => setTimeout(resolve, 50))
        if (id !== carol.state.id) throw new NetError('TWIN_NOT_FOUND', 'unknown')
        return looked
      }
    }
    const db = openDb(join(dir, 'bob.db'), { create: true })
    const store = new MessageStore(db)
    const self = { id: bob.state.id, sequence: 0, signingKey: ed25519PrivateKey(bob.current.signing), encryptionKey: bobSecret, encryptionPublic: bob.state.keys.encryption }
    const messaging = new Messaging(self, store, resolver as unknown as Resolver, {} as unknown as TwinLibp2p, () => { throw new Error('no relays here') })
    const from = (t: typeof alice, text: string) => createEnvelope({
      from: t.state.id, fromKeySeq: 0, signingKey: t.current.signing, to: bob.state.id, toKeySeq: 0, toEncryptionKey: bob.state.keys.encryption,
      kind: 'event', seq: 1, body: { verb: 'chat.message', payload: { text } }
    }).bytes
    const acked = await messaging.receiveFromMailbox([from(carol, 'first'), from(alice, 'second')])
    expect(acked).toHaveLength(2)
    const stored = store.listInbox().sort((x, y) => x.arrival - y.arrival)
    expect(stored.map(x => (x.payload as { text: string }).text)).toEqual(['first', 'second'])
    // Let the acknowledgements scheduled for the senders run (and fail: there is no network) before closing.
    await new Promise(resolve => setTimeout(resolve, 50))
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
