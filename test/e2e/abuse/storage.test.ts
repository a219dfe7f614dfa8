import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { expectCleanFailure, tempDir, twin, twinJson } from '../helpers.js'
import { Procs, waitFor, type Proc } from '../processes.js'
import { nodeBackend, twinClient, type TwinClient } from '../storage-clients.js'
import { createClientNode, createTwinNode, peerKeyFromSigningSeed, stopNode, type TwinLibp2p } from '../../../src/net/node.js'
import { decodeRecord } from '../../../src/net/record.js'
import { RelayClient } from '../../../src/relay/client.js'
import { derivePurposeKey, phraseToSeed } from '../../../src/identity/index.js'
import { VaultKeys } from '../../../src/vault/crypto.js'
import { openLocator } from '../../../src/vault/locator.js'
import { FrameStream } from '../../../src/net/frames.js'
import { MAX_STORAGE_FRAME, STORAGE_PROTOCOL } from '../../../src/storage/service.js'
import { parseInvite } from '../../../src/storage/invite.js'
import { BackendError } from '../../../src/shards/errors.js'
import { merkleRoot } from '../../../src/shards/merkle.js'
import { pool } from '../../../src/vault/vault.js'

// Storage nodes at the edge of the network, through bin/twin and real processes: who may
// store (admission), how much (quota), and whether a node that moved is found again.

/** Fresh identities that try to store on a node that admitted none of them (the count). */
const STRANGERS = 8
/** Strangers dialing at once: all come from 127.0.0.1 here, and a node takes 8 handshakes per address at a time (src/net/limits.ts). */
const STRANGERS_AT_ONCE = 4
/** Parallel puts from one admitted twin and their size: ten times its 1 MiB quota in all. */
const PARALLEL_PUTS = 40
const SHARD_BYTES = 256 * 1024
const QUOTA_BYTES = 1024 * 1024
/** Streams one connection may open to the storage protocol (the node's limit), and connections of the same twin: the puts arrive on all of them at once. */
const STREAMS_PER_CONNECTION = 4
const CONNECTIONS = 2
/** A node that moved must be online again within this (the bound issue 7 sets). */
const FOUND_AGAIN_MS = 30_000

const tmp = tempDir('twin-abuse-storage-')
const procs = new Procs()
const libp2pNodes: TwinLibp2p[] = []
afterAll(async () => {
  for (const n of libp2pNodes) await stopNode(n)
  await procs.stopAll()
  tmp.cleanup()
})
const at = (...p: string[]): string => join(tmp.path, ...p)
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

interface Node { name: string, proc: Proc, address: string, peer: string, home: string, dir: string }
async function startNode (name: string, args: string[] = []): Promise<Node> {
  const home = at(name)
  const proc = procs.spawn(['storage-node', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0', ...args])
  const ready = await proc.ready()
  return { name, proc, address: ready.addresses[0], peer: ready.peerId, home, dir: join(home, 'shards') }
}

/** Bytes of shard files a node holds for one twin (a missing folder holds none). */
function diskBytes (node: Node, owner: string): number {
  let n = 0
  const walk = (d: string): void => {
    let entries: string[]
    try { entries = readdirSync(d) } catch { return }
    for (const e of entries) {
      const p = join(d, e)
      if (statSync(p).isDirectory()) walk(p)
      else if (/^[0-9a-f]{64}$/.test(e)) n += statSync(p).size
    }
  }
  walk(join(node.dir, owner))
  return n
}

const clients = async (node: Node): Promise<any> => await twinJson(['storage-node', 'clients', '--home', node.home])
const invite = async (node: Node, ...args: string[]): Promise<any> => await twinJson(['storage-node', 'invite', '--home', node.home, ...args])

/** Stops using every storage node (their shards stay readable), so that a node added next holds the new files alone. */
async function onlyLocal (home: string): Promise<void> {
  for (const p of (await twinJson(['storage', 'ls', '--home', home])).peers) {
    if (p.kind === 'node') await twinJson(['storage', 'remove', p.id, '--home', home])
  }
}

/** A storage-protocol stream of a twin's own libp2p node, to speak to a node frame by frame. */
async function session (node: TwinLibp2p, address: string): Promise<FrameStream> {
  return new FrameStream(await node.dialProtocol(multiaddr(address), STORAGE_PROTOCOL), MAX_STORAGE_FRAME)
}

let relay: string
interface Twin { id: string, home: string, phrase: string, proc: Proc }
let alice: Twin
let bob: Twin
let closed: Node // admits only allowed and invited twins
let invited: Node // gives out invites
let open: Node // --open, 1 MiB each
let moving: Node // --bootstrap the relay, restarts on another port
let natted: Node // reachable only through the relay

async function startTwin (name: string): Promise<Twin> {
  const home = at(name)
  const made = await twinJson(['init', '--home', home, '--name', name])
  return { id: made.id, home, phrase: made.phrase, proc: await runTwin(home) }
}

async function runTwin (home: string): Promise<Proc> {
  const proc = procs.spawn(['start', '--home', home, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0'])
  await proc.ready()
  return proc
}

beforeAll(async () => {
  relay = (await procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/127.0.0.1/tcp/0']).ready()).addresses[0]
  ;[closed, invited, open, moving, natted, alice, bob] = await Promise.all([
    startNode('closed', ['--quota', '4MiB']),
    startNode('invited'),
    startNode('open', ['--open', '--quota', '1MiB']),
    startNode('moving', ['--bootstrap', relay]),
    // Announces an address nobody can dial, as a node behind a NAT would have none.
    startNode('natted', ['--bootstrap', relay, '--announce', '/ip4/127.0.0.1/tcp/1']),
    startTwin('alice'),
    startTwin('bob')
  ])
}, 120_000)

describe('a storage node serves only the twins its operator admitted', () => {
  it('refuses a stranger\'s hello and put, for one fresh identity and for eight, and writes nothing', async () => {
    const strangers = await Promise.all(Array.from({ length: 1 + STRANGERS }, async () => await twinClient(libp2pNodes)))
    await pool(strangers, STRANGERS_AT_ONCE, async s => {
      const frames = await session(s.node, closed.address)
      const data = new Uint8Array(randomBytes(16 * 1024))
      await frames.write({ op: 'hello', rec: s.record })
      await frames.write({ op: 'put', addr: merkleRoot(data), data })
      expect(await frames.read()).toMatchObject({ err: 'not-admitted' })
      expect(await frames.read()).toMatchObject({ err: 'rejected', msg: expect.stringMatching(/say hello/) })
      frames.abort()
      // The way a twin's vault would try: refused with what the operator must run.
      const err = await nodeBackend(s, closed.address).put(merkleRoot(data), data).catch(e => e)
      expect(err).toBeInstanceOf(BackendError)
      expect(err.reason).toBe('not-admitted')
      expect(err.message).toContain(`twin storage-node allow ${s.id}`)
    })
    expect(readdirSync(closed.dir)).toEqual([])
    expect((await clients(closed)).clients).toEqual([])
  })

  it('refuses `storage add` with one line naming the command; after `allow` the same add works; after `deny` the twin is refused while the node runs on', async () => {
    expectCleanFailure(await twin(['storage', 'add', closed.address, '--home', alice.home]), new RegExp(`has not admitted this twin: its operator must run \`twin storage-node allow ${alice.id}\``))
    expectCleanFailure(await twin(['storage-node', 'allow', alice.id, '--quota', '1000TiB', '--home', closed.home]), /larger than the disk/)
    expect(await twinJson(['storage-node', 'allow', alice.id, '--home', closed.home])).toMatchObject({ id: alice.id, state: 'admitted', admitted: 'allow', quota: 4 * 1024 * 1024 })
    expect(await twinJson(['storage', 'add', closed.address, '--home', alice.home])).toMatchObject({ id: closed.peer })
    writeFileSync(at('a.txt'), randomBytes(10_000))
    await twinJson(['put', at('a.txt'), '--home', alice.home])
    // Usage as the node counts it is what its disk holds for alice (the index snapshot lands a second later).
    await waitFor(async () => {
      const c = (await clients(closed)).clients.find((x: any) => x.id === alice.id)
      return c.used > 10_000 && c.used === diskBytes(closed, alice.id)
    }, 20_000, 'the node to count alice\'s shards')

    await twinJson(['storage-node', 'deny', alice.id, '--home', closed.home])
    const status = await twinJson(['storage', 'status', '--home', alice.home])
    expect(status.peers.find((p: any) => p.id === closed.peer)).toMatchObject({ online: false, problem: expect.stringMatching(/refused this twin/) })
    expect((await twin(['get', '/a.txt', '-o', at('a-back.txt'), '--home', alice.home])).code).not.toBe(0)
    expect(closed.proc.child.exitCode).toBe(null)
    expect(diskBytes(closed, alice.id)).toBeGreaterThan(10_000) // denied, not deleted
    expect((await clients(closed)).clients.find((x: any) => x.id === alice.id)).toMatchObject({ state: 'denied' })
  }, 60_000)

  it('admits the first twin that redeems an invite, with the invite\'s quota, and no other', async () => {
    const inv = await invite(invited, '--quota', '2MiB')
    expect(inv).toMatchObject({ peerId: invited.peer, quota: 2 * 1024 * 1024, addresses: [invited.address] })
    expect(await twinJson(['storage', 'add', inv.token, '--home', bob.home])).toMatchObject({ id: invited.peer })
    expectCleanFailure(await twin(['storage', 'add', inv.token, '--home', alice.home]), /refused the invite: another twin already used it/)
    writeFileSync(at('b.bin'), randomBytes(100_000))
    await twinJson(['put', at('b.bin'), '--home', bob.home])
    const view = await waitFor(async () => {
      const r = await clients(invited)
      const c = r.clients.find((x: any) => x.id === bob.id)
      return c.used > 100_000 && c.used === diskBytes(invited, bob.id) ? r : undefined
    }, 20_000, 'the node to count bob\'s shards')
    expect(view.clients).toHaveLength(1)
    expect(view.clients[0]).toMatchObject({ id: bob.id, state: 'admitted', admitted: 'invite', quota: 2 * 1024 * 1024 })
  }, 60_000)

  it('refuses an expired invite, at the twin and at the node', async () => {
    const inv = await invite(invited, '--expires', '1s')
    await new Promise(resolve => setTimeout(resolve, Math.max(0, Date.parse(inv.expires) - Date.now()) + 100))
    expectCleanFailure(await twin(['storage', 'add', inv.token, '--home', alice.home]), /this invite expired/)
    // A twin that skips its own check meets the node's.
    const s = await twinClient(libp2pNodes)
    const err = await nodeBackend(s, invited.address, parseInvite(inv.token).secret).stat().catch(e => e)
    expect(err).toBeInstanceOf(BackendError)
    expect(err.message).toMatch(/refused the invite: it expired/)
    expect((await clients(invited)).clients.map((c: any) => c.id)).toEqual([bob.id])
  })

  it('admits every twin on an --open node, each with that quota', async () => {
    const s = await twinClient(libp2pNodes)
    const backend = nodeBackend(s, open.address)
    expect(await backend.stat()).toEqual({ used: 0, quota: QUOTA_BYTES })
    const first = new Uint8Array(randomBytes(700 * 1024))
    await backend.put(merkleRoot(first), first)
    const second = new Uint8Array(randomBytes(700 * 1024))
    expect(await backend.put(merkleRoot(second), second).catch(e => e.reason)).toBe('over-quota')
    backend.close()
    expect((await clients(open)).clients).toEqual([expect.objectContaining({ id: s.id, admitted: 'open', quota: QUOTA_BYTES, used: 700 * 1024 })])
  })
})

describe('a quota is a limit', () => {
  it(`accepts at most the quota from ${PARALLEL_PUTS} parallel ${SHARD_BYTES / 1024} KiB puts of one twin over several streams`, async () => {
    const t: TwinClient = await twinClient(libp2pNodes)
    // Its own quota, below the node's default.
    await twinJson(['storage-node', 'allow', t.id, '--quota', '1MiB', '--home', closed.home])
    const nodes = [t.node]
    for (let i = 1; i < CONNECTIONS; i++) {
      const twinNode = await createTwinNode({ privateKey: await peerKeyFromSigningSeed(t.signing), listen: [], relays: [] })
      libp2pNodes.push(twinNode)
      nodes.push(twinNode)
    }
    const streams: FrameStream[] = []
    for (const n of nodes) {
      for (let i = 0; i < STREAMS_PER_CONNECTION; i++) streams.push(await session(n, closed.address))
    }
    await Promise.all(streams.map(async s => {
      await s.write({ op: 'hello', rec: t.record })
      expect(await s.read()).toMatchObject({ ok: true, quota: QUOTA_BYTES })
    }))
    const shards = Array.from({ length: PARALLEL_PUTS }, () => new Uint8Array(randomBytes(SHARD_BYTES)))
    // Every stream writes its share of the puts at once, then reads the answers in order.
    const replies = (await Promise.all(streams.map(async (s, i) => {
      const mine = shards.filter((_, j) => j % streams.length === i)
      await Promise.all(mine.map(async data => { await s.write({ op: 'put', addr: merkleRoot(data), data }) }))
      const out: any[] = []
      for (let k = 0; k < mine.length; k++) out.push(await s.read())
      return out
    }))).flat()
    const accepted = replies.filter(r => r.ok === true).length
    expect(replies.filter(r => r.ok !== true).every(r => r.err === 'over-quota')).toBe(true)
    expect(accepted * SHARD_BYTES).toBeLessThanOrEqual(QUOTA_BYTES)
    expect(accepted).toBe(QUOTA_BYTES / SHARD_BYTES) // the whole quota is usable, and no more
    expect(diskBytes(closed, t.id)).toBe(accepted * SHARD_BYTES)
    expect((await clients(closed)).clients.find((c: any) => c.id === t.id)).toMatchObject({ used: accepted * SHARD_BYTES, quota: QUOTA_BYTES })
    for (const s of streams) s.abort()
  }, 60_000)
})

describe('storage nodes are found by peer id', () => {
  it('finds a node again after it restarts on another port, and reads its shards, also after the twin restarted too', async () => {
    const inv = await invite(moving)
    expect(inv.addresses.some((a: string) => a.includes('/p2p-circuit'))).toBe(true)
    // Bob's vault moves to this node alone, so reading the new file needs it.
    await onlyLocal(bob.home)
    await twinJson(['storage', 'add', inv.token, '--home', bob.home])
    writeFileSync(at('m.bin'), randomBytes(300_000))
    await twinJson(['put', at('m.bin'), '--home', bob.home])
    const online = async (): Promise<any> => await waitFor(async () => {
      const p = (await twinJson(['storage', 'status', '--home', bob.home])).peers.find((x: any) => x.id === moving.peer)
      return p?.online === true ? p : undefined
    }, FOUND_AGAIN_MS, 'the moved node to be online again')
    const readBack = async (): Promise<void> => {
      const v = await twinJson(['verify', '--home', bob.home])
      expect(v).toMatchObject({ missing: 0, corrupt: 0 })
      expect(v.ok).toBe(v.checked)
      rmSync(at('m-back.bin'), { force: true })
      await twinJson(['get', '/m.bin', '-o', at('m-back.bin'), '--home', bob.home])
      expect(sha(at('m-back.bin'))).toBe(sha(at('m.bin')))
    }

    // The node moves while bob runs.
    const first = moving.address
    await moving.proc.stop('SIGTERM')
    moving = await startNode('moving', ['--bootstrap', relay])
    expect(moving.address).not.toBe(first)
    expect((await online()).address).not.toBe(first)
    await readBack()

    // It moves again while bob is stopped: bob knows only what its vault remembered.
    const second = moving.address
    await bob.proc.stop('SIGTERM')
    await moving.proc.stop('SIGTERM')
    moving = await startNode('moving', ['--bootstrap', relay])
    expect(moving.address).not.toBe(second)
    bob.proc = await runTwin(bob.home)
    expect((await online()).address).not.toBe(second)
    await readBack()
  }, 120_000)

  it('adds, stores on and reads from a node reachable only through the relay', async () => {
    const inv = await invite(natted)
    expect(inv.addresses).toContain(`/ip4/127.0.0.1/tcp/1/p2p/${natted.peer}`)
    expect(inv.addresses.some((a: string) => a.includes('/p2p-circuit'))).toBe(true)
    await onlyLocal(alice.home)
    await twinJson(['storage', 'add', inv.token, '--home', alice.home])
    writeFileSync(at('n.bin'), randomBytes(300_000))
    await twinJson(['put', at('n.bin'), '--home', alice.home])
    await twinJson(['get', '/n.bin', '-o', at('n-back.bin'), '--home', alice.home])
    expect(sha(at('n-back.bin'))).toBe(sha(at('n.bin')))
    const peer = (await twinJson(['storage', 'status', '--home', alice.home])).peers.find((x: any) => x.id === natted.peer)
    expect(peer).toMatchObject({ online: true, address: expect.stringContaining('/p2p-circuit') })
    // `twin status` says so: the connection to the node goes through the relay.
    const links = (await twinJson(['status', '--home', alice.home])).links
    expect(links).toContainEqual(expect.objectContaining({ peer: natted.peer, path: 'relayed', address: expect.stringContaining('/p2p-circuit') }))
    expect(diskBytes(natted, alice.id)).toBeGreaterThan(300_000)
  }, 60_000)
})

describe('what others learn about a twin\'s vault', () => {
  it('neither the relay\'s registry nor a storage node\'s root names the twin\'s storage nodes in clear; the owner\'s phrase opens the list', async () => {
    await twinJson(['storage', 'add', open.address, '--home', alice.home])
    await twinJson(['storage', 'add', (await invite(invited)).token, '--home', alice.home])
    const holders = [open, invited]
    // The index snapshot and its root go to every node a second after the change.
    const roots = await waitFor(() => {
      try { return holders.map(n => readFileSync(join(n.dir, alice.id, 'root'))) } catch { return undefined }
    }, 20_000, 'alice\'s root on both nodes')
    for (const root of roots) for (const n of holders) expect(root.includes(n.peer)).toBe(false)

    // An anonymous peer asks the relay for alice's record.
    const stranger = await createClientNode()
    libp2pNodes.push(stranger)
    const registry = new RelayClient(stranger, relay)
    const keys = new VaultKeys(derivePurposeKey(phraseToSeed(alice.phrase), 'twin/v1/vault'))
    const record = await waitFor(async () => {
      const bytes = await registry.lookup(alice.id)
      const r = bytes === undefined ? undefined : decodeRecord(bytes, alice.id)
      const sealed = r?.doc.vault
      return sealed instanceof Uint8Array && openLocator(keys, alice.id, sealed).length >= 2 ? { bytes: bytes as Uint8Array, r: r as NonNullable<typeof r> } : undefined
    }, 20_000, 'alice\'s record with both storage nodes')
    registry.stop()
    expect(record.r.doc.storage).toBeUndefined()
    for (const n of holders) expect(Buffer.from(record.bytes).includes(n.peer)).toBe(false)
    const located = openLocator(keys, alice.id, record.r.doc.vault as Uint8Array).map(n => n.peer)
    expect(located).toEqual(expect.arrayContaining(holders.map(n => n.peer)))
  }, 60_000)
})
