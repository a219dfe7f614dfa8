import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from './helpers.js'
import { labUnavailable, makeLink, type Link } from '../lab/netlab.js'
import { api, Procs, waitFor } from './processes.js'
import { execFileSync } from 'node:child_process'

// A storage node behind a slow uplink, on a real network stack: the node runs in its own network
// namespace, and what the twin sends it crosses a 1 Mbit/s token bucket with a 400 ms queue, as
// a home uplink does. Shards then wait in queues for many seconds, and so does anything else on
// the same connection, such as a keep-alive ping.
const tmp = tempDir('twin-slow-link-')
const procs = new Procs()
let link: Link
const at = (...p: string[]): string => join(tmp.path, ...p)
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')
let alice: string
const unavailable = labUnavailable()
if (unavailable !== undefined) console.warn(`slow-link tests skipped: ${unavailable}`)

beforeAll(async () => {
  if (unavailable !== undefined) return
  link = makeLink({ uplinkKbit: 1000, queueMs: 400 })
  const relay = (await procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/127.0.0.1/tcp/0']).ready()).addresses[0]
  alice = at('alice')
  await twinJson(['init', '--home', alice, '--name', 'alice'])
  await procs.spawn(['start', '--home', alice, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0']).ready()
  const node = await procs.spawn(['storage-node', '--open', '--home', at('node'), '--dir', at('node', 'shards'), '--listen', `/ip4/${link.nsIp}/tcp/0`], {}, link.ns).ready()
  const address = (node.addresses as string[]).find(a => a.includes(link.nsIp))
  expect(address).toBeDefined()
  await twinJson(['storage', 'add', address!, '--home', alice])
}, 120_000)

afterAll(async () => {
  await procs.stopAll()
  link?.remove()
  tmp.cleanup()
})

describe.skipIf(unavailable !== undefined)('a storage node behind a 1 Mbit/s uplink', () => {
  it('takes a 3 MiB put that keeps the link busy for half a minute, and gives it back byte for byte', async () => {
    writeFileSync(at('big.bin'), randomBytes(3 * 1024 * 1024))
    const put = await twinJson(['put', at('big.bin'), '--as', '/big.bin', '--home', alice], { timeoutMs: 240_000 })
    expect(put.size).toBe(3 * 1024 * 1024)
    await twinJson(['get', '/big.bin', '-o', at('back.bin'), '--home', alice], { timeoutMs: 120_000 })
    expect(sha(at('back.bin'))).toBe(sha(at('big.bin')))
  }, 300_000)

  it('drops the connection once the link goes silent, and reads from the node again when the link is back', async () => {
    const connections = async (): Promise<number> => (await api(alice, 'GET', '/v1/status')).connections
    const before = await connections()
    expect(before).toBeGreaterThanOrEqual(2) // the relay and the node
    // The node's side of the link goes down: nothing is refused or reset, packets just vanish.
    execFileSync('ip', ['-n', link.ns, 'link', 'set', link.inner, 'down'])
    // A keep-alive ping every 10 s with 10 s to answer: the dead connection goes within about 20 s.
    await waitFor(async () => (await connections()) === before - 1, 60_000, 'the dead connection to be dropped', 500)
    execFileSync('ip', ['-n', link.ns, 'link', 'set', link.inner, 'up'])
    await twinJson(['get', '/big.bin', '-o', at('again.bin'), '--home', alice], { timeoutMs: 120_000 })
    expect(sha(at('again.bin'))).toBe(sha(at('big.bin')))
  }, 180_000)
})

