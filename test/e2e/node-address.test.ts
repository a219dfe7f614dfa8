import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from './helpers.js'
import { labUnavailable, makeLink, type Link } from '../lab/netlab.js'
import { freePort, Procs, type Proc } from './processes.js'

// A storage node reached at an address it does not announce, as behind a port forward or a 1:1
// NAT (a cloud machine): it lives in its own network namespace and announces an address nobody
// can reach; the twin is given the one that works.
const tmp = tempDir('twin-node-address-')
const procs = new Procs()
let link: Link
const at = (...p: string[]): string => join(tmp.path, ...p)
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')
const unavailable = labUnavailable()
if (unavailable !== undefined) console.warn(`node address tests skipped: ${unavailable}`)
let alice: string
let port: number
let node: Proc

async function startNode (): Promise<{ peerId: string }> {
  node = procs.spawn(['storage-node', '--open', '--home', at('node'), '--dir', at('node', 'shards'), '--listen', `/ip4/0.0.0.0/tcp/${port}`, '--announce', `/ip4/198.51.100.1/tcp/${port}`], {}, link.ns)
  return await node.ready()
}

beforeAll(async () => {
  if (unavailable !== undefined) return
  link = makeLink()
  // The announced address leads into the namespace, which does not forward: packets to it vanish
  // without an answer, as they do at a firewall that drops them.
  execFileSync('ip', ['route', 'add', '198.51.100.0/24', 'via', link.nsIp])
  port = await freePort()
  const relay = (await procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/127.0.0.1/tcp/0']).ready()).addresses[0]
  alice = at('alice')
  await twinJson(['init', '--home', alice, '--name', 'alice'])
  await procs.spawn(['start', '--home', alice, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0']).ready()
}, 120_000)

afterAll(async () => {
  await procs.stopAll()
  try { execFileSync('ip', ['route', 'del', '198.51.100.0/24']) } catch { /* never added */ }
  link?.remove()
  tmp.cleanup()
})

describe.skipIf(unavailable !== undefined)('a storage node at an address it does not announce', () => {
  it('is added at the address given, and still read from there after it restarts', async () => {
    const { peerId } = await startNode()
    await twinJson(['storage', 'add', `/ip4/${link.nsIp}/tcp/${port}/p2p/${peerId}`, '--home', alice])
    writeFileSync(at('f.bin'), randomBytes(500_000))
    await twinJson(['put', at('f.bin'), '--as', '/f.bin', '--home', alice])
    await node.stop('SIGTERM')
    await startNode()
    await twinJson(['get', '/f.bin', '-o', at('back.bin'), '--home', alice], { timeoutMs: 60_000 })
    expect(sha(at('back.bin'))).toBe(sha(at('f.bin')))
  }, 120_000)
})
