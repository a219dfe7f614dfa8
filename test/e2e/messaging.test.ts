import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectCleanFailure, tempDir, twin, twinJson } from './helpers.js'
import { api, freePort, Procs, waitFor } from './processes.js'

const tmp = tempDir('twin-msg-')
const procs = new Procs()
afterAll(async () => {
  await procs.stopAll()
  tmp.cleanup()
})
const at = (name: string): string => join(tmp.path, name)

async function newTwin (name: string): Promise<{ home: string, id: string, phrase: string }> {
  const home = at(name)
  const r = await twinJson(['init', '--home', home, '--name', name])
  writeFileSync(`${home}.phrase`, r.phrase)
  return { home, id: r.id, phrase: r.phrase }
}

async function startRelay (name: string, port = 0): Promise<{ proc: ReturnType<Procs['spawn']>, address: string }> {
  const proc = procs.spawn(['relay', '--home', at(name), '--listen', `/ip4/127.0.0.1/tcp/${port}`])
  const ready = await proc.ready()
  return { proc, address: ready.addresses[0] }
}

function startTwin (home: string, relay: string, extra: string[] = []): ReturnType<Procs['spawn']> {
  return procs.spawn(['start', '--home', home, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0', ...extra])
}

const inboxOf = async (home: string, limit = 5000): Promise<any[]> => (await api(home, 'GET', `/v1/inbox?limit=${limit}`)).messages
const outboxOf = async (home: string, limit = 5000): Promise<any[]> => (await api(home, 'GET', `/v1/outbox?limit=${limit}`)).messages

describe('a relay and two running twins', () => {
  let relay: string
  let alice: Awaited<ReturnType<typeof newTwin>>
  let bob: Awaited<ReturnType<typeof newTwin>>
  let readyLines: any[]
  beforeAll(async () => {
    relay = (await startRelay('relay-a')).address
    alice = await newTwin('alice')
    bob = await newTwin('bob')
    const [a, b] = [startTwin(alice.home, relay), startTwin(bob.home, relay)]
    const [ra, rb] = await Promise.all([a.ready(), b.ready()])
    readyLines = [ra, rb]
    expect(ra.id).toBe(alice.id)
    expect(rb.peerId).toMatch(/^12D3Koo/)
    expect(rb.addresses.every((x: string) => x.endsWith(`/p2p/${rb.peerId}`))).toBe(true)
  })

  it('says it is ready only once its relay reservation is in place: what it prints and publishes has the circuit address', async () => {
    const relayPeer = relay.split('/p2p/').pop()
    for (const r of readyLines) expect(r.addresses).toContainEqual(expect.stringContaining(`/p2p/${relayPeer}/p2p-circuit/p2p/${r.peerId}`))
  })

  it('sends a signed, sealed message that the recipient lists with the sender\'s name', async () => {
    const sent = await twinJson(['send', bob.id, 'hello bob', '--home', alice.home])
    expect(sent).toEqual({ id: expect.stringMatching(/^[0-9a-f]{32}$/), status: 'queued' })
    const inbox = await waitFor(async () => (await twinJson(['inbox', '--home', bob.home])).messages.find((m: any) => m.id === sent.id), 10_000, 'the message at bob')
    expect(inbox).toMatchObject({ from: alice.id, text: 'hello bob', sentAt: expect.any(String), receivedAt: expect.any(String) })
    const text = await twin(['inbox', '--home', bob.home])
    expect(text.stdout).toMatch(/alice \(b[a-z2-7]+\)\n\s+hello bob/)
    const out = await waitFor(async () => (await twinJson(['outbox', '--home', alice.home])).messages.find((m: any) => m.id === sent.id && m.status === 'delivered'), 10_000, 'delivered status')
    expect(out).toMatchObject({ to: bob.id, status: 'delivered', attempts: expect.any(Number) })
  })

  it('answers twin.ping and twin.describe, and an unknown verb with an error response', async () => {
    expect((await twinJson(['call', bob.id, 'twin.ping', '--home', alice.home])).response).toMatchObject({ pong: true })
    expect((await twinJson(['call', bob.id, 'twin.ping', '{"data":"echo this"}', '--home', alice.home])).response).toMatchObject({ pong: true, data: 'echo this' })
    const d = (await twinJson(['call', bob.id, 'twin.describe', '--home', alice.home])).response
    expect(d).toMatchObject({ id: bob.id, name: 'bob', signingKey: expect.stringMatching(/^did:key:z6Mk/) })
    expectCleanFailure(await twin(['call', bob.id, 'calendar.invite', '{"at":"noon"}', '--home', alice.home]), /does not speak calendar\.invite/)
    expectCleanFailure(await twin(['call', bob.id, 'twin.ping', '{not json', '--home', alice.home]), /not valid JSON/)
  })

  it('shows its status', async () => {
    const s = await twinJson(['status', '--home', alice.home])
    expect(s).toMatchObject({ id: alice.id, peerId: expect.stringMatching(/^12D3Koo/), addresses: expect.any(Array), relays: [{ address: relay, connected: true }] })
    expect(s.connections).toBeGreaterThanOrEqual(1)
    const relayPeer = relay.split('/p2p/').pop()
    expect(s.links).toContainEqual(expect.objectContaining({ peer: relayPeer, path: 'direct', transport: 'tcp', direction: 'outbound' }))
    expect(s.links).toHaveLength(s.connections)
    expect(s.addresses.some((a: string) => a.includes('/p2p-circuit'))).toBe(true)
  })

  it('refuses a second start on the same home', async () => {
    const second = procs.spawn(['start', '--home', alice.home, '--listen', '/ip4/127.0.0.1/tcp/0'])
    second.expectedExit = true
    // With --json a failure is one JSON line too: { error, code }.
    expect(await second.ready()).toMatchObject({ code: 'ALREADY_RUNNING', error: expect.stringMatching(/already running \(process \d+\)/) })
    expect(await second.exited).toBe(1)
    expect((await twinJson(['status', '--home', alice.home])).id).toBe(alice.id)
  })

  it('refuses a message to a twin nobody can find, and bad input, with a clear error', async () => {
    const stranger = await twinJson(['init', '--home', at('stranger')])
    expectCleanFailure(await twin(['send', stranger.id, 'hi', '--home', alice.home]), /cannot find twin/)
    expectCleanFailure(await twin(['send', 'not-an-id', 'hi', '--home', alice.home]), /twin id is not valid/)
  })

  it('answers a vault read of a missing path with 404 NOT_FOUND, and documents every vault route with its errors', async () => {
    const file = JSON.parse(readFileSync(join(alice.home, 'api.json'), 'utf8'))
    const res = await fetch(`${file.url}/v1/vault/file?path=/nothing-here`, { headers: { authorization: `Bearer ${file.token}` } })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ code: 'NOT_FOUND', error: 'no file /nothing-here in the vault' })
    // The CLI reports it as before: one line, exit 1, and the code with --json.
    const get = await twin(['get', '/nothing-here', '--json', '--home', alice.home])
    expect(get.code).toBe(1)
    expect(JSON.parse(get.stdout)).toEqual({ code: 'NOT_FOUND', error: 'no file /nothing-here in the vault' })
    const paths = (await api(alice.home, 'GET', '/v1/openapi.json')).paths
    for (const route of ['put', 'file', 'ls', 'versions', 'rm', 'mv', 'shards', 'verify', 'repair']) expect(paths).toHaveProperty([`/v1/vault/${route}`])
    for (const route of ['status', 'ls', 'add', 'remove']) expect(paths).toHaveProperty([`/v1/storage/${route}`])
    expect(paths['/v1/vault/file'].get.responses['404'].content['application/json'].schema.properties.code.enum).toEqual(['NOT_FOUND'])
  })
})

describe('a twin that is not running', () => {
  it('says so plainly for every command that needs it', async () => {
    const t = await newTwin('sleeper')
    for (const args of [['send', t.id, 'x'], ['inbox'], ['outbox'], ['call', t.id, 'twin.ping'], ['status']]) {
      expectCleanFailure(await twin([...args, '--home', t.home]), /is not running \(start it with `twin start/)
    }
  })
})

describe('reliability', () => {
  it('delivers 1,000 messages sent while the recipient was stopped, exactly once and in order, with the relay killed in the middle of the drain', async () => {
    const port = await freePort()
    const relay = await startRelay('relay-1', port)
    const alice = await newTwin('alice-1')
    const bob = await newTwin('bob-1')
    const a = startTwin(alice.home, relay.address)
    let b = startTwin(bob.home, relay.address)
    await Promise.all([a.ready(), b.ready()])
    await api(alice.home, 'POST', '/v1/call', { to: bob.id, verb: 'twin.ping' }) // alice learns bob's record
    expect(await b.stop('SIGTERM')).toBe(0)
    expect(existsSync(join(bob.home, 'api.json'))).toBe(false)
    for (let i = 0; i < 1000; i++) await api(alice.home, 'POST', '/v1/messages', { to: bob.id, text: `m${i}` })
    await waitFor(async () => (await outboxOf(alice.home)).every(m => m.status === 'relayed'), 60_000, 'all 1000 left at the relay')

    // bob drains its mailbox while it starts, before its API is up: watch its database to kill
    // the relay as soon as bob has stored its first messages.
    const db = new Database(join(bob.home, 'twin.db'), { fileMustExist: true })
    const count = db.prepare('SELECT count(*) AS n FROM msg_inbox')
    b = startTwin(bob.home, relay.address)
    let storedAtKill: number
    try {
      storedAtKill = await waitFor(() => (count.get() as { n: number }).n, 60_000, 'bob storing its first messages', 2)
      expect(await relay.proc.stop('SIGKILL')).toBe(null)
    } finally {
      db.close()
    }
    // In the middle: bob had stored some messages, not all, and the relay had not heard of the
    // rest being stored. After its restart it pushes again what it still holds.
    expect(storedAtKill).toBeLessThan(1000)
    await startRelay('relay-1', port)
    await b.ready()

    const inbox = await waitFor(async () => { const m = await inboxOf(bob.home); return m.length >= 1000 ? m : undefined }, 90_000, '1000 messages at bob')
    // Arrival is the order bob's pipeline stored them in (not the inbox's sort order): every
    // message once, in sending order, numbered without a gap. A message stored twice, or one
    // stored out of order, would break the sequence.
    const byArrival = [...inbox].sort((x, y) => x.arrival - y.arrival)
    expect(byArrival.map(m => m.text)).toEqual(Array.from({ length: 1000 }, (_, i) => `m${i}`))
    expect(byArrival.map(m => m.arrival - (byArrival[0].arrival as number))).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    expect(byArrival.map(m => m.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    expect(new Set(inbox.map(m => m.id)).size).toBe(1000)
    await waitFor(async () => (await outboxOf(alice.home)).every(m => m.status === 'delivered'), 60_000, 'all delivered at alice')
    // A late push of what the relay held before it was killed must not be stored again.
    await new Promise(resolve => setTimeout(resolve, 1000))
    const after = await inboxOf(bob.home)
    expect(after.length).toBe(1000)
    expect(Math.max(...after.map(m => m.arrival))).toBe(byArrival[999].arrival)
  }, 240_000)

  it('loses and duplicates nothing when the relay is killed and restarted mid-stream, between twins that cannot reach each other directly', async () => {
    const port = await freePort()
    const relay = await startRelay('relay-2', port)
    const alice = await newTwin('alice-2')
    const bob = await newTwin('bob-2')
    // Each twin publishes a direct address nobody can dial, as behind a NAT: only the relay connects them.
    const unreachable = ['--announce', '/ip4/127.0.0.1/tcp/1']
    const a = startTwin(alice.home, relay.address, unreachable)
    const b = startTwin(bob.home, relay.address, unreachable)
    await Promise.all([a.ready(), b.ready()])
    const send = async (from: string, to: string, text: string): Promise<void> => { await api(from, 'POST', '/v1/messages', { to, text }) }
    for (let i = 0; i < 50; i++) await send(alice.home, bob.id, `a${i}`)
    await send(bob.home, alice.id, 'b0')
    expect(await relay.proc.stop('SIGKILL')).toBe(null)
    for (let i = 50; i < 100; i++) await send(alice.home, bob.id, `a${i}`)
    await startRelay('relay-2', port)
    for (let i = 100; i < 150; i++) await send(alice.home, bob.id, `a${i}`)
    await send(bob.home, alice.id, 'b1')
    const got = await waitFor(async () => { const m = await inboxOf(bob.home); return m.length >= 150 ? m : undefined }, 90_000, '150 messages at bob')
    expect(got.map(m => m.text)).toEqual(Array.from({ length: 150 }, (_, i) => `a${i}`))
    expect((await waitFor(async () => { const m = await inboxOf(alice.home); return m.length >= 2 ? m : undefined }, 60_000, 'bob\'s replies')).map(m => m.text)).toEqual(['b0', 'b1'])
    await waitFor(async () => (await outboxOf(alice.home)).every(m => m.status === 'delivered'), 60_000, 'all delivered')
    await new Promise(resolve => setTimeout(resolve, 1000))
    expect((await inboxOf(bob.home)).length).toBe(150)
  }, 240_000)

  it('delivers messages still queued when the sender was killed, after it restarts', async () => {
    const port = await freePort()
    let relay = await startRelay('relay-3', port)
    const alice = await newTwin('alice-3')
    const bob = await newTwin('bob-3')
    let a = startTwin(alice.home, relay.address)
    let b = startTwin(bob.home, relay.address)
    await Promise.all([a.ready(), b.ready()])
    await api(alice.home, 'POST', '/v1/call', { to: bob.id, verb: 'twin.ping' })
    await b.stop('SIGTERM')
    await relay.proc.stop('SIGTERM')
    for (let i = 0; i < 20; i++) await api(alice.home, 'POST', '/v1/messages', { to: bob.id, text: `q${i}` })
    expect((await outboxOf(alice.home)).every(m => m.status === 'queued')).toBe(true)
    await a.stop('SIGKILL')
    relay = await startRelay('relay-3', port)
    b = startTwin(bob.home, relay.address)
    await b.ready()
    a = startTwin(alice.home, relay.address)
    await a.ready()
    const got = await waitFor(async () => { const m = await inboxOf(bob.home); return m.length >= 20 ? m : undefined }, 60_000, '20 messages at bob')
    expect(got.map(m => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `q${i}`))
    await waitFor(async () => (await outboxOf(alice.home)).every(m => m.status === 'delivered'), 60_000, 'all delivered')
  }, 180_000)

  it('fails a request to a twin that never answers at its deadline', async () => {
    const relay = (await startRelay('relay-6')).address
    const alice = await newTwin('alice-6')
    const bob = await newTwin('bob-6')
    const a = startTwin(alice.home, relay)
    const b = startTwin(bob.home, relay)
    await Promise.all([a.ready(), b.ready()])
    await api(alice.home, 'POST', '/v1/call', { to: bob.id, verb: 'twin.ping' })
    await b.stop('SIGKILL')
    const started = Date.now()
    const r = await twin(['call', bob.id, 'twin.ping', '--timeout', '2000', '--home', alice.home])
    expectCleanFailure(r, /no response to twin\.ping within 2000 ms/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000)
  }, 60_000)

  it('restores a rotated twin\'s keys with the log fetched through a relay', async () => {
    const relay = (await startRelay('relay-r')).address
    const carol = await newTwin('carol-r')
    await twinJson(['rotate', '--phrase-file', `${carol.home}.phrase`, '--home', carol.home])
    const c = startTwin(carol.home, relay)
    await c.ready()
    const current = await twinJson(['id', '--home', carol.home])
    await c.stop('SIGTERM')
    const r = await twin(['restore', '--phrase-file', `${carol.home}.phrase`, '--bootstrap', relay, '--home', at('carol-restored'), '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ id: carol.id, sequence: 1, kel: true })
    expect(await twinJson(['id', '--home', at('carol-restored')])).toEqual(current)
  }, 60_000)
})
