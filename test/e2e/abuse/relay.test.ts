import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from '../helpers.js'
import { api, Procs, waitFor } from '../processes.js'
import {
  createDocument, createIdentity, generatePhrase, parseDidKey, rotateIdentity, signWithContext, type NewIdentity
} from '../../../src/identity/index.js'
import { createEnvelope, ENVELOPE_CONTEXT, type Envelope, type SealInput } from '../../../src/messaging/envelope.js'
import { createClientNode, stopNode, type TwinLibp2p } from '../../../src/net/node.js'
import { FrameStream } from '../../../src/net/frames.js'
import { encodeRecord } from '../../../src/net/record.js'
import { MAILBOX_PROTOCOL } from '../../../src/relay/service.js'
import { encodeCbor } from '../../../src/wire/index.js'

// An attacker's view of a relay's mailbox: this test process is a libp2p node with identities
// of its own making, and talks to a real relay process (`twin relay`) started with small limits.

/** The relay's limits, small so that a flood fills them in a few seconds. */
const MAILBOX_MESSAGES = 64
const MAILBOX_SIZE = 4 * 1024 ** 2
/** One sender may keep 1.5 mailboxes' worth in all: enough to fill bob's, and be stopped on the next. */
const SENDER_MESSAGES = 96
const SENDER_SIZE = 8 * 1024 ** 2
/** The relay in all: not reached here (its rule is the same, tested in test/unit/relay.test.ts). */
const TOTAL_MESSAGES = 10_000
const TOTAL_SIZE = 256 * 1024 ** 2
/** Payload of each flooding envelope: small, so the count limit is the one that fills. */
const FLOOD_PAYLOAD_BYTES = 16 * 1024
/** Fresh identities that flood after the first one. */
const SYBILS = 8

const tmp = tempDir('twin-abuse-relay-')
const procs = new Procs()
let node: TwinLibp2p | undefined
afterAll(async () => {
  if (node !== undefined) await stopNode(node)
  await procs.stopAll()
  tmp.cleanup()
})
const at = (name: string): string => join(tmp.path, name)

interface Twin { id: string, home: string, phrase: string, encryption: Uint8Array }
interface PutReply { ok?: Uint8Array, no?: Uint8Array | null, why?: string, msg?: string }

describe('a relay\'s mailbox under abuse', () => {
  let relay: string
  let alice: Twin
  let bob: Twin
  let bobProc: ReturnType<Procs['spawn']>
  let frames: FrameStream

  async function newTwin (name: string): Promise<Twin> {
    const home = at(name)
    const r = await twinJson(['init', '--home', home, '--name', name])
    const keys = await twinJson(['id', '--home', home])
    return { id: r.id, home, phrase: r.phrase, encryption: parseDidKey(keys.encryptionKey).publicKey }
  }
  const startTwin = (t: Twin): ReturnType<Procs['spawn']> => procs.spawn(['start', '--home', t.home, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0'])

  /** A twin record for an identity made here (with `peer`, it can subscribe from this node). */
  const recordOf = (i: NewIdentity, peer?: string): Uint8Array =>
    encodeRecord(i.events, createDocument(i.state, i.current.signing, { name: '', ...(peer === undefined ? {} : { peer, addrs: [], relays: [] }) }))
  /** A signed, sealed event from `from` to `to`. */
  const envelope = (from: NewIdentity, to: { id: string, encryption: Uint8Array }, over: Partial<SealInput> = {}): ReturnType<typeof createEnvelope> => createEnvelope({
    from: from.state.id,
    fromKeySeq: from.state.sequence,
    signingKey: from.current.signing,
    to: to.id,
    toKeySeq: 0,
    toEncryptionKey: to.encryption,
    kind: 'event',
    body: { verb: 'chat.message', payload: { text: 'flood', pad: 'x'.repeat(FLOOD_PAYLOAD_BYTES) } },
    ...over
  })
  /** Signs changed header fields again, as a sender that writes its own envelopes can. */
  const resign = (env: Envelope, signingKey: Uint8Array, changes: Partial<Envelope>): Uint8Array => {
    const { sig: _sig, ...rest } = { ...env, ...changes }
    return encodeCbor({ ...rest, sig: signWithContext(signingKey, ENVELOPE_CONTEXT, encodeCbor(rest)) })
  }
  const put = async (env: Uint8Array, rec?: Uint8Array): Promise<PutReply> => {
    await frames.write({ op: 'put', env, ...(rec === undefined ? {} : { rec }) })
    return await frames.read({ signal: AbortSignal.timeout(10_000) }) as PutReply
  }
  /** Registers an identity made here at the relay, as a twin that uses it (then goes offline). */
  const subscribe = async (i: NewIdentity): Promise<void> => {
    const sub = new FrameStream(await node!.dialProtocol(multiaddr(relay), MAILBOX_PROTOCOL))
    await sub.write({ op: 'sub', rec: recordOf(i, node!.peerId.toString()) })
    expect(await sub.read({ signal: AbortSignal.timeout(10_000) })).toEqual({ ok: true, envelopes: [1, 2] })
    sub.abort('offline')
  }
  /** Deposits from `from` to `to` until the relay refuses; returns how many it kept and the refusal. */
  const flood = async (from: NewIdentity, to: { id: string, encryption: Uint8Array }): Promise<{ kept: number, refusal: PutReply }> => {
    const rec = recordOf(from)
    for (let kept = 0; kept <= SENDER_MESSAGES; kept++) {
      const r = await put(envelope(from, to).bytes, rec)
      if (r.ok === undefined) return { kept, refusal: r }
    }
    throw new Error(`the relay kept more than ${SENDER_MESSAGES} envelopes from one sender`)
  }

  beforeAll(async () => {
    const r = procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/127.0.0.1/tcp/0',
      '--mailbox-messages', String(MAILBOX_MESSAGES), '--mailbox-size', `${MAILBOX_SIZE}B`,
      '--sender-messages', String(SENDER_MESSAGES), '--sender-size', `${SENDER_SIZE / 1024 ** 2}MiB`,
      '--total-messages', String(TOTAL_MESSAGES), '--total-size', `${TOTAL_SIZE / 1024 ** 2}MiB`])
    const ready = await r.ready()
    relay = ready.addresses[0]
    expect(ready.limits).toEqual({
      perRecipient: { messages: MAILBOX_MESSAGES, bytes: MAILBOX_SIZE },
      perSender: { messages: SENDER_MESSAGES, bytes: SENDER_SIZE },
      total: { messages: TOTAL_MESSAGES, bytes: TOTAL_SIZE }
    })
    ;[alice, bob] = await Promise.all([newTwin('alice'), newTwin('bob')])
    bobProc = startTwin(bob)
    await Promise.all([startTwin(alice).ready(), bobProc.ready()])
    node = await createClientNode()
    frames = new FrameStream(await node.dialProtocol(multiaddr(relay), MAILBOX_PROTOCOL))
  })

  it('refuses at deposit what it must not keep, and says why', async () => {
    const mallory = createIdentity(generatePhrase())
    const rec = recordOf(mallory)
    const refused = async (env: Uint8Array, withRecord: Uint8Array | null = rec): Promise<PutReply> => {
      const r = await put(env, withRecord ?? undefined)
      expect(r.ok).toBeUndefined()
      return r
    }
    expect(await refused(envelope(mallory, { id: 'x', encryption: bob.encryption }).bytes)).toMatchObject({ why: 'malformed', msg: expect.stringMatching(/\bto a twin id\b/) })
    const stranger = createIdentity(generatePhrase()) // a well-formed id that never used this relay
    expect((await refused(envelope(mallory, { id: stranger.state.id, encryption: bob.encryption }).bytes)).why).toBe('unknown-recipient')
    const { envelope: valid, bytes } = envelope(mallory, bob)
    const tenYears = 10 * 365 * 24 * 3600_000
    expect((await refused(resign(valid, mallory.current.signing, { expires: valid.created + tenYears }))).why).toBe('ttl-too-long')
    expect((await refused(envelope(mallory, bob, { now: Date.now() + 3600_000 }).bytes)).why).toBe('from-the-future')
    expect((await refused(envelope(mallory, bob, { now: Date.now() - 2 * 3600_000, ttlMs: 3600_000 }).bytes)).why).toBe('expired')
    // Without its record the relay cannot check mallory's signature; with another twin's record neither.
    expect((await refused(bytes, null)).why).toBe('unknown-sender')
    expect((await refused(bytes, recordOf(stranger))).why).toBe('unknown-sender')
    // Claiming to be alice (whom the relay knows: she subscribed) with mallory's key.
    expect((await refused(envelope(mallory, bob, { from: alice.id, fromKeySeq: 0 }).bytes)).why).toBe('bad-signature')
    // Signed with a key its owner has rotated away, as the owner's newer record shows.
    const phrase = generatePhrase()
    const before = createIdentity(phrase)
    const after = rotateIdentity(phrase, before.events)
    expect((await refused(envelope(before, bob).bytes, recordOf(after))).why).toBe('rotated-key')
    // The valid envelope, with mallory's record, is kept: the refusals above were for what they say.
    expect(await put(bytes, rec)).toEqual({ ok: valid.id })
  })

  it('still delivers a contact\'s message after one identity, then eight fresh ones, flooded the mailbox', async () => {
    // Alice and bob know each other: they exchanged messages. Then bob goes offline.
    await api(alice.home, 'POST', '/v1/messages', { to: bob.id, text: 'hello bob' })
    await waitFor(async () => (await api(bob.home, 'GET', '/v1/inbox')).messages.some((m: any) => m.text === 'hello bob'), 20_000, 'alice\'s first message')
    await api(bob.home, 'POST', '/v1/messages', { to: alice.id, text: 'hello alice' })
    await waitFor(async () => (await api(alice.home, 'GET', '/v1/inbox')).messages.some((m: any) => m.text === 'hello alice'), 20_000, 'bob\'s reply')
    expect(await bobProc.stop('SIGTERM')).toBe(0)

    // One identity floods bob's mailbox until the relay refuses: it gets the mailbox, no more...
    const flooder = createIdentity(generatePhrase())
    expect(await flood(flooder, bob)).toEqual({ kept: MAILBOX_MESSAGES, refusal: expect.objectContaining({ why: 'mailbox-full' }) })
    // ...and its own limit stops it on the next mailbox (a twin of its own, registered here).
    const accomplice = createIdentity(generatePhrase())
    await subscribe(accomplice)
    expect(await flood(flooder, { id: accomplice.state.id, encryption: accomplice.state.keys.encryption }))
      .toEqual({ kept: SENDER_MESSAGES - MAILBOX_MESSAGES, refusal: expect.objectContaining({ why: 'sender-over-limit' }) })
    // Eight fresh identities flood in turn: each takes part of the heaviest sender's share.
    for (let i = 0; i < SYBILS; i++) {
      const r = await flood(createIdentity(generatePhrase()), bob)
      expect(r.refusal.why).toBe('mailbox-full')
      expect(r.kept).toBeGreaterThan(0)
    }

    // Alice writes to bob as a user does; the relay keeps her message although the mailbox is full.
    const sent = await twinJson(['send', bob.id, 'after the flood', '--home', alice.home])
    await waitFor(async () => (await api(alice.home, 'GET', '/v1/outbox')).messages.some((m: any) => m.id === sent.id && m.status === 'relayed'), 30_000, 'alice\'s message kept by the relay')
    await startTwin(bob).ready()
    const got = await waitFor(async () => (await api(bob.home, 'GET', '/v1/inbox?limit=1000')).messages.find((m: any) => m.id === sent.id), 30_000, 'alice\'s message at bob')
    expect(got).toMatchObject({ from: alice.id, text: 'after the flood' })
  })
})
