import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createDocument, createIdentity, ed25519PrivateKey, generatePhrase, rotateIdentity, x25519PrivateKey, type NewIdentity } from '../../src/identity/index.js'
import { decodeRecord, encodeRecord, type TwinRecord } from '../../src/net/record.js'
import type { Resolver } from '../../src/net/resolver.js'
import { openDb } from '../../src/db/index.js'
import { encodeCbor } from '../../src/wire/index.js'
import { createEnvelope, decodeEnvelope, openEnvelope, verifyEnvelopeSignature, type EnvelopeV2 } from '../../src/messaging/envelope.js'
import { EnvelopeRejected } from '../../src/messaging/errors.js'
import { Opener } from '../../src/messaging/opener.js'
import { Peers } from '../../src/messaging/peers.js'
import { Sealer, type Self } from '../../src/messaging/sealer.js'
import { ReplayWindow, SendSessions, SESSION_MAX_AGE_MS, SESSION_MAX_MESSAGES } from '../../src/messaging/session.js'
import { DEFAULT_TIMING } from '../../src/messaging/timing.js'
import { DepositCheck } from '../../src/relay/deposit-check.js'
import { DEFAULT_MAILBOX_LIMITS } from '../../src/relay/limits.js'
import { SenderRecords } from '../../src/relay/sender-records.js'
import { RelayStore } from '../../src/relay/store.js'

const alice = createIdentity(generatePhrase())
const bob = createIdentity(generatePhrase())

/** A verified record of `t`, advertising the envelope versions given (none: a document from before version 2). */
function recordOf (t: NewIdentity, envelopes?: number[]): { record: TwinRecord, bytes: Uint8Array } {
  const bytes = encodeRecord(t.events, createDocument(t.state, t.current.signing, { name: '', addrs: [], relays: [], ...(envelopes === undefined ? {} : { envelopes }) }))
  return { record: decodeRecord(bytes), bytes }
}
const selfOf = (t: NewIdentity, envelopes?: number[]): Self => ({
  id: t.state.id, sequence: t.state.sequence, signingKey: ed25519PrivateKey(t.current.signing),
  encryptionKey: x25519PrivateKey(t.current.encryption), encryptionPublic: t.state.keys.encryption, ...(envelopes === undefined ? {} : { envelopes })
})
/** A resolver that knows these records and nothing else. */
const resolverOf = (...records: TwinRecord[]): Resolver => ({
  cached: (id: string) => records.find(r => r.state.id === id),
  resolve: async (id: string) => {
    const r = records.find(x => x.state.id === id)
    if (r === undefined) throw new Error('unknown')
    return r
  }
}) as unknown as Resolver

const bobV2 = recordOf(bob, [1, 2]).record
const aliceV2 = recordOf(alice, [1, 2]).record
const timing = (now = () => Date.now()) => ({ ...DEFAULT_TIMING, now })
const sealerOf = (t: NewIdentity, now?: () => number, envelopes?: number[]) => new Sealer(selfOf(t, envelopes), new Peers(), timing(now))
const bobOpener = (envelopes?: number[]) => new Opener(selfOf(bob, envelopes), resolverOf(aliceV2, bobV2), new Peers())
const open = async (opener: Opener, bytes: Uint8Array) => await opener.open(bytes, Date.now(), () => {})
const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p
  } catch (err) {
    if (err instanceof EnvelopeRejected) return err.reason
    throw err
  }
  return 'accepted'
}
const ping = { verb: 'twin.ping', payload: { n: 1 } }

describe('envelope versions', () => {
  it('seals version 2 only to a twin whose record advertises it, and version 1 to any other', () => {
    const sealer = sealerOf(alice)
    expect(decodeEnvelope(sealer.seal(bobV2, 'request', ping).bytes).v).toBe(2)
    expect(decodeEnvelope(sealer.seal(recordOf(bob).record, 'request', ping).bytes).v).toBe(1)
    expect(decodeEnvelope(sealer.seal(recordOf(bob, [1]).record, 'request', ping).bytes).v).toBe(1)
    // A twin that writes only version 1 uses it even with a recipient that reads version 2.
    expect(decodeEnvelope(sealerOf(alice, undefined, [1]).seal(bobV2, 'request', ping).bytes).v).toBe(1)
  })

  it('still reads version 1 envelopes, next to version 2 ones', async () => {
    const opener = bobOpener()
    const v1 = createEnvelope({ from: alice.state.id, fromKeySeq: 0, signingKey: alice.current.signing, to: bob.state.id, toKeySeq: 0, toEncryptionKey: bob.state.keys.encryption, kind: 'event', body: { verb: 'chat.message', payload: 'one' } })
    expect((await open(opener, v1.bytes)).body).toEqual({ verb: 'chat.message', payload: 'one' })
    const v2 = sealerOf(alice).seal(bobV2, 'event', { verb: 'chat.message', payload: 'two' })
    expect(await open(opener, v2.bytes)).toMatchObject({ header: { v: 2, from: alice.state.id, kind: 'event' }, body: { verb: 'chat.message', payload: 'two' } })
  })

  it('is refused by a twin that reads only version 1, with the words such a twin uses', async () => {
    const v2 = sealerOf(alice).seal(bobV2, 'event', { verb: 'chat.message', payload: 'x' })
    await expect(open(bobOpener([1]), v2.bytes)).rejects.toThrow('envelope is not valid: v Invalid input: expected 1')
  })
})

describe('sessions', () => {
  it('seal envelope after envelope with one key agreement, and count each one', () => {
    const sealer = sealerOf(alice)
    const envs = [1, 2, 3].map(() => decodeEnvelope(sealer.seal(bobV2, 'request', ping).bytes) as EnvelopeV2)
    expect(new Set(envs.map(e => Buffer.from(e.e).toString('hex'))).size).toBe(1)
    expect(envs.map(e => e.n)).toEqual([0, 1, 2])
  })

  it('rotate the key after a number of envelopes and after an hour, and envelopes of the old session still open', async () => {
    let now = Date.now()
    const sessions = new SendSessions({ id: alice.state.id, sequence: 0, signingKey: alice.current.signing }, () => now)
    const first = sessions.next(bob.state.id, 0, bob.state.keys.encryption).session
    for (let i = 1; i < SESSION_MAX_MESSAGES; i++) sessions.next(bob.state.id, 0, bob.state.keys.encryption)
    const second = sessions.next(bob.state.id, 0, bob.state.keys.encryption)
    expect(second.session.init.e).not.toEqual(first.init.e)
    expect(second.n).toBe(0)
    now += SESSION_MAX_AGE_MS
    const third = sessions.next(bob.state.id, 0, bob.state.keys.encryption).session
    expect(third.init.e).not.toEqual(second.session.init.e)
    // A recipient key rotation starts a new session too.
    expect(sessions.next(bob.state.id, 1, bob.state.keys.encryption).session.init.e).not.toEqual(third.init.e)

    // The receiver opens envelopes of a session the sender has left behind (they may wait in a mailbox).
    let clock = Date.now() - SESSION_MAX_AGE_MS - 1_000
    const sealer = sealerOf(alice, () => clock)
    const old = sealer.seal(bobV2, 'event', { verb: 'chat.message', payload: 'old session' }, { signed: true })
    clock += SESSION_MAX_AGE_MS
    const fresh = sealer.seal(bobV2, 'event', { verb: 'chat.message', payload: 'new session' }, { signed: true })
    expect((decodeEnvelope(fresh.bytes) as EnvelopeV2).e).not.toEqual((decodeEnvelope(old.bytes) as EnvelopeV2).e)
    const opener = bobOpener()
    expect((await open(opener, fresh.bytes)).body).toMatchObject({ payload: 'new session' })
    expect((await open(opener, old.bytes)).body).toMatchObject({ payload: 'old session' })
  })

  it('refuse a replayed request, response or ack, but take an event again (the store drops its duplicate)', async () => {
    const opener = bobOpener()
    const sealer = sealerOf(alice)
    const request = sealer.seal(bobV2, 'request', ping)
    expect(await refusal(open(opener, request.bytes))).toBe('accepted')
    expect(await refusal(open(opener, request.bytes))).toBe('replay')
    const ack = sealer.seal(bobV2, 'ack', { ids: [new Uint8Array(16)] })
    expect(await refusal(open(opener, ack.bytes))).toBe('accepted')
    expect(await refusal(open(opener, ack.bytes))).toBe('replay')
    const event = sealer.seal(bobV2, 'event', { verb: 'chat.message', payload: 'again' }, { signed: true })
    expect(await refusal(open(opener, event.bytes))).toBe('accepted')
    expect(await refusal(open(opener, event.bytes))).toBe('accepted')
  })

  it('take envelopes that arrive out of order, refuse one older than the window, and refuse a counter changed on the way', async () => {
    const opener = bobOpener()
    const sealer = sealerOf(alice)
    const sealed = Array.from({ length: 5 }, () => sealer.seal(bobV2, 'request', ping))
    for (const i of [4, 0, 2, 1, 3]) expect(await refusal(open(opener, sealed[i]!.bytes))).toBe('accepted')
    // A reordering attacker rewrites the counter (and re-encodes the header): the body no longer opens.
    const env = decodeEnvelope(sealer.seal(bobV2, 'request', ping).bytes) as EnvelopeV2
    const { v: _v, header: _h, body, sig: _s, ...fields } = env
    const moved = encodeCbor({ v: 2, h: encodeCbor({ ...fields, n: env.n + 1 }), b: body, sig: null })
    expect(await refusal(open(opener, moved))).toBe('undecryptable')
    // Far behind the newest counter: too old to tell from a replay.
    const window = new ReplayWindow()
    expect(window.accept(ReplayWindow.SIZE + 10)).toBe(true)
    expect(window.accept(5)).toBe(false)
    expect(window.accept(ReplayWindow.SIZE + 9)).toBe(true)
    expect(window.accept(ReplayWindow.SIZE + 9)).toBe(false)
  })

  it('open messages from a sender whose session was reset, and after the receiver forgot every session', async () => {
    const before = sealerOf(alice).seal(bobV2, 'request', ping)
    const opener = bobOpener()
    expect(await refusal(open(opener, before.bytes))).toBe('accepted')
    // The sender restarts: a new session, its counters from 0 again, and not mistaken for replays.
    const after = sealerOf(alice).seal(bobV2, 'request', ping)
    expect((decodeEnvelope(after.bytes) as EnvelopeV2).n).toBe(0)
    expect(await refusal(open(opener, after.bytes))).toBe('accepted')
    // The receiver restarts: envelopes carry their session, so it verifies and agrees it again.
    const event = sealerOf(alice).seal(bobV2, 'event', { verb: 'chat.message', payload: 'x' }, { signed: true })
    expect(await refusal(open(bobOpener(), event.bytes))).toBe('accepted')
  })

  it('refuse a session signed by another twin, a sender claim the session does not bind, and a body from another session', async () => {
    const opener = bobOpener()
    const mallory = createIdentity(generatePhrase())
    const forged = sealerOf(mallory).seal(bobV2, 'request', ping)
    const env = decodeEnvelope(forged.bytes) as EnvelopeV2
    const { v: _v, header: _h, body, sig: _s, ...fields } = env
    // Mallory's session, presented as alice's: the session signature is checked with alice's key.
    const asAlice = encodeCbor({ v: 2, h: encodeCbor({ ...fields, from: alice.state.id }), b: body, sig: null })
    expect(await refusal(open(opener, asAlice))).toBe('bad-signature')
    // Alice's session with a body sealed in another of her sessions: the key does not open it.
    const one = decodeEnvelope(sealerOf(alice).seal(bobV2, 'request', ping).bytes) as EnvelopeV2
    const two = decodeEnvelope(sealerOf(alice).seal(bobV2, 'request', ping).bytes) as EnvelopeV2
    expect(await refusal(open(opener, encodeCbor({ v: 2, h: one.header, b: two.body, sig: null })))).toBe('undecryptable')
  })

  it('never accept an envelope with a bit changed in its header or body', async () => {
    const opener = bobOpener()
    const sealer = sealerOf(alice)
    const { bytes } = sealer.seal(bobV2, 'event', { verb: 'chat.message', payload: { text: 'hi' } })
    const env = decodeEnvelope(bytes) as EnvelopeV2
    const sigStart = bytes.length - 1 // unsigned: the last byte is null
    await fc.assert(fc.asyncProperty(fc.nat({ max: sigStart - 1 }), fc.nat({ max: 7 }), async (at, bit) => {
      const m = bytes.slice()
      m[at] = m[at]! ^ (1 << bit)
      expect(await refusal(open(opener, m))).not.toBe('accepted')
    }), { numRuns: 1500 })
    expect(env.sig).toBeNull()
  })

  it('fail cleanly on random bytes that start like a version 2 envelope', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), tail => {
      expect(() => decodeEnvelope(Uint8Array.from([0xa4, 0x61, 0x62, ...tail]))).toThrow(EnvelopeRejected)
    }), { numRuns: 2000 })
  })

  it('open on their own with the recipient key and the sender key, as another implementation would', () => {
    const { bytes } = sealerOf(alice).seal(bobV2, 'response', { payload: 42 })
    const env = decodeEnvelope(bytes)
    expect(openEnvelope(env, x25519PrivateKey(bob.current.encryption), bob.state.keys.encryption, alice.state.keys.signing)).toEqual({ payload: 42 })
    expect(() => openEnvelope(env, x25519PrivateKey(bob.current.encryption), bob.state.keys.encryption, bob.state.keys.signing)).toThrow(/session signature/)
  })
})

describe('a relay keeping version 2 envelopes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-sessions-relay-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('keeps a signed one, refuses an unsigned or altered one, and keeps the unsigned one once its sender signs it', () => {
    const db = openDb(join(dir, 'relay.db'), { create: true })
    try {
      const store = new RelayStore(db, DEFAULT_MAILBOX_LIMITS)
      const bobRec = recordOf(bob, [1, 2])
      store.putRecord(bob.state.id, 0, bobRec.record.doc.seq, bobRec.bytes)
      const check = new DepositCheck(store, new SenderRecords())
      const aliceRec = recordOf(alice, [1, 2]).bytes
      const sealer = sealerOf(alice)
      const signed = sealer.seal(bobV2, 'event', { verb: 'chat.message', payload: 'kept' }, { signed: true })
      expect(check.check(signed.bytes, aliceRec)).toMatchObject({ ok: { to: bob.state.id, from: alice.state.id } })
      const unsigned = sealer.seal(bobV2, 'ack', { ids: [new Uint8Array(16)] })
      expect(check.check(unsigned.bytes, aliceRec)).toMatchObject({ why: 'bad-signature', msg: expect.stringMatching(/not signed/) })
      expect(check.check(unsigned.forRelay(), aliceRec)).toMatchObject({ ok: { from: alice.state.id } })
      // One bit of the signature changed: refused; the signature itself verifies with alice's key.
      const env = decodeEnvelope(signed.bytes) as EnvelopeV2
      const m = signed.bytes.slice()
      m[m.length - 1] = m[m.length - 1]! ^ 1
      expect(check.check(m, aliceRec)).toMatchObject({ why: 'bad-signature' })
      expect(() => { verifyEnvelopeSignature(env, alice.state.keys.signing) }).not.toThrow()
      // A rotated sender's old session: refused as the relay refuses any envelope of a rotated key.
      const phrase = generatePhrase()
      const old = createIdentity(phrase)
      const rotated = rotateIdentity(phrase, old.events)
      const stale = sealerOf(old).seal(bobV2, 'event', { verb: 'chat.message', payload: 'x' }, { signed: true })
      expect(check.check(stale.bytes, encodeRecord(rotated.events, createDocument(rotated.state, rotated.current.signing, { name: '' })))).toMatchObject({ why: 'rotated-key' })
    } finally {
      db.close()
    }
  })
})
