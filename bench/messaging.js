// Messaging benchmark (issues 3 and 8): request/response between two twins on loopback, a 1 KiB
// payload signed and sealed both ways, against two baselines with the same process layout:
// the requester in this process, the responder in a process of its own.
//   twin:  twin A embedded here (the SDK's TwinDaemon), twin B a `bin/twin start` process, a
//          relay process (for records and mail; requests go direct).
//   echo:  raw libp2p echo of the same payload over the same transport (TCP, Noise, Yamux,
//          long-lived length-prefixed streams), server in its own process (bench/echo-server.js).
//   NATS:  Debian's nats-server, the responder a Node process (bench/nats-responder.js), the
//          requester here, both with the `nats` npm client.
// Each row runs BENCH_SECONDS (default 5) at concurrency 1 and 64; CPU seconds of every process
// involved are read from /proc, so the work per request is compared too.
//
// Then the mailbox drain: twin B stops, A sends BENCH_DRAIN (default 20,000) events, which the
// relay keeps, and stops too; B starts again. The timer starts just before B's process is spawned (B subscribes
// to its relay before it prints ready, so anything later would miss messages) and stops when
// B's inbox (GET /v1/status) holds them all.
//
// Profiles: BENCH_TWIN_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/mprof") is given to twin
// B's processes; the profiles are summarized per phase (c1, c64, drain) at the end.
import '../dist/polyfill.js'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { goal, monotonicUs, nodeArgs, printTable, processCpu, profileDir, quantile, sleep, startProcess, stopProcess, TWIN, twinApi, writeResults } from './lib.js'
import { limitRows, measureLimits } from './machine.js'
import { printProfileSummary, summarizeProfiles } from './profile.js'

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000
const DRAIN = Number(process.env.BENCH_DRAIN ?? 20_000)
const SENDER_ONLINE = process.env.BENCH_DRAIN_SENDER_ONLINE === '1'
const PAYLOAD = 'x'.repeat(1024)
const BYTES = new Uint8Array(1024).fill(120)
const GOALS = { echoRatioC64: 0.5, p99C1Ms: 5, drainPerSecond: 5000 }

const log = text => process.stderr.write(`messaging bench: ${text}\n`)

/** CPU seconds so far of each role's processes (this process included by its pid), all threads. */
const cpuOf = roles => Object.fromEntries(Object.entries(roles).map(([role, pids]) => [role, pids.reduce((s, p) => s + processCpu(p).total, 0)]))
/** The same, main threads only. */
const mainCpuOf = roles => Object.fromEntries(Object.entries(roles).map(([role, pids]) => [role, pids.reduce((s, p) => s + processCpu(p).main, 0)]))

/**
 * Runs `request` from `concurrency` workers for DURATION_MS; returns rate, latency quantiles,
 * CPU µs per request of each role, and the window (monotonic µs) for profiles.
 */
async function measure (concurrency, request, roles) {
  for (let i = 0; i < 50; i++) await request(i % concurrency) // warm up
  const lat = []
  const before = cpuOf(roles)
  const beforeMain = mainCpuOf(roles)
  const startUs = monotonicUs()
  const deadline = performance.now() + DURATION_MS
  const t0 = performance.now()
  // Loop k calls request(k): a baseline that keeps a stream per loop gives each its own.
  await Promise.all(Array.from({ length: concurrency }, async (_, k) => {
    while (performance.now() < deadline) {
      const s = performance.now()
      await request(k)
      lat.push(performance.now() - s)
    }
  }))
  const secs = (performance.now() - t0) / 1000
  const after = cpuOf(roles)
  const afterMain = mainCpuOf(roles)
  const cpuUsPerRequest = Object.fromEntries(Object.keys(roles).map(r => [r, 1e6 * (after[r] - before[r]) / lat.length]))
  cpuUsPerRequest.total = Object.values(cpuUsPerRequest).reduce((a, b) => a + b, 0)
  const mainCpuUsPerRequest = Object.fromEntries(Object.keys(roles).map(r => [r, 1e6 * (afterMain[r] - beforeMain[r]) / lat.length]))
  return { concurrency, requests: lat.length, perSecond: lat.length / secs, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), cpuUsPerRequest, mainCpuUsPerRequest, startUs, endUs: monotonicUs() }
}

async function echoBaseline () {
  const server = startProcess(process.execPath, [new URL('./echo-server.js', import.meta.url).pathname])
  const { address } = await server.ready
  const roles = { 'client (this process)': [process.pid], 'echo server': [server.child.pid] }
  const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify(), ping: ping() } })
  try {
    const conn = await node.dial(multiaddr(address))
    const worker = async () => {
      const lp = lpStream(await conn.newStream('/bench/echo/1', { maxOutboundStreams: 1024 }), { maxDataLength: 1 << 20 })
      return async () => { await lp.write(BYTES); await lp.read() }
    }
    const one = await worker()
    const c1 = await measure(1, one, roles)
    const workers = await Promise.all(Array.from({ length: 64 }, worker))
    const c64 = await measure(64, async k => { await workers[k]() }, roles) // one stream per loop, never shared
    return { c1, c64 }
  } finally {
    await node.stop()
    await stopProcess(server)
  }
}

async function natsBaseline () {
  if (spawnSync('sh', ['-c', 'command -v nats-server']).status !== 0) return undefined
  const port = 20000 + Math.floor(Math.random() * 20000)
  const server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
  const url = `127.0.0.1:${port}`
  const { connect } = await import('nats')
  let nc
  for (let i = 0; nc === undefined; i++) {
    try { nc = await connect({ servers: url }) } catch (err) { if (i > 50) throw err; await sleep(100) } // the server is still starting
  }
  const responder = startProcess(process.execPath, [new URL('./nats-responder.js', import.meta.url).pathname, url])
  try {
    await responder.ready
    const roles = { 'requester (this process)': [process.pid], 'responder process': [responder.child.pid], 'nats-server': [server.pid] }
    const request = async () => { await nc.request('echo', BYTES, { timeout: 5000 }) }
    return { c1: await measure(1, request, roles), c64: await measure(64, request, roles) }
  } finally {
    await nc.close()
    await stopProcess(responder)
    server.kill('SIGTERM')
  }
}

/** The SDK's running twin: from the package's entry point when it exports it, else its module. */
async function loadDaemon () {
  const sdk = await import('../dist/index.js')
  return sdk.TwinDaemon ?? (await import('../dist/twin/daemon.js')).TwinDaemon
}

function twinCli (args) {
  const r = spawnSync(process.execPath, [TWIN, ...args, '--json'], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`twin ${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

async function twinBench (dir, aHome, phases, pids) {
  const bArgs = nodeArgs('BENCH_TWIN_NODE_ARGS')
  // The relay's per-sender limit (20,000 by default) must not be what a large drain measures.
  const relay = startProcess(process.execPath, [TWIN, 'relay', '--home', join(dir, 'relay'), '--listen', '/ip4/127.0.0.1/tcp/0', '--sender-messages', String(Math.max(100_000, 2 * DRAIN)), '--mailbox-messages', String(Math.max(100_000, 2 * DRAIN)), '--json'])
  const relayAddr = (await relay.ready).addresses[0]
  pids.relay = [relay.child.pid]
  twinCli(['init', '--home', aHome, '--name', 'A'])
  const bHome = join(dir, 'b')
  const b = twinCli(['init', '--home', bHome, '--name', 'B'])
  const bArgsStart = [...bArgs, TWIN, 'start', '--home', bHome, '--bootstrap', relayAddr, '--listen', '/ip4/127.0.0.1/tcp/0', '--json']
  const bProc = startProcess(process.execPath, bArgsStart)
  await bProc.ready
  pids['twin B'] = [bProc.child.pid]
  const TwinDaemon = await loadDaemon()
  const a = new TwinDaemon(aHome, { bootstrap: [relayAddr], listen: ['/ip4/127.0.0.1/tcp/0'] })
  await a.start()
  pids['twin A (this process)'] = [process.pid]
  let b2
  try {
    const roles = { 'twin A (this process)': [process.pid], 'twin B process': [bProc.child.pid], relay: [relay.child.pid] }
    // B sends the 1 KiB back (twin.ping echoes `data`), as the echo and NATS responders do.
    const request = async () => {
      const r = await a.messaging.request(b.id, 'twin.ping', { data: PAYLOAD }, { timeoutMs: 10_000 })
      if (r?.data !== PAYLOAD) throw new Error('twin.ping did not send the payload back')
    }
    log('twin request/response, c = 1')
    const c1 = await measure(1, request, roles)
    phases.push({ name: 'c1', startUs: c1.startUs, endUs: c1.endUs, messages: c1.requests, per: 'request (one envelope in, one out)' })
    log('twin request/response, c = 64')
    const c64 = await measure(64, request, roles)
    phases.push({ name: 'c64', startUs: c64.startUs, endUs: c64.endUs, messages: c64.requests, per: 'request (one envelope in, one out)' })

    // Mailbox drain: B goes offline, A sends DRAIN events (left at the relay), B comes back.
    const inboxBefore = (await twinApi(bHome, 'GET', '/v1/status')).inbox
    await stopProcess(bProc)
    log(`twin B stopped; A sends ${DRAIN} events, which wait at the relay`)
    const sendStart = performance.now()
    for (let i = 0; i < DRAIN; i++) {
      a.messaging.send(b.id, 'chat.message', { text: `m${i}` })
      if (i % 500 === 499) await sleep(0) // let the outbox move while sealing
    }
    for (;;) {
      const out = (await twinApi(aHome, 'GET', '/v1/status')).outbox
      if ((out.relayed ?? 0) >= DRAIN) break
      if (performance.now() - sendStart > 600_000) throw new Error(`the events were not left at the relay in time: ${JSON.stringify(out)}`)
      await sleep(200)
    }
    log(`${DRAIN} events at the relay after ${((performance.now() - sendStart) / 1000).toFixed(1)} s; B starts again`)
    // The sender goes offline first, so B drains the mailbox alone: a sender still online
    // re-offers its relayed messages directly when B connects to it (to acknowledge), and B
    // would then get each message twice, over two paths (BENCH_DRAIN_SENDER_ONLINE=1 measures that).
    if (!SENDER_ONLINE) await a.stop()
    const roles2 = { relay: [relay.child.pid] }
    const relayBefore = cpuOf(roles2).relay
    b2 = startProcess(process.execPath, bArgsStart)
    const startedUs = b2.startedUs
    const t0 = performance.now()
    pids['twin B'].push(b2.child.pid)
    let readySeconds
    let inboxAtReady
    void b2.ready.then(() => { readySeconds = (performance.now() - t0) / 1000 })
    let count = inboxBefore
    let bCpu = { total: 0, main: 0 }
    while (count < inboxBefore + DRAIN) {
      if (performance.now() - t0 > 300_000) throw new Error(`drain stalled at ${count - inboxBefore} of ${DRAIN}`)
      // The API exists once the twin is up; until then nothing can be counted (the clock runs).
      if (existsSync(join(bHome, 'api.json'))) {
        try {
          count = (await twinApi(bHome, 'GET', '/v1/status')).inbox
          if (readySeconds !== undefined && inboxAtReady === undefined) inboxAtReady = count - inboxBefore
        } catch { /* api.json is written just before the API answers: try again */ }
      }
      bCpu = processCpu(b2.child.pid)
      if (count < inboxBefore + DRAIN) await sleep(10)
    }
    const seconds = (performance.now() - t0) / 1000
    const endUs = monotonicUs()
    phases.push({ name: 'drain', startUs: startedUs, endUs, messages: DRAIN })
    const drain = {
      messages: DRAIN,
      senderOnline: SENDER_ONLINE,
      seconds,
      perSecond: DRAIN / seconds,
      readySeconds: readySeconds ?? null,
      inboxAtReady: inboxAtReady ?? null,
      cpuUsPerMessage: { 'twin B process': 1e6 * bCpu.total / DRAIN, relay: 1e6 * (cpuOf(roles2).relay - relayBefore) / DRAIN },
      mainCpuUsPerMessage: { 'twin B process': 1e6 * bCpu.main / DRAIN }
    }
    return { c1, c64, drain }
  } finally {
    await a.stop()
    if (b2 !== undefined) await stopProcess(b2)
    await stopProcess(bProc)
    await stopProcess(relay)
  }
}

/**
 * Where a message's time goes in twin B, step by step, against the machine's limits (openssl on
 * one core) for the operations each step makes by design. At c = 64 each request is one
 * envelope in (decode, verify, open) and one out (seal, sign, encode); in the drain each
 * message is one envelope in and stored. Measured: B's main-thread CPU time (/proc) split by
 * the shares of its CPU profile's busy samples (a profile samples wall time, which on a loaded
 * machine overstates CPU time; its shares do not).
 */
export function perMessageTable (results) {
  const l = results.limits
  const usOf = perSecond => perSecond === null || perSecond === undefined ? undefined : 1e6 / perSecond
  const dh = usOf(l.x25519?.perSecond)
  const chachaKiB = l.chacha20poly1305_1KiB === null || l.chacha20poly1305_1KiB === undefined ? undefined : 1e6 * 1024 / l.chacha20poly1305_1KiB
  const main = (x, key) => x?.[key]?.['twin B process'] ?? x?.[key]?.['twin B'] ?? undefined
  const c64 = { s: results.profile['twin B']?.c64, us: main(results.twin.c64, 'mainCpuUsPerRequest') ?? main(results.twin.c64, 'cpuUsPerRequest') }
  const drain = { s: results.profile['twin B']?.drain, us: main(results.twin.drain, 'mainCpuUsPerMessage') ?? main(results.twin.drain, 'cpuUsPerMessage') }
  const pick = (x, re) => {
    if (x.s === undefined || x.us === undefined) return undefined
    const busy = Object.entries(x.s.categories).filter(([k]) => k !== 'idle').reduce((a, [, v]) => a + v, 0)
    return x.us * Object.entries(x.s.categories).filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0) / busy
  }
  const steps = [
    ['seal (v1: fresh X25519 pair, agreement, HKDF, ChaCha20-Poly1305)', '2 X25519 + 1 KiB AEAD', dh === undefined ? undefined : 2 * dh + chachaKiB, /^seal/],
    ['sign (Ed25519)', '1 sign', usOf(l.ed25519?.signPerSecond), /^sign/],
    ['verify (Ed25519)', '1 verify', usOf(l.ed25519?.verifyPerSecond), /^verify/],
    ['open (X25519 agreement, HKDF, ChaCha20-Poly1305)', '1 X25519 + 1 KiB AEAD', dh === undefined ? undefined : dh + chachaKiB, /^open/],
    ['frame (Noise, Yamux, length prefix, socket)', '1.3 KB AEAD each way', chachaKiB === undefined ? undefined : 2 * 1.3 * chachaKiB, /^frame/],
    ['store (SQLite)', `one fsync per batch (${l.fsyncSmall === undefined ? '?' : l.fsyncSmall.msPerFsync.toFixed(2)} ms)`, undefined, /^store/],
    ['encode / decode (CBOR, schema)', '-', undefined, /^encode/],
    ['garbage collection', '-', undefined, /^garbage/],
    ['everything else (bookkeeping, API, start-up, other)', '-', undefined, /^(messaging|local API|start-up|other|native|hash)/]
  ]
  const rows = steps.map(([step, ops, limit, re]) => ({ step, ops, limit, c64: pick(c64, re), drain: pick(drain, re) }))
  const f = x => x === undefined ? '-' : x.toFixed(1)
  printTable(`where a message's time goes in twin B's main thread, CPU µs (B: ${f(c64.us)} per request at c = 64, ${f(drain.us)} per message in the drain; limits: openssl on one core, this run)`, rows.map(x => ({
    step: x.step,
    'operations by design': x.ops,
    'limit µs': f(x.limit),
    'per request at c = 64 (in + out)': f(x.c64),
    'per message in the drain (in, stored)': f(x.drain)
  })))
  return rows
}

const us = x => x === undefined ? 'n/a' : `${x.toFixed(0)} µs`

export async function run () {
  const dir = mkdtempSync(join(tmpdir(), 'twin-bench-msg-'))
  const phases = []
  const pids = {}
  let echo, nats, twin, limits
  try {
    log('machine limits')
    limits = measureLimits('messaging', dir)
    log('raw libp2p echo')
    echo = await echoBaseline()
    log('NATS request-reply')
    nats = await natsBaseline()
    twin = await twinBench(dir, join(dir, 'a'), phases, pids)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  printTable('machine limits, same run (one core)', limitRows(limits))
  const fmt = (name, r) => ({ system: name, conc: r.concurrency, 'req/s': r.perSecond.toFixed(0), 'p50 ms': r.p50Ms.toFixed(2), 'p99 ms': r.p99Ms.toFixed(2), 'CPU per request (all processes)': us(r.cpuUsPerRequest.total) })
  const rows = [fmt('twin request/response', twin.c1), fmt('twin request/response', twin.c64), fmt('raw libp2p echo', echo.c1), fmt('raw libp2p echo', echo.c64)]
  if (nats !== undefined) rows.push(fmt('NATS request-reply', nats.c1), fmt('NATS request-reply', nats.c64))
  printTable(`request/response, 1 KiB payload, ${DURATION_MS / 1000} s per row; requester in this process, responder in its own`, rows)
  const systems = [['twin', twin], ['raw libp2p echo', echo], ...(nats === undefined ? [] : [['NATS', nats]])]
  printTable('CPU per request of each process, from /proc (all threads)', systems.flatMap(([name, x]) => ['c1', 'c64'].map(c => ({
    system: name,
    conc: x[c].concurrency,
    processes: Object.entries(x[c].cpuUsPerRequest).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${us(v)}`).join(', ')
  }))))

  const ratios = {
    twinOverEchoC64: twin.c64.perSecond / echo.c64.perSecond,
    twinOverEchoC1: twin.c1.perSecond / echo.c1.perSecond,
    ...(nats === undefined ? {} : { twinOverNatsC64: twin.c64.perSecond / nats.c64.perSecond, twinOverNatsC1: twin.c1.perSecond / nats.c1.perSecond })
  }
  const table = []
  const goals = {}
  const add = (key, g) => { const x = goal(g); table.push(x.row); if (key !== undefined) goals[key] = x.met }
  add('throughputC64', { what: 'request/response at c = 64, req/s (raw libp2p echo)', baseline: echo.c64.perSecond.toFixed(0), twin: twin.c64.perSecond.toFixed(0), value: ratios.twinOverEchoC64, atLeast: GOALS.echoRatioC64, unit: 'x' })
  add('p99C1', { what: 'p99 latency at c = 1, ms (raw libp2p echo)', baseline: echo.c1.p99Ms.toFixed(2), twin: twin.c1.p99Ms.toFixed(2), value: twin.c1.p99Ms, atMost: GOALS.p99C1Ms, unit: ' ms' })
  if (nats !== undefined) {
    add(undefined, { what: 'request/response at c = 64, req/s (NATS request-reply)', baseline: nats.c64.perSecond.toFixed(0), twin: twin.c64.perSecond.toFixed(0), value: ratios.twinOverNatsC64, unit: 'x' })
    add(undefined, { what: 'request/response at c = 1, req/s (NATS request-reply)', baseline: nats.c1.perSecond.toFixed(0), twin: twin.c1.perSecond.toFixed(0), value: ratios.twinOverNatsC1, unit: 'x' })
  }
  add('drain', { what: `mailbox drain of ${twin.drain.messages} messages (sender ${twin.drain.senderOnline ? 'online' : 'offline'}) from process start, msg/s (ready after ${twin.drain.readySeconds?.toFixed(2)} s with ${twin.drain.inboxAtReady} in)`, twin: twin.drain.perSecond.toFixed(0), value: twin.drain.perSecond, atLeast: GOALS.drainPerSecond })
  printTable('messaging goals', table)
  if (nats === undefined) console.log('NATS baseline skipped: nats-server is not installed')
  console.log(`drain CPU per message: ${Object.entries(twin.drain.cpuUsPerMessage).map(([k, v]) => `${k} ${us(v)}`).join(', ')}`)

  const results = { twin, echo, nats: nats ?? null, ratios, goals, goalValues: GOALS, limits, phases, pids }
  const dirB = profileDir(nodeArgs('BENCH_TWIN_NODE_ARGS'))
  if (dirB !== undefined) {
    results.profile = summarizeProfiles([dirB], { phases, processes: pids, kind: 'messaging' })
    printProfileSummary(results.profile)
    results.perMessage = perMessageTable(results)
  }
  writeResults('messaging', results)
}
