import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from '../helpers.js'
import { Procs, waitFor, type Proc } from '../processes.js'
import { createClientNode, stopNode, type TwinLibp2p } from '../../../src/net/node.js'
import { encodeLength } from '../../../src/net/frames.js'
import { MESSAGE_PROTOCOL } from '../../../src/messaging/index.js'
import { STORAGE_PROTOCOL } from '../../../src/storage/service.js'

// Floods of connections, streams and half-sent frames against real processes, each from
// peers nobody admitted. What is asserted is what an operator would check: resident memory
// stays bounded during the attack, live memory (heap and buffers, after a collection) comes
// back once the attacker leaves, and the process still serves a fresh peer.

const MiB = 1024 * 1024
/** The bound: a flood may not cost a process more than this resident memory. */
const MAX_RSS_GROWTH = 256 * MiB
/** Live memory (heap + external, after a full collection) once the attacker left: "close to before". */
const MAX_LIVE_GROWTH_AFTER = 32 * MiB

/** How long an attacking stream waits for the target to take its bytes before it gives up waiting. */
const SEND_PATIENCE_MS = 10_000
/** Attacking peers that open their streams at the same time. */
const ATTACKERS_AT_ONCE = 5

const tmp = tempDir('twin-abuse-mem-')
const procs = new Procs()
const attackers: TwinLibp2p[] = []
afterAll(async () => {
  await Promise.all(attackers.map(stopNode))
  await procs.stopAll()
  tmp.cleanup()
})

/** Resident memory of a process, from /proc (what `top` shows). */
function rss (p: Proc): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))
  return Number(m?.[1]) * 1024
}

interface Report { memory: { rss: number, heapUsed: number, external: number }, connections: number, streams: Record<string, number>, buffered: number }

/** Asks a running role for its report (SIGUSR2: one JSON line on stderr, after a full collection). */
async function report (p: Proc): Promise<Report> {
  const from = p.stderr.length
  p.child.kill('SIGUSR2')
  return await waitFor(() => {
    const line = p.stderr.slice(from).split('\n').find(l => l.startsWith('{"report"'))
    return line === undefined ? undefined : (JSON.parse(line) as { report: Report }).report
  }, 10_000, 'a report', 20)
}

const live = (r: Report): number => r.memory.heapUsed + r.memory.external
const note = (what: string, bytes: number): void => { if (process.env.TWIN_TEST_VERBOSE === '1') console.log(`${what}: ${(bytes / MiB).toFixed(1)} MiB`) }

/**
 * Opens `streams` streams of `protocol` from each of `nodes` fresh peers and, on each, writes a
 * frame header announcing `announce` bytes followed by `send` of them: frames that never end.
 * Returns once every stream was refused, or its bytes were taken by the target, or the target
 * stopped taking them.
 */
async function halfFrames (target: string, protocol: string, o: { nodes: number, streams: number, announce: number, send: number }): Promise<{ opened: number }> {
  const payload = new Uint8Array(o.send).fill(7)
  let opened = 0
  // A few attacking peers at a time, so that the test process itself keeps up.
  for (let first = 0; first < o.nodes; first += ATTACKERS_AT_ONCE) {
    await Promise.all(Array.from({ length: Math.min(ATTACKERS_AT_ONCE, o.nodes - first) }, async () => {
      const node = await createClientNode()
      attackers.push(node)
      let conn
      try {
        conn = await node.dial(multiaddr(target), { signal: AbortSignal.timeout(20_000) })
      } catch {
        return // refused: the target's per-host limits at work
      }
      const sending: Array<Promise<unknown>> = []
      for (let i = 0; i < o.streams; i++) {
        try {
          const stream = await conn.newStream(protocol, { maxOutboundStreams: 100_000, signal: AbortSignal.timeout(20_000) })
          opened++
          stream.send(encodeLength(o.announce))
          // Then wait until the bytes left (the target took them) or the target stopped taking them.
          if (!stream.send(payload)) sending.push(Promise.race([stream.onDrain().catch(() => {}), new Promise(resolve => setTimeout(resolve, SEND_PATIENCE_MS))]))
        } catch { /* refused or reset by the target: what a bounded target does */ }
      }
      await Promise.all(sending)
    }))
  }
  return { opened }
}

/** Samples resident memory until it stops growing (two still samples in a row), returning the peak. */
async function peakRss (p: Proc): Promise<number> {
  let peak = rss(p)
  let still = 0
  const deadline = Date.now() + 30_000
  while (still < 2 && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 500))
    const now = rss(p)
    still = now > peak ? 0 : still + 1
    peak = Math.max(peak, now)
  }
  return peak
}

async function leave (): Promise<void> {
  await Promise.all(attackers.splice(0).map(stopNode))
}

describe('a storage node under a flood of unauthenticated streams', () => {
  /**
   * As found: streams each holding most of a 4 MB frame before any hello (750 of them took a
   * node from 117 MiB to 2.5 GiB); 150 streams of 3 MiB are enough to break the bound.
   */
  const NODES = 10
  const STREAMS = 15
  it('stays bounded, gives its memory back when the attacker leaves, and still serves a twin', async () => {
    const node = procs.spawn(['storage-node', '--home', join(tmp.path, 'sn'), '--quota', '64MiB', '--listen', '/ip4/127.0.0.1/tcp/0'])
    const address = (await node.ready()).addresses[0] as string
    const before = await report(node)
    const rssBefore = rss(node)

    // Frames announced far over what a stranger may send, then frames just under it, left unfinished.
    const big = await halfFrames(address, STORAGE_PROTOCOL, { nodes: NODES, streams: STREAMS, announce: 4 * MiB, send: 3 * MiB })
    const small = await halfFrames(address, STORAGE_PROTOCOL, { nodes: NODES, streams: STREAMS, announce: 70 * 1024, send: 60 * 1024 })
    expect(big.opened + small.opened).toBeGreaterThan(0)
    const peak = await peakRss(node)
    note('storage node rss growth', peak - rssBefore)
    expect(peak - rssBefore).toBeLessThan(MAX_RSS_GROWTH)

    await leave()
    await waitFor(async () => live(await report(node)) - live(before) < MAX_LIVE_GROWTH_AFTER, 60_000, 'live memory back near its level before the attack', 1000)
    expect((await report(node)).buffered).toBe(0)

    // A real twin can still use it.
    const t = await twinJson(['init', '--home', join(tmp.path, 'alice')])
    const alice = procs.spawn(['start', '--home', join(tmp.path, 'alice'), '--listen', '/ip4/127.0.0.1/tcp/0'])
    await alice.ready()
    expect(t.id).toMatch(/^b/)
    // The node serves only twins its operator admitted (test/e2e/abuse/storage.test.ts).
    await twinJson(['storage-node', 'allow', t.id, '--home', join(tmp.path, 'sn')])
    await twinJson(['storage', 'add', address, '--home', join(tmp.path, 'alice')])
    const status = await twinJson(['storage', 'status', '--home', join(tmp.path, 'alice')])
    expect(status.peers).toEqual([expect.objectContaining({ online: true })])
  }, 240_000)
})

describe('a twin under a flood of direct-message streams and stalled handshakes', () => {
  /** As found: 4,000 streams of the direct protocol, here each with most of a 290 KiB frame. */
  const NODES = 20
  const STREAMS = 200
  /** As found: one process keeping 150 TCP handshakes open without a word. */
  const STALLED = 150
  let bob: Proc
  let address: string

  it('stays bounded with 4,000 streams of half-sent frames, and gives its memory back', async () => {
    await twinJson(['init', '--home', join(tmp.path, 'bob')])
    bob = procs.spawn(['start', '--home', join(tmp.path, 'bob'), '--listen', '/ip4/127.0.0.1/tcp/0'])
    address = ((await bob.ready()).addresses as string[]).find(a => a.startsWith('/ip4/127.0.0.1/tcp/')) as string
    const before = await report(bob)
    const rssBefore = rss(bob)

    const flood = await halfFrames(address, MESSAGE_PROTOCOL, { nodes: NODES, streams: STREAMS, announce: 290 * 1024, send: 256 * 1024 })
    expect(flood.opened).toBeGreaterThan(0)
    const peak = await peakRss(bob)
    note('twin rss growth', peak - rssBefore)
    expect(peak - rssBefore).toBeLessThan(MAX_RSS_GROWTH)

    await leave()
    await waitFor(async () => live(await report(bob)) - live(before) < MAX_LIVE_GROWTH_AFTER, 60_000, 'live memory back near its level before the attack', 1000)
  }, 240_000)

  it('still accepts a fresh dial while another host holds 150 stalled handshakes', async () => {
    const port = Number(multiaddr(address).getComponents().find(c => c.name === 'tcp')?.value)
    // The attacker is another host (127.0.0.2); its sockets connect and then say nothing.
    const sockets: Socket[] = []
    await Promise.all(Array.from({ length: STALLED }, async () => {
      await new Promise<void>(resolve => {
        const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }, () => { resolve() })
        s.on('error', () => { resolve() })
        s.on('close', () => { resolve() })
        sockets.push(s)
      })
    }))
    try {
      // A fresh peer from this host dials and pings: it must get through while the stalled ones wait.
      const fresh = await createClientNode()
      attackers.push(fresh)
      const rtt = await (fresh.services.ping as { ping: (ma: ReturnType<typeof multiaddr>, o: { signal: AbortSignal }) => Promise<number> }).ping(multiaddr(address), { signal: AbortSignal.timeout(4_000) })
      expect(rtt).toBeGreaterThanOrEqual(0)
    } finally {
      for (const s of sockets) s.destroy()
    }
  }, 60_000)
})
