import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from './helpers.js'
import { natLabUnavailable, type NatLab, type NatLabOptions } from '../lab/netlab.js'
import { homeNetwork, homeStatus, type HomeNetwork, type HomeTwin } from './homes.js'
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

const homes = async (name: string, options: NatLabOptions, withNode = false): Promise<HomeNetwork> => await homeNetwork(procs, labs, join(tmp.path, name), options, withNode)
const status = homeStatus
type Twin = HomeTwin

/** Alice stores `mib` MiB of random bytes and reads them back; the same bytes must come back. */
async function putAndGet (name: string, alice: Twin, mib: number, timeoutMs: number): Promise<void> {
  const file = join(tmp.path, name, 'file.bin')
  writeFileSync(file, randomBytes(mib * 1024 * 1024))
  try {
    const put = await twinJson(['put', file, '--as', '/file.bin', '--home', alice.home], { netns: alice.ns, timeoutMs })
    expect(put.size).toBe(mib * 1024 * 1024)
    await twinJson(['get', '/file.bin', '-o', `${file}.back`, '--home', alice.home], { netns: alice.ns, timeoutMs })
  } catch (err) {
    // What the twin and the node said is the only account of a failure on a slow link.
    throw new Error(`${(err as Error).message}\n${procs.tails()}`, { cause: err })
  }
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
  // Both homes are slow: the put crosses alice's uplink, the get the node's (about three minutes
  // each for 20 MiB). Answers then wait behind one another for minutes on each stream.
  it('a put of 20 MiB to a storage node behind the other NAT completes, and reads back through that node\'s 1 Mbit/s uplink', async () => {
    const { alice } = await homes('slow', { uplinkKbit: 1000 }, true)
    await putAndGet('slow', alice, 20, 420_000)
  }, 900_000)
})

describe.skipIf(unavailable !== undefined)('behind routers that map every connection to a new port (symmetric NAT)', () => {
  it('stay on the relay, say so in status, and still exchange messages', async () => {
    const { alice, bob } = await homes('symmetric', { symmetric: true })
    const r = await twinJson(['call', bob.id, 'twin.ping', '--home', alice.home], { netns: alice.ns })
    expect(r.response).toMatchObject({ pong: true })
    // The punch fails, whichever of them starts it: each NAT gives the punch port another public
    // port for each destination than the one the relay saw.
    const s = await waitFor(async () => { const s = await status(bob); return s.reachability === 'relayed-only' && s }, 60_000, 'bob to report relayed-only')
    expect(s.links).toContainEqual(expect.objectContaining({ peer: alice.peerId, path: 'relayed' }))
    expect(s.links).not.toContainEqual(expect.objectContaining({ peer: alice.peerId, path: 'direct' }))
    await twinJson(['send', bob.id, 'through the relay', '--home', alice.home], { netns: alice.ns })
    await waitFor(async () => ((await twinJson(['inbox', '--home', bob.home], { netns: bob.ns })).messages as Array<{ text: string }>).some(m => m.text === 'through the relay'), 30_000, 'the message at bob')
  }, 180_000)
})

describe.skipIf(unavailable !== undefined)('a storage node behind a port forward, which announces only its LAN address', () => {
  it('is added at the forwarded address, and found there again after it restarts, without restarting the twin', async () => {
    const { lab, alice, bob } = await homes('forward', {})
    const home = lab.homes[1]!
    const port = 4100
    lab.forwardPort(home, port)
    const at = (...p: string[]): string => join(tmp.path, 'forward', ...p)
    const start = async (): Promise<{ proc: ReturnType<typeof procs.spawn>, peerId: string, addresses: string[] }> => {
      const proc = procs.spawn(['storage-node', '--open', '--home', at('node'), '--dir', at('node', 'shards'), '--listen', `/ip4/0.0.0.0/tcp/${port}`, '--public-range', lab.publicRange], {}, bob.ns)
      const ready = await proc.ready()
      return { proc, peerId: ready.peerId, addresses: ready.addresses }
    }
    const first = await start()
    // What the node itself knows and says: its LAN address only; the router's is not among them.
    expect(first.addresses.some(a => a.includes(home.router.ip))).toBe(false)
    await twinJson(['storage', 'add', `/ip4/${home.router.ip}/tcp/${port}/p2p/${first.peerId}`, '--home', alice.home], { netns: alice.ns })
    const file = at('f.bin')
    writeFileSync(file, randomBytes(1024 * 1024))
    await twinJson(['put', file, '--as', '/f.bin', '--home', alice.home], { netns: alice.ns })
    await first.proc.stop('SIGTERM')
    await start()
    await twinJson(['get', '/f.bin', '-o', `${file}.back`, '--home', alice.home], { netns: alice.ns, timeoutMs: 60_000 })
    expect(sha(`${file}.back`)).toBe(sha(file))
  }, 180_000)
})
