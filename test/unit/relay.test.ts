import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encodeCbor } from '../../src/wire/index.js'
import { openDb, type Db } from '../../src/db/index.js'
import { createDocument, createIdentity, ed25519PrivateKey, generatePhrase, x25519PrivateKey, type NewIdentity } from '../../src/identity/index.js'
import { MAX_FRAME_BYTES } from '../../src/net/frames.js'
import { decodeRecord, encodeRecord } from '../../src/net/record.js'
import { Resolver } from '../../src/net/resolver.js'
import type { TwinLibp2p } from '../../src/net/node.js'
import { createEnvelope, MAX_ENVELOPE_BYTES } from '../../src/messaging/envelope.js'
import { Messaging } from '../../src/messaging/index.js'
import { MessageStore } from '../../src/messaging/store.js'
import { Strikes } from '../../src/messaging/strikes.js'
import { fillPushFrame, pushFrameBytes, PUSH_MAX_ENVELOPES } from '../../src/relay/push-frame.js'
import { RelayStore, type Deposit, type DepositResult } from '../../src/relay/store.js'
import { DEFAULT_MAILBOX_LIMITS, type MailboxLimits } from '../../src/relay/limits.js'
import { SenderRecords } from '../../src/relay/sender-records.js'

describe('push frames', () => {
  it('computes the exact encoded size of a push frame', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 70_000 }), { maxLength: 300 }), sizes => {
      const frame = encodeCbor({ env: sizes.map(s => new Uint8Array(s)) })
      expect(pushFrameBytes(sizes)).toBe(frame.length)
    }), { numRuns: 60 })
  })

  it('fills a frame up to the limit and never past it, in order', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: MAX_ENVELOPE_BYTES }), { minLength: 1, maxLength: 400 }), sizes => {
      const n = fillPushFrame(sizes)
      expect(n).toBeGreaterThanOrEqual(1) // one envelope at its size limit always fits
      expect(n).toBeLessThanOrEqual(PUSH_MAX_ENVELOPES)
      expect(pushFrameBytes(sizes.slice(0, n))).toBeLessThanOrEqual(MAX_FRAME_BYTES)
      if (n < sizes.length && n < PUSH_MAX_ENVELOPES) expect(pushFrameBytes(sizes.slice(0, n + 1))).toBeGreaterThan(MAX_FRAME_BYTES)
    }), { numRuns: 200 })
    expect(fillPushFrame([200_000, 200_000])).toBe(1)
    expect(fillPushFrame(new Array(5).fill(62_000))).toBe(4)
    expect(fillPushFrame(new Array(1000).fill(10))).toBe(PUSH_MAX_ENVELOPES)
  })
})

describe('a relay mailbox', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-relay-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  let dbs = 0
  const open = (limits: Partial<MailboxLimits> = {}): { store: RelayStore, db: Db } => {
    const db = openDb(join(dir, `relay-${dbs++}.db`), { create: true })
    return { db, store: new RelayStore(db, { ...DEFAULT_MAILBOX_LIMITS, ...limits }) }
  }
  let n = 0
  /** A checked deposit of `size` bytes; ids are unique unless given. */
  const item = (from: string, to = 'bob', size = 100, id = ++n): Deposit =>
    ({ to, from, id: idOf(id), expires: Date.now() + 60_000, envelope: new Uint8Array(size) })
  const idOf = (i: number): Uint8Array => { const b = new Uint8Array(16); new DataView(b.buffer).setUint32(0, i); return b }
  const whys = (results: DepositResult[]): string[] => results.map(r => r.ok ? (r.duplicate ? 'duplicate' : 'ok') : r.why)
  const big = { messages: 1_000_000, bytes: 1024 ** 3 }

  it('keeps a duplicate once, and refuses the heaviest sender of a full mailbox', () => {
    const { store, db } = open({ perRecipient: { messages: 3, bytes: MAX_ENVELOPE_BYTES } })
    const same = item('mallory')
    expect(whys(store.deposit([same, { ...same }, item('mallory'), item('mallory'), item('mallory')]))).toEqual(['ok', 'duplicate', 'ok', 'ok', 'mailbox-full'])
    expect(store.mailboxUsage('bob')).toEqual({ n: 3, bytes: 300 })
    // A duplicate of something kept is accepted even when the mailbox is full (a sender's retry).
    expect(whys(store.deposit([{ ...same }]))).toEqual(['duplicate'])
    db.close()
  })

  it('evicts the heaviest sender\'s newest envelopes for a sender that holds less, until it would hold as much', () => {
    const { store, db } = open({ perRecipient: { messages: 10, bytes: MAX_ENVELOPE_BYTES } })
    const flood = Array.from({ length: 12 }, () => item('mallory'))
    expect(whys(store.deposit(flood)).filter(w => w === 'ok')).toHaveLength(10)
    // alice holds nothing: her message gets in, and mallory's newest envelope is the one gone.
    const fromAlice = item('alice')
    expect(store.deposit([fromAlice])).toEqual([{ ok: true, duplicate: false, evicted: 1 }])
    const waiting = store.waiting('bob', 100).map(e => e.id)
    expect(waiting).toContainEqual(fromAlice.id)
    expect(waiting).not.toContainEqual(flood[9]!.id)
    expect(waiting).toContainEqual(flood[8]!.id)
    // Mallory cannot take it back: she is still the heaviest.
    expect(whys(store.deposit([item('mallory')]))).toEqual(['mailbox-full'])
    // Eight fresh senders each take a share, down to an even split, and no further.
    for (let s = 0; s < 8; s++) {
      let results: DepositResult[] = []
      for (let k = 0; k < 20 && !results.some(r => !r.ok); k++) results = store.deposit([item(`sybil-${s}`)])
    }
    const shares = ['mallory', 'alice', ...Array.from({ length: 8 }, (_, s) => `sybil-${s}`)].map(f => store.mailboxUsage('bob', f).n)
    expect(shares.reduce((a, b) => a + b)).toBe(10)
    expect(Math.max(...shares)).toBeLessThanOrEqual(2)
    expect(store.mailboxUsage('bob', 'alice').n).toBe(1)
    db.close()
  })

  it('weighs senders by their dominant share: bytes for large envelopes, count for small ones', () => {
    // 4 envelopes or 4 × 64 KiB: one 64 KiB envelope weighs as much as one small one.
    const { store, db } = open({ perRecipient: { messages: 4, bytes: 4 * 65_536 } })
    expect(whys(store.deposit([item('heavy', 'bob', 3 * 65_536)]))).toEqual(['ok'])
    expect(whys(store.deposit([item('light'), item('light')]))).toEqual(['ok', 'ok'])
    // The mailbox is full by bytes (3 × 64 KiB + 2 × 100 bytes + 64 KiB > 4 × 64 KiB); heavy holds 3/4 of it.
    expect(store.deposit([item('light', 'bob', 65_536)])).toMatchObject([{ ok: true, evicted: 1 }])
    expect(store.mailboxUsage('bob', 'heavy').n).toBe(0)
    db.close()
  })

  it('refuses a sender over its own limit across mailboxes', () => {
    const { store, db } = open({ perSender: { messages: 3, bytes: MAX_ENVELOPE_BYTES } })
    expect(whys(store.deposit([item('mallory', 'bob'), item('mallory', 'carol'), item('mallory', 'dave'), item('mallory', 'erin')])))
      .toEqual(['ok', 'ok', 'ok', 'sender-over-limit'])
    expect(whys(store.deposit([item('alice', 'erin')]))).toEqual(['ok'])
    db.close()
  })

  it('keeps the relay total with the same rule, across mailboxes', () => {
    const { store, db } = open({ total: { messages: 4, bytes: MAX_ENVELOPE_BYTES }, perRecipient: big, perSender: big })
    expect(whys(store.deposit(['bob', 'carol', 'dave', 'erin', 'frank'].map(to => item('mallory', to))))).toEqual(['ok', 'ok', 'ok', 'ok', 'relay-full'])
    expect(store.deposit([item('alice', 'frank')])).toMatchObject([{ ok: true, evicted: 1 }])
    expect(store.waiting('erin', 10)).toHaveLength(0) // mallory's newest
    expect(store.total()).toBe(4)
    db.close()
  })

  it('undoes the evictions made for a deposit that is refused in the end', () => {
    // Alice may evict from mallory in bob's mailbox (full by count), but the relay is full by
    // bytes and alice is its heaviest sender.
    const { store, db } = open({ perRecipient: { messages: 2, bytes: 1024 ** 2 }, total: { messages: 1000, bytes: 600_000 }, perSender: big })
    expect(whys(store.deposit([item('mallory', 'bob'), item('mallory', 'bob'), item('alice', 'carol', 250_000), item('alice', 'carol', 250_000)]))).toEqual(['ok', 'ok', 'ok', 'ok'])
    expect(whys(store.deposit([item('alice', 'bob', 200_000)]))).toEqual(['relay-full'])
    expect(store.mailboxUsage('bob', 'mallory').n).toBe(2)
    expect(store.waiting('bob', 10)).toHaveLength(2)
    expect(store.total()).toBe(4)
    // A small one from alice needs no eviction from the relay, only from bob's mailbox.
    expect(store.deposit([item('alice', 'bob', 100)])).toMatchObject([{ ok: true, evicted: 1 }])
    db.close()
  })

  it('counts down when envelopes are acknowledged or expire, and keeps counting after a restart with other limits', () => {
    const { store, db } = open()
    const a = item('alice', 'bob', 500)
    const old = { ...item('mallory', 'bob', 700), expires: Date.now() + 1000 }
    store.deposit([a, old, item('alice', 'carol', 300)])
    expect(store.mailboxUsage('bob')).toEqual({ n: 2, bytes: 1200 })
    store.remove('bob', [a.id])
    expect(store.prune(Date.now() + 5000)).toBe(1)
    expect(store.mailboxUsage('bob')).toEqual({ n: 0, bytes: 0 })
    expect(store.total()).toBe(1)
    const again = new RelayStore(db, { ...DEFAULT_MAILBOX_LIMITS, perRecipient: { messages: 1, bytes: MAX_ENVELOPE_BYTES } })
    expect(whys(again.deposit([item('alice', 'carol')]))).toEqual(['mailbox-full'])
    db.close()
  })
})

describe('sender records at a relay', () => {
  it('stay within their bounds, least recently used first, and keep the newest record of a twin', () => {
    const ids = Array.from({ length: 3 }, () => createIdentity(generatePhrase()))
    const recordOf = (i: NewIdentity, seq = 1): { record: ReturnType<typeof decodeRecord>, bytes: Uint8Array } => {
      const bytes = encodeRecord(i.events, createDocument(i.state, i.current.signing, { name: '' }, seq - 1, seq))
      return { record: decodeRecord(bytes), bytes }
    }
    const cache = new SenderRecords(2, 1024 ** 2)
    for (const i of ids.slice(0, 2)) { const r = recordOf(i); cache.add(r.record, r.bytes) }
    cache.get(ids[0]!.state.id) // used: the second is now the oldest
    const third = recordOf(ids[2]!)
    cache.add(third.record, third.bytes)
    expect(cache.size).toBe(2)
    expect(cache.get(ids[1]!.state.id)).toBeUndefined()
    const newer = recordOf(ids[0]!, 5)
    cache.add(newer.record, newer.bytes)
    cache.add(recordOf(ids[0]!, 2).record, recordOf(ids[0]!, 2).bytes)
    expect(cache.get(ids[0]!.state.id)?.record.doc.seq).toBe(5)
    const small = new SenderRecords(100, third.bytes.length + 10)
    for (const i of ids) { const r = recordOf(i); small.add(r.record, r.bytes) }
    expect(small.size).toBe(1)
  })
})

describe('a twin receiving from its relay', () => {
  it('gives up on an envelope whose sender cannot be found after three pushes, so the relay can drop it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twin-recv-'))
    const bob = createIdentity(generatePhrase())
    const stranger = createIdentity(generatePhrase())
    const db = openDb(join(dir, 'bob.db'), { create: true })
    try {
      const messaging = new Messaging({
        id: bob.state.id,
        sequence: 0,
        signingKey: ed25519PrivateKey(bob.current.signing),
        encryptionKey: x25519PrivateKey(bob.current.encryption),
        encryptionPublic: bob.state.keys.encryption
      }, new MessageStore(db), new Resolver(undefined, undefined, () => []), {} as unknown as TwinLibp2p, () => { throw new Error('no relays here') })
      const { bytes, envelope } = createEnvelope({
        from: stranger.state.id, fromKeySeq: 0, signingKey: stranger.current.signing,
        to: bob.state.id, toKeySeq: 0, toEncryptionKey: bob.state.keys.encryption,
        kind: 'event', body: { verb: 'chat.message', payload: { text: 'who am I' } }
      })
      const reasons: string[] = []
      messaging.on('rejected', (r: { reason: string }) => { reasons.push(r.reason) })
      expect(await messaging.receiveFromMailbox([bytes])).toEqual([])
      expect(await messaging.receiveFromMailbox([bytes])).toEqual([])
      expect(await messaging.receiveFromMailbox([bytes])).toEqual([envelope.id])
      expect(reasons).toEqual(['unknown-sender', 'unknown-sender', 'unknown-sender'])
    } finally {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('counts failures in bounded memory', () => {
    const strikes = new Strikes(100)
    for (let i = 0; i < 1000; i++) strikes.add(`k${i}`)
    expect(strikes.size).toBe(100)
    expect(strikes.add('k999')).toBe(2)
    expect(strikes.add('k0')).toBe(1) // forgotten long ago: counted afresh
  })
})
