// Messaging benchmark (issue 3). Two twins on loopback: twin A embedded in this process (the
// SDK), twin B a `bin/twin start` process, request/response with a 1 KiB payload, signed and
// sealed both ways. Baselines in the same run: raw libp2p echo of the same payload over the
// same transport (server in its own process), and NATS request-reply when nats-server is
// installed. Then: drain rate of a relay mailbox when an offline twin comes back.
import '../dist/polyfill.js'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, readFileSync } from 'node:fs'
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
import { TwinDaemon } from '../dist/twin/daemon.js'
import { printTable, quantile, TWIN, writeResults } from './lib.js'

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000
const PAYLOAD = 'x'.repeat(1024)
const BYTES = new Uint8Array(1024).fill(120)

/** Runs `request` from `concurrency` workers for DURATION_MS; returns rate and latency quantiles. */
async function measure (concurrency, request) {
  for (let i = 0; i < 50; i++) await request() // warm up
  const lat = []
  const deadline = performance.now() + DURATION_MS
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const s = performance.now()
      await request()
      lat.push(performance.now() - s)
    }
  }))
  const secs = (performance.now() - t0) / 1000
  return { concurrency, requests: lat.length, perSecond: lat.length / secs, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) }
}

function startProcess (cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const ready = new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', d => {
      out += d
      const nl = out.indexOf('\n')
      if (nl !== -1) resolve(JSON.parse(out.slice(0, nl)))
    })
    child.on('exit', code => reject(new Error(`${args.join(' ')} exited ${code}`)))
  })
  return { child, ready }
}

async function stopProcess (p) {
  if (p.child.exitCode !== null) return
  const done = new Promise(resolve => p.child.on('exit', resolve))
  p.child.kill('SIGTERM')
  await done
}

async function echoBaseline () {
  const server = startProcess(process.execPath, [new URL('./echo-server.js', import.meta.url).pathname])
  const { address } = await server.ready
  const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify(), ping: ping() } })
  try {
    const conn = await node.dial(multiaddr(address))
    const streams = []
    const worker = async () => {
      const lp = lpStream(await conn.newStream('/bench/echo/1', { maxOutboundStreams: 1024 }), { maxDataLength: 1 << 20 })
      streams.push(lp)
      return async () => { await lp.write(BYTES); await lp.read() }
    }
    const one = await worker()
    const c1 = await measure(1, one)
    const workers = await Promise.all(Array.from({ length: 64 }, worker))
    let i = 0
    const c64 = await measure(64, () => workers[i++ % 64]())
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
  await new Promise(resolve => setTimeout(resolve, 500))
  const { connect } = await import('nats')
  const nc1 = await connect({ servers: `127.0.0.1:${port}` })
  const nc2 = await connect({ servers: `127.0.0.1:${port}` })
  try {
    const sub = nc2.subscribe('echo')
    void (async () => { for await (const m of sub) m.respond(m.data) })()
    await nc2.flush()
    const request = async () => { await nc1.request('echo', BYTES, { timeout: 5000 }) }
    return { c1: await measure(1, request), c64: await measure(64, request) }
  } finally {
    await nc1.close()
    await nc2.close()
    server.kill('SIGTERM')
  }
}

function twinCli (args) {
  const r = spawnSync(process.execPath, [TWIN, ...args, '--json'], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`twin ${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

async function twinBench (dir) {
  const relay = startProcess(process.execPath, [TWIN, 'relay', '--home', join(dir, 'relay'), '--listen', '/ip4/127.0.0.1/tcp/0', '--json'])
  const relayAddr = (await relay.ready).addresses[0]
  twinCli(['init', '--home', join(dir, 'a'), '--name', 'A'])
  const b = twinCli(['init', '--home', join(dir, 'b'), '--name', 'B'])
  const bProc = startProcess(process.execPath, [TWIN, 'start', '--home', join(dir, 'b'), '--bootstrap', relayAddr, '--listen', '/ip4/127.0.0.1/tcp/0', '--json'])
  await bProc.ready
  const a = new TwinDaemon(join(dir, 'a'), { bootstrap: [relayAddr], listen: ['/ip4/127.0.0.1/tcp/0'] })
  await a.start()
  try {
    const request = async () => { await a.messaging.request(b.id, 'twin.ping', { data: PAYLOAD }, { timeoutMs: 10_000 }) }
    const c1 = await measure(1, request)
    const c64 = await measure(64, request)

    // Mailbox drain: B goes offline, A sends N messages (left at the relay), B comes back.
    const N = Number(process.env.BENCH_DRAIN ?? 2000)
    await stopProcess(bProc)
    for (let i = 0; i < N; i++) a.messaging.send(b.id, 'chat.message', { text: `m${i}` })
    const t0 = Date.now()
    while (a.messaging.queueSizes().relayed !== N) {
      if (Date.now() - t0 > 120_000) throw new Error('messages were not left at the relay in time')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    const b2 = startProcess(process.execPath, [TWIN, 'start', '--home', join(dir, 'b'), '--listen', '/ip4/127.0.0.1/tcp/0', '--json'])
    await b2.ready
    const started = Date.now()
    const apiFile = JSON.parse(readFileSync(join(dir, 'b', 'api.json'), 'utf8'))
    let count = 0
    while (count < N) {
      const s = await (await fetch(apiFile.url + '/v1/status', { headers: { authorization: `Bearer ${apiFile.token}` } })).json()
      count = s.inbox
      if (Date.now() - started > 120_000) throw new Error(`drain stalled at ${count}`)
      if (count < N) await new Promise(resolve => setTimeout(resolve, 20))
    }
    const drainSecs = (Date.now() - started) / 1000
    await stopProcess(b2)
    return { c1, c64, drain: { messages: N, seconds: drainSecs, perSecond: N / drainSecs } }
  } finally {
    await a.stop()
    await stopProcess(bProc)
    await stopProcess(relay)
  }
}

export async function run () {
  const dir = mkdtempSync(join(tmpdir(), 'twin-bench-msg-'))
  try {
    const echo = await echoBaseline()
    const nats = await natsBaseline()
    const twin = await twinBench(dir)
    const fmt = (name, r) => ({ system: name, conc: r.concurrency, 'req/s': r.perSecond.toFixed(0), 'p50 ms': r.p50Ms.toFixed(2), 'p99 ms': r.p99Ms.toFixed(2) })
    const rows = [fmt('twin request/response', twin.c1), fmt('twin request/response', twin.c64), fmt('raw libp2p echo', echo.c1), fmt('raw libp2p echo', echo.c64)]
    if (nats !== undefined) rows.push(fmt('NATS request-reply', nats.c1), fmt('NATS request-reply', nats.c64))
    printTable(`request/response, 1 KiB payload, ${DURATION_MS / 1000} s per row`, rows)
    const ratios = {
      twinOverEchoC64: twin.c64.perSecond / echo.c64.perSecond,
      twinOverEchoC1: twin.c1.perSecond / echo.c1.perSecond,
      ...(nats === undefined ? {} : { twinOverNatsC64: twin.c64.perSecond / nats.c64.perSecond, twinOverNatsC1: twin.c1.perSecond / nats.c1.perSecond })
    }
    const goals = { throughputC64: ratios.twinOverEchoC64 >= 0.5, p99C1: twin.c1.p99Ms < 5 }
    console.log(`\ntwin / raw echo at c=64: ${(ratios.twinOverEchoC64 * 100).toFixed(0)}% (goal >= 50%: ${goals.throughputC64 ? 'met' : 'MISSED'})`)
    console.log(`twin p99 at c=1: ${twin.c1.p99Ms.toFixed(2)} ms (goal < 5 ms: ${goals.p99C1 ? 'met' : 'MISSED'})`)
    if (nats !== undefined) console.log(`twin / NATS at c=64: ${(ratios.twinOverNatsC64 * 100).toFixed(0)}%, at c=1: ${(ratios.twinOverNatsC1 * 100).toFixed(0)}%`)
    else console.log('NATS baseline skipped: nats-server is not installed')
    console.log(`mailbox drain on reconnect: ${twin.drain.messages} messages in ${twin.drain.seconds.toFixed(2)} s = ${twin.drain.perSecond.toFixed(0)} messages/s`)
    writeResults('messaging', { twin, echo, nats: nats ?? null, ratios, goals })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
