import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from './helpers.js'
import { natLabUnavailable, type NatLab } from '../lab/netlab.js'
import { homeNetwork, homeStatus, type HomeNetwork, type HomeTwin } from './homes.js'
import { Procs, waitFor, type Proc } from './processes.js'

// Two homes, each a LAN behind a router that masquerades it and drops what nobody inside asked
// for, and a relay on the lab's public internet. The twins meet through the relay's circuit and
// must end up connected directly, by hole punching, and stay so when the relay goes away; a
// storage node in bob's home, with no forwarded port, serves alice the same way.
const tmp = tempDir('twin-nat-')
const procs = new Procs()
const at = (...p: string[]): string => join(tmp.path, ...p)
const unavailable = natLabUnavailable()
if (unavailable !== undefined) console.warn(`NAT tests skipped: ${unavailable}`)
const labs: NatLab[] = []
let net: HomeNetwork
let lab: NatLab
let relay: Proc
let twins: HomeTwin[] = []

beforeAll(async () => {
  if (unavailable !== undefined) return
  net = await homeNetwork(procs, labs, tmp.path)
  ;({ lab, relay } = net)
  expect(net.relayAddress).toMatch(/^\/ip4\/100\.64\.0\.2\/tcp\/4001\/p2p\//)
  twins = [net.alice, net.bob]
}, 120_000)

afterAll(async () => {
  await procs.stopAll()
  for (const l of labs) l.remove()
  tmp.cleanup()
})

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')
const status = homeStatus

describe.skipIf(unavailable !== undefined)('two twins behind two NATs, and a storage node behind one of them', () => {
  it('learn that they are behind NAT, from where the relay sees them', async () => {
    for (const [i, t] of twins.entries()) {
      const s = await waitFor(async () => { const s = await status(t); return s.reachability !== 'unknown' && s }, 20_000, 'an observed address')
      expect(s.reachability).toBe('nat')
      // The router's public address, not the LAN one.
      expect(s.observed[0]).toMatch(new RegExp(`^${lab.homes[i]!.router.ip.replace(/\./g, '\\.')}:\\d+$`))
    }
  }, 60_000)

  it('reach each other through the relay, then end with a direct connection within 30 s', async () => {
    const [alice, bob] = twins as [HomeTwin, HomeTwin]
    const r = await twinJson(['call', bob.id, 'twin.ping', '--home', alice.home], { netns: alice.ns })
    expect(r.response).toMatchObject({ pong: true })
    const direct = await waitFor(async () => {
      const links = (await status(alice)).links as Array<{ peer: string, path: string, address: string }>
      return links.find(l => l.peer === bob.peerId && l.path === 'direct')
    }, 30_000, 'a direct connection from alice to bob')
    // Bob's router, at the port its NAT gave bob's punch port: the hole that was punched.
    expect(direct.address).toContain(`/ip4/${lab.homes[1]!.router.ip}/tcp/`)
    const back = (await status(bob)).links as Array<{ peer: string, path: string }>
    expect(back).toContainEqual(expect.objectContaining({ peer: alice.peerId, path: 'direct' }))
  }, 60_000)

  it('a storage node behind the other NAT is added by an invite, and stores and serves 20 MiB', async () => {
    const [alice, bob] = twins as [HomeTwin, HomeTwin]
    // The node shares bob's home: no forwarded port, only the relay's circuit.
    const node = await procs.spawn(['storage-node', '--home', at('node'), '--dir', at('node', 'shards'), '--bootstrap', net.relayAddress, '--public-range', lab.publicRange], {}, bob.ns).ready()
    const circuit = (node.addresses as string[]).find(a => a.includes('/p2p-circuit'))
    expect(circuit).toBeDefined()
    const invite = await twinJson(['storage-node', 'invite', '--home', at('node')], { netns: bob.ns })
    expect(invite.addresses).toContain(circuit)
    expect(await twinJson(['storage', 'add', invite.token, '--home', alice.home], { netns: alice.ns })).toMatchObject({ id: node.peerId })
    writeFileSync(at('big.bin'), randomBytes(20 * 1024 * 1024))
    const put = await twinJson(['put', at('big.bin'), '--as', '/big.bin', '--home', alice.home], { netns: alice.ns, timeoutMs: 240_000 })
    expect(put.size).toBe(20 * 1024 * 1024)
    await twinJson(['get', '/big.bin', '-o', at('back.bin'), '--home', alice.home], { netns: alice.ns, timeoutMs: 240_000 })
    expect(sha(at('back.bin'))).toBe(sha(at('big.bin')))
    // The node, reached through the circuit, punched a direct path to alice as a twin does.
    const links = (await status(alice)).links as Array<{ peer: string, path: string }>
    expect(links).toContainEqual(expect.objectContaining({ peer: node.peerId, path: 'direct' }))
  }, 300_000)

  it('keep exchanging messages, in order, when the relay is stopped', async () => {
    const [alice, bob] = twins as [HomeTwin, HomeTwin]
    await relay.stop()
    for (let i = 0; i < 5; i++) await twinJson(['send', bob.id, `after the relay ${i}`, '--home', alice.home], { netns: alice.ns })
    const inbox = await waitFor(async () => {
      const m = (await twinJson(['inbox', '--home', bob.home], { netns: bob.ns })).messages as Array<{ text: string, arrival: number }>
      const after = m.filter(x => x.text?.startsWith('after the relay'))
      return after.length === 5 ? after : undefined
    }, 30_000, 'five messages at bob')
    expect([...inbox].sort((a, b) => a.arrival - b.arrival).map(m => m.text)).toEqual([0, 1, 2, 3, 4].map(i => `after the relay ${i}`))
    const links = (await status(alice)).links as Array<{ peer: string, path: string }>
    expect(links).toContainEqual(expect.objectContaining({ peer: bob.peerId, path: 'direct' }))
    // The storage node behind bob's NAT serves the file over the punched path alone.
    await twinJson(['get', '/big.bin', '-o', at('again.bin'), '--home', alice.home], { netns: alice.ns, timeoutMs: 240_000 })
    expect(sha(at('again.bin'))).toBe(sha(at('big.bin')))
  }, 120_000)
})
