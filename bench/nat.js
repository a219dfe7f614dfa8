// `npm run bench -- nat`: twins behind home NATs, in the lab of test/lab/netlab.js, in the four
// conditions of issue 14. For each: call latency through the relay and direct, the time a
// relayed connection takes to become direct (hole punching), the first call on a new
// connection (a dead private address must not delay it), and put throughput to a storage node
// behind the other NAT against raw TCP over the same path (a port forward to the same host),
// measured in the same run. Needs root, iproute2, iptables and perl (CI has them; see README).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNatLab, natLabUnavailable } from '../test/lab/netlab.js'
import { goal, median, MIB, printTable, runCommand, startProcess, stopProcess, TWIN, writeResults } from './lib.js'

const PROBE = fileURLToPath(new URL('./nat-probe.js', import.meta.url))
const CALLS = 20
const RAW_PORT = 5201

const CONDITIONS = [
  { name: 'clean', lab: {}, putMiB: 16 },
  { name: '20 ms + 1% loss per link', lab: { linkDelayMs: 20, linkLoss: 0.01 }, putMiB: 4 },
  { name: '1 Mbit/s uplink', lab: { uplinkKbit: 1000 }, putMiB: 3 },
  { name: 'private addresses dropped', lab: { dropPrivate: true }, putMiB: 16 }
]

/** Runs a command inside a namespace to its end. */
const inNs = async (ns, args) => await runCommand('ip', ['netns', 'exec', ns, process.execPath, ...args])
const probe = async (ns, ...args) => JSON.parse((await inNs(ns, [PROBE, ...args])).stdout)
const twinIn = async (ns, ...args) => JSON.parse((await inNs(ns, [TWIN, ...args, '--json'])).stdout)
const spawnIn = (ns, ...args) => startProcess('ip', ['netns', 'exec', ns, process.execPath, TWIN, ...args, '--json'])

async function measure (condition) {
  const lab = await makeNatLab(condition.lab)
  const dir = mkdtempSync(join(tmpdir(), 'twin-bench-nat-'))
  const at = (...p) => join(dir, ...p)
  const procs = []
  const spawn = (ns, ...args) => { const p = spawnIn(ns, ...args); procs.push(p); return p }
  try {
    const [home1, home2] = lab.homes
    const range = ['--public-range', lab.publicRange]
    const relay = (await spawn(lab.relay.ns, 'relay', '--home', at('relay'), '--listen', '/ip4/0.0.0.0/tcp/4001', ...range).ready).addresses[0]
    const ids = {}
    for (const name of ['alice', 'bob']) ids[name] = (await twinIn(home1.ns, 'init', '--home', at(name), '--name', name)).id
    const alice = at('alice')
    await spawn(home1.ns, 'start', '--home', alice, '--bootstrap', relay, ...range).ready
    // Bob first without hole punching: every call goes through the relay's circuit.
    let bob = spawn(home2.ns, 'start', '--home', at('bob'), '--bootstrap', relay, ...range, '--no-hole-punching')
    const bobPeer = (await bob.ready).peerId
    const firstRelayed = (await probe(home1.ns, 'calls', alice, ids.bob, 1)).ms[0]
    const relayed = (await probe(home1.ns, 'calls', alice, ids.bob, CALLS)).ms
    await stopProcess(bob)
    // Bob again, now punching: alice's next call opens a new relayed connection, which bob upgrades.
    bob = spawn(home2.ns, 'start', '--home', at('bob'), '--bootstrap', relay, ...range)
    await bob.ready
    const [firstCall, upgrade] = await Promise.all([
      probe(home1.ns, 'calls', alice, ids.bob, 1),
      probe(home1.ns, 'until-direct', alice, bobPeer)
    ])
    const direct = (await probe(home1.ns, 'calls', alice, ids.bob, CALLS)).ms

    // A storage node in bob's home, reached by its invite, then punched to; and the raw baseline.
    const node = await spawn(home2.ns, 'storage-node', '--home', at('node'), '--dir', at('node', 'shards'), '--bootstrap', relay, ...range).ready
    const invite = await twinIn(home2.ns, 'storage-node', 'invite', '--home', at('node'))
    await twinIn(home1.ns, 'storage', 'add', invite.token, '--home', alice)
    const nodeDirect = await probe(home1.ns, 'until-direct', alice, node.peerId)
    const bytes = condition.putMiB * MIB
    writeFileSync(at('file.bin'), randomBytes(bytes))
    const put = await probe(home1.ns, 'put', alice, at('file.bin'), '/file.bin')
    const status = await twinIn(home1.ns, 'status', '--home', alice)
    const nodeLinks = status.links.filter(l => l.peer === node.peerId)
    const nodeLink = nodeLinks.find(l => l.path === 'direct') ?? nodeLinks[0]
    lab.forwardPort(home2, RAW_PORT)
    const sink = startProcess('ip', ['netns', 'exec', home2.ns, process.execPath, PROBE, 'sink', String(RAW_PORT), String(bytes)])
    await sink.ready
    const raw = await probe(home1.ns, 'source', home2.router.ip, String(RAW_PORT), String(bytes))
    await stopProcess(sink)
    return {
      condition: condition.name,
      relayedCallP50Ms: median(relayed),
      directCallP50Ms: median(direct),
      firstCallRelayedMs: firstRelayed,
      firstCallMs: firstCall.ms[0],
      upgradeMs: upgrade.ms,
      nodeUpgradeMs: nodeDirect.ms,
      reachability: status.reachability,
      putPath: nodeLink?.path ?? 'none',
      putMiB: condition.putMiB,
      putMiBps: bytes / MIB / put.seconds,
      rawMiBps: bytes / MIB / raw.seconds
    }
  } finally {
    for (const p of procs.reverse()) await stopProcess(p, 'SIGKILL')
    lab.remove()
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function run () {
  const unavailable = natLabUnavailable()
  if (unavailable !== undefined) {
    console.log(`\nnat: skipped (${unavailable}; also needs perl)`)
    return
  }
  const results = []
  // NAT_CONDITIONS=1,3 runs only those (1-based), e.g. to look at one condition again.
  const only = process.env.NAT_CONDITIONS?.split(',').map(Number)
  for (const c of CONDITIONS.filter((_c, i) => only === undefined || only.includes(i + 1))) {
    console.error(`nat: ${c.name}...`)
    results.push(await measure(c))
  }
  const f = n => n.toFixed(n < 10 ? 2 : 0)
  printTable('Twins behind NAT (lab of test/lab/netlab.js; calls are twin.ping through the API)', results.map(r => ({
    condition: r.condition,
    'call relayed p50': `${f(r.relayedCallP50Ms)} ms`,
    'call direct p50': `${f(r.directCallP50Ms)} ms`,
    'to direct': `${f(r.upgradeMs)} ms`,
    'first call': `${f(r.firstCallMs)} ms`,
    reach: r.reachability,
    'put path': r.putPath,
    put: `${f(r.putMiBps)} MiB/s`,
    'raw TCP': `${f(r.rawMiBps)} MiB/s`,
    ratio: `${(r.putMiBps / r.rawMiBps).toFixed(2)}x`
  })))
  const slow = results.find(r => r.condition === '1 Mbit/s uplink')
  const clean = results.find(r => r.condition === 'clean')
  const dropped = results.find(r => r.condition === 'private addresses dropped')
  const goals = [
    ...(slow === undefined ? [] : [goal({ what: 'put on a 1 Mbit/s uplink vs raw TCP', baseline: `${f(slow.rawMiBps)} MiB/s`, twin: `${f(slow.putMiBps)} MiB/s`, value: slow.putMiBps / slow.rawMiBps, atLeast: 0.5, unit: 'x' })]),
    ...(clean === undefined || dropped === undefined ? [] : [goal({ what: 'first call: dead private addresses add (ms)', baseline: `${f(clean.firstCallMs)} ms`, twin: `${f(dropped.firstCallMs)} ms`, value: dropped.firstCallMs - clean.firstCallMs, atMost: 1000 })]),
    ...results.map(r => goal({ what: `direct within 30 s (${r.condition}), ms`, twin: `${f(r.upgradeMs)} ms`, value: r.upgradeMs, atMost: 30_000 }))
  ]
  printTable('Goals', goals.map(g => g.row))
  writeResults('nat', { calls: CALLS, conditions: results, goals: goals.map(g => ({ ...g.row, met: g.met })) })
}
