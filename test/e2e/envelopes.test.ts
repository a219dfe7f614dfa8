import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from './helpers.js'
import { api, Procs, waitFor } from './processes.js'
import { parseDidKey, restoreIdentity } from '../../src/identity/index.js'
import { createEnvelope, decodeEnvelope, encodeEnvelope, type SealInput } from '../../src/messaging/envelope.js'
import { MESSAGE_PROTOCOL } from '../../src/messaging/index.js'
import { createClientNode, stopNode, type TwinLibp2p } from '../../src/net/node.js'
import { FrameStream } from '../../src/net/frames.js'
import { encodeCbor } from '../../src/wire/index.js'

// An attacker's view: this test process holds alice's phrase (so it can sign as alice, with her
// current or her rotated-away key) and talks to bob's real twin process over libp2p.
const tmp = tempDir('twin-env-')
const procs = new Procs()
let node: TwinLibp2p | undefined
afterAll(async () => {
  if (node !== undefined) await stopNode(node)
  await procs.stopAll()
  tmp.cleanup()
})

describe('envelopes that must be refused', () => {
  let alice: { id: string, phrase: string, home: string }
  let bob: { id: string, home: string, encryption: Uint8Array }
  let carolId: string
  let frames: FrameStream
  let relay: string

  const base = (over: Partial<SealInput> = {}): SealInput => ({
    from: alice.id,
    fromKeySeq: 0,
    signingKey: restoreIdentity(alice.phrase).current.signing,
    to: bob.id,
    toKeySeq: 0,
    toEncryptionKey: bob.encryption,
    kind: 'event',
    body: { verb: 'chat.message', payload: { text: over.id === undefined ? 'attack' : 'x' } },
    ...over
  })
  const exchange = async (bytes: Uint8Array): Promise<any> => {
    await frames.write({ e: bytes })
    return await frames.read({ signal: AbortSignal.timeout(10_000) })
  }
  const flip = (bytes: Uint8Array, at: number): Uint8Array => { const b = bytes.slice(); b[at] = b[at]! ^ 0x01; return b }

  beforeAll(async () => {
    const r = procs.spawn(['relay', '--home', join(tmp.path, 'relay'), '--listen', '/ip4/127.0.0.1/tcp/0'])
    relay = (await r.ready()).addresses[0]
    const a = await twinJson(['init', '--home', join(tmp.path, 'alice'), '--name', 'alice'])
    alice = { id: a.id, phrase: a.phrase, home: join(tmp.path, 'alice') }
    writeFileSync(join(tmp.path, 'alice.phrase'), a.phrase)
    const b = await twinJson(['init', '--home', join(tmp.path, 'bob'), '--name', 'bob'])
    const bobKeys = await twinJson(['id', '--home', join(tmp.path, 'bob')])
    bob = { id: b.id, home: join(tmp.path, 'bob'), encryption: parseDidKey(bobKeys.encryptionKey).publicKey }
    carolId = (await twinJson(['init', '--home', join(tmp.path, 'carol')])).id
    const pa = procs.spawn(['start', '--home', alice.home, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0'])
    const pb = procs.spawn(['start', '--home', bob.home, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0'])
    await Promise.all([pa.ready(), pb.ready()])
    const status = await api(bob.home, 'GET', '/v1/status')
    node = await createClientNode()
    const direct = status.addresses.find((x: string) => !x.includes('p2p-circuit'))
    frames = new FrameStream(await node.dialProtocol(multiaddr(direct), MESSAGE_PROTOCOL))
  })

  it('accepts a valid envelope, and a replay of it is acknowledged but never stored twice', async () => {
    const { bytes } = createEnvelope(base())
    const first = await exchange(bytes)
    expect(first.e).toBeInstanceOf(Uint8Array)
    expect(decodeEnvelope(first.e)).toMatchObject({ kind: 'ack', from: bob.id, to: alice.id })
    const again = await exchange(bytes)
    expect(decodeEnvelope(again.e).kind).toBe('ack')
    const inbox = (await api(bob.home, 'GET', '/v1/inbox')).messages.filter((m: any) => m.text === 'attack')
    expect(inbox).toHaveLength(1)
  })

  it('refuses one flipped bit in the body, the header or the signature', async () => {
    const { bytes, envelope } = createEnvelope(base())
    const raw = encodeEnvelope(envelope)
    const bodyAt = Buffer.from(raw).indexOf(Buffer.from(envelope.body.subarray(0, 8))) + 20
    const sigAt = Buffer.from(raw).indexOf(Buffer.from(envelope.sig.subarray(0, 8))) + 10
    expect((await exchange(flip(bytes, bodyAt))).why).toBe('bad-signature')
    expect((await exchange(flip(bytes, sigAt))).why).toBe('bad-signature')
    expect((await exchange(encodeCbor({ ...envelope, seq: envelope.seq + 1 }))).why).toBe('bad-signature')
    const headerFlip = await exchange(flip(bytes, 12))
    expect(['bad-signature', 'malformed']).toContain(headerFlip.why)
  })

  it('refuses an envelope for another twin, an expired one, one from the future and one over the size limit', async () => {
    expect((await exchange(createEnvelope(base({ to: carolId })).bytes)).why).toBe('wrong-recipient')
    expect((await exchange(createEnvelope(base({ now: Date.now() - 2 * 3600_000, ttlMs: 3600_000 })).bytes)).why).toBe('expired')
    expect((await exchange(createEnvelope(base({ now: Date.now() + 3600_000 })).bytes)).why).toBe('from-the-future')
    const { envelope } = createEnvelope(base())
    const big = encodeCbor({ ...envelope, body: new Uint8Array(270 * 1024) })
    expect((await exchange(big)).why).toBe('too-large')
    expect((await exchange(new Uint8Array([1, 2, 3]))).why).toBe('malformed')
  })

  it('refuses an envelope signed with a key the sender has rotated away', async () => {
    await procs.stopAll() // alice, bob and the relay
    const relayProc = procs.spawn(['relay', '--home', join(tmp.path, 'relay'), '--listen', relay.split('/p2p/')[0]!])
    await relayProc.ready()
    await twinJson(['rotate', '--phrase-file', join(tmp.path, 'alice.phrase'), '--home', alice.home])
    const pa = procs.spawn(['start', '--home', alice.home, '--listen', '/ip4/127.0.0.1/tcp/0'])
    const pb = procs.spawn(['start', '--home', bob.home, '--listen', '/ip4/127.0.0.1/tcp/0'])
    await Promise.all([pa.ready(), pb.ready()])
    // Alice, now at key sequence 1, writes to bob: bob learns of the rotation.
    await api(alice.home, 'POST', '/v1/messages', { to: bob.id, text: 'after rotation' })
    await waitFor(async () => (await api(bob.home, 'GET', '/v1/inbox')).messages.some((m: any) => m.text === 'after rotation'), 20_000, 'the message after rotation')
    const status = await api(bob.home, 'GET', '/v1/status')
    frames = new FrameStream(await node!.dialProtocol(multiaddr(status.addresses.find((x: string) => !x.includes('p2p-circuit'))), MESSAGE_PROTOCOL))
    const stale = createEnvelope(base({ body: { verb: 'chat.message', payload: { text: 'old key' } } }))
    expect((await exchange(stale.bytes)).why).toBe('rotated-key')
    // Bob kept running and stored nothing it refused.
    const texts = (await api(bob.home, 'GET', '/v1/inbox')).messages.map((m: any) => m.text)
    expect(texts).toEqual(['attack', 'after rotation'])
  }, 60_000)
})
