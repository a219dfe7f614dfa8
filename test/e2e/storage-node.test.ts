import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from './helpers.js'
import { Procs } from './processes.js'
import { backendSuite } from '../unit/backend-suite.js'
import { createDocument, createIdentity, generatePhrase } from '../../src/identity/index.js'
import { createClientNode, createTwinNode, peerKeyFromSigningSeed, stopNode, type TwinLibp2p } from '../../src/net/node.js'
import { encodeRecord } from '../../src/net/record.js'
import { StorageNodeBackend } from '../../src/storage/client.js'
import { BackendError } from '../../src/vault/backend.js'
import { merkleRoot } from '../../src/vault/merkle.js'

// The storage node process, reached over libp2p the way a twin reaches it.
const tmp = tempDir('twin-sn-')
const procs = new Procs()
const libp2pNodes: TwinLibp2p[] = []
afterAll(async () => {
  for (const n of libp2pNodes) await stopNode(n)
  await procs.stopAll()
  tmp.cleanup()
})

async function storageNode (name: string, quota: string): Promise<string> {
  const ready = await procs.spawn(['storage-node', '--home', join(tmp.path, name), '--quota', quota, '--listen', '/ip4/127.0.0.1/tcp/0']).ready()
  return ready.addresses[0]
}

/** A twin as a storage node sees it: its libp2p node and its record naming that node's peer. */
async function twinClient (): Promise<{ node: TwinLibp2p, record: Uint8Array }> {
  const made = createIdentity(generatePhrase())
  const node = await createTwinNode({ privateKey: await peerKeyFromSigningSeed(made.current.signing), listen: [], relays: [] })
  libp2pNodes.push(node)
  const doc = createDocument(made.state, made.current.signing, { name: 't', peer: node.peerId.toString(), addrs: [], relays: [] })
  return { node, record: encodeRecord(made.events, doc) }
}

let address: string
beforeAll(async () => { address = await storageNode('sn', '64MiB') }, 60_000)

backendSuite('storage node', async () => {
  const t = await twinClient()
  const backend = new StorageNodeBackend(t.node, address, () => t.record)
  return { backend, teardown: async () => { backend.close() } }
})

describe('storage node access', () => {
  it('keeps each twin\'s shards apart: another twin can neither read, list nor delete them', async () => {
    const a = await twinClient()
    const b = await twinClient()
    const alice = new StorageNodeBackend(a.node, address, () => a.record)
    const bob = new StorageNodeBackend(b.node, address, () => b.record)
    const data = new Uint8Array(randomBytes(5000))
    const addr = merkleRoot(data)
    await alice.put(addr, data)
    expect(await bob.get(addr)).toBeUndefined()
    expect((await bob.list()).length).toBe(0)
    await bob.delete(addr)
    expect(await alice.get(addr)).toEqual(data)
  })

  it('refuses a twin record presented from another peer than the one it names', async () => {
    const a = await twinClient()
    const thief = await createClientNode()
    libp2pNodes.push(thief)
    const impostor = new StorageNodeBackend(thief, address, () => a.record)
    const err = await impostor.stat().catch(e => e)
    expect(err).toBeInstanceOf(BackendError)
    expect(err.message).toMatch(/names another peer/)
  })

  it('refuses shards over the owner\'s quota with a clear error', async () => {
    const small = await storageNode('small', '1MiB')
    const a = await twinClient()
    const backend = new StorageNodeBackend(a.node, small, () => a.record)
    const first = new Uint8Array(randomBytes(700 * 1024))
    await backend.put(merkleRoot(first), first)
    const second = new Uint8Array(randomBytes(700 * 1024))
    const err = await backend.put(merkleRoot(second), second).catch(e => e)
    expect(err).toBeInstanceOf(BackendError)
    expect(err.reason).toBe('over-quota')
    expect(err.message).toMatch(/full/)
  }, 60_000)
})
