import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from './helpers.js'
import { makeNatLab, natLabUnavailable, type NatLab, type NatLabOptions } from '../lab/netlab.js'
import { Procs, waitFor } from './processes.js'

// The home-network lab of nat.test.ts in the harder conditions: a lossy, slow internet
// (20 ms and 1% loss on every public link, by the user-space link emulator), a 1 Mbit/s home
// uplink, and routers that map every connection to a new port (symmetric NAT), which no hole
// punching gets through. Each condition has its own lab, removed when its tests end.
const tmp = tempDir('twin-nat-conditions-')
const procs = new Procs()
const labs: NatLab[] = []
const unavailable = natLabUnavailable()
if (unavailable !== undefined) console.warn(`NAT condition tests skipped: ${unavailable}`)
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

afterAll(async () => {
  await procs.stopAll()
  for (const lab of labs) lab.remove()
  tmp.cleanup()
})

interface Twin { home: string, ns: string, id: string, peerId: string }

/** A lab with a relay, alice in the first home and bob in the second, and optionally a storage node in bob's home added by alice. */
async function homes (name: string, options: NatLabOptions, withNode = false): Promise<{ lab: NatLab, alice: Twin, bob: Twin, node?: string }> {
  const lab = await makeNatLab(options)
  labs.push(lab)
  const at = (...p: string[]): string => join(tmp.path, name, ...p)
  const range = ['--public-range', lab.publicRange]
  const relay = (await procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/0.0.0.0/tcp/4001', ...range], {}, lab.relay.ns).ready()).addresses[0] as string
  const twins: Twin[] = []
  for (const [i, who] of ['alice', 'bob'].entries()) {
    const home = at(who)
    const { id } = await twinJson(['init', '--home', home, '--name', who])
    const ns = lab.homes[i]!.ns
    const ready = await procs.spawn(['start', '--home', home, '--bootstrap', relay, ...range], {}, ns).ready()
    twins.push({ home, ns, id, peerId: ready.peerId })
  }
  const [alice, bob] = twins as [Twin, Twin]
  if (!withNode) return { lab, alice, bob }
  const node = await procs.spawn(['storage-node', '--home', at('node'), '--dir', at('node', 'shards'), '--bootstrap', relay, ...range], {}, bob.ns).ready()
  const invite = await twinJson(['storage-node', 'invite', '--home', at('node')], { netns: bob.ns })
  await twinJson(['storage', 'add', invite.token, '--home', alice.home], { netns: alice.ns })
  return { lab, alice, bob, node: node.peerId }
}

const status = async (t: Twin): Promise<any> => await twinJson(['status', '--home', t.home], { netns: t.ns })

/** Alice stores `mib` MiB of random bytes and reads them back; the same bytes must come back. */
async function putAndGet (name: string, alice: Twin, mib: number, timeoutMs: number): Promise<void> {
  const file = join(tmp.path, name, 'file.bin')
  writeFileSync(file, randomBytes(mib * 1024 * 1024))
  const put = await twinJson(['put', file, '--as', '/file.bin', '--home', alice.home], { netns: alice.ns, timeoutMs })
  expect(put.size).toBe(mib * 1024 * 1024)
  await twinJson(['get', '/file.bin', '-o', `${file}.back`, '--home', alice.home], { netns: alice.ns, timeoutMs })
  expect(sha(`${file}.back`)).toBe(sha(file))
}

describe.skipIf(unavailable !== undefined)('behind two NATs, with 20 ms and 1% loss on every public link (80 ms round trips, 2% loss)', () => {
  let net: Awaited<ReturnType<typeof homes>>

  it('two twins end with a direct connection within 30 s of their first call', async () => {
    net = await homes('lossy', { linkDelayMs: 20, linkLoss: 0.01 }, true)
    const r = await twinJson(['call', net.bob.id, 'twin.ping', '--home', net.alice.home], { netns: net.alice.ns })
    expect(r.response).toMatchObject({ pong: true })
    await waitFor(async () => ((await status(net.alice)).links as Array<{ peer: string, path: string }>).some(l => l.peer === net.bob.peerId && l.path === 'direct'), 30_000, 'a direct connection to bob')
  }, 180_000)

  it('a put of 20 MiB to a storage node behind the other NAT completes and reads back', async () => {
    await putAndGet('lossy', net.alice, 20, 240_000)
  }, 300_000)
})

describe.skipIf(unavailable !== undefined)('behind NAT with a 1 Mbit/s uplink', () => {
  // Only alice's home is slow: the put crosses her uplink (about three minutes for 20 MiB), the
  // get comes back through the node's, which is not limited.
  it('a put of 20 MiB to a storage node behind the other NAT completes and reads back', async () => {
    const { alice } = await homes('slow', { uplinkKbit: [1000, undefined] }, true)
    await putAndGet('slow', alice, 20, 420_000)
  }, 600_000)
})

describe.skipIf(unavailable !== undefined)('behind routers that map every connection to a new port (symmetric NAT)', () => {
  it('stay on the relay, say so in status, and still exchange messages', async () => {
    const { alice, bob } = await homes('symmetric', { symmetric: true })
    const r = await twinJson(['call', bob.id, 'twin.ping', '--home', alice.home], { netns: alice.ns })
    expect(r.response).toMatchObject({ pong: true })
    // Bob tries to punch (he received the relayed connection) and fails: his NAT gave the
    // punch port another public port than the relay saw.
    const s = await waitFor(async () => { const s = await status(bob); return s.reachability === 'relayed-only' && s }, 60_000, 'bob to report relayed-only')
    expect(s.links).toContainEqual(expect.objectContaining({ peer: alice.peerId, path: 'relayed' }))
    expect(s.links).not.toContainEqual(expect.objectContaining({ peer: alice.peerId, path: 'direct' }))
    await twinJson(['send', bob.id, 'through the relay', '--home', alice.home], { netns: alice.ns })
    await waitFor(async () => ((await twinJson(['inbox', '--home', bob.home], { netns: bob.ns })).messages as Array<{ text: string }>).some(m => m.text === 'through the relay'), 30_000, 'the message at bob')
  }, 180_000)
})
