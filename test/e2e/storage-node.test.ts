import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from './helpers.js'
import { Procs } from './processes.js'
import { backendSuite } from '../unit/backend-suite.js'
import { createClientNode, stopNode, type TwinLibp2p } from '../../src/net/node.js'
import { BackendError } from '../../src/shards/errors.js'
import { nodeBackend, twinClient as newTwinClient, type TwinClient } from './storage-clients.js'
import { merkleRoot } from '../../src/shards/merkle.js'

// The storage node process, reached over libp2p the way a twin reaches it.
const tmp = tempDir('twin-sn-')
const procs = new Procs()
const libp2pNodes: TwinLibp2p[] = []
afterAll(async () => {
  for (const n of libp2pNodes) await stopNode(n)
  await procs.stopAll()
  tmp.cleanup()
})

// Open nodes: admission is not the point here (test/e2e/abuse/storage.test.ts is about it).
async function storageNode (name: string, quota: string): Promise<string> {
  const ready = await procs.spawn(['storage-node', '--open', '--home', join(tmp.path, name), '--quota', quota, '--listen', '/ip4/127.0.0.1/tcp/0']).ready()
  return ready.addresses[0]
}

const twinClient = async (): Promise<TwinClient> => await newTwinClient(libp2pNodes)

let address: string
beforeAll(async () => { address = await storageNode('sn', '64MiB') }, 60_000)

backendSuite('storage node', async () => {
  const t = await twinClient()
  const backend = nodeBackend(t, address)
  return { backend, teardown: async () => { backend.close() } }
})

describe('storage node access', () => {
  it('keeps each twin\'s shards apart: another twin can neither read, list nor delete them', async () => {
    const a = await twinClient()
    const b = await twinClient()
    const alice = nodeBackend(a, address)
    const bob = nodeBackend(b, address)
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
    const impostor = nodeBackend({ ...a, node: thief }, address)
    const err = await impostor.stat().catch(e => e)
    expect(err).toBeInstanceOf(BackendError)
    expect(err.message).toMatch(/names another peer/)
  })

  it('refuses shards over the owner\'s quota with a clear error', async () => {
    const small = await storageNode('small', '1MiB')
    const a = await twinClient()
    const backend = nodeBackend(a, small)
    const first = new Uint8Array(randomBytes(700 * 1024))
    await backend.put(merkleRoot(first), first)
    const second = new Uint8Array(randomBytes(700 * 1024))
    const err = await backend.put(merkleRoot(second), second).catch(e => e)
    expect(err).toBeInstanceOf(BackendError)
    expect(err.reason).toBe('over-quota')
    expect(err.message).toMatch(/full/)
  }, 60_000)
})
