import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectCleanFailure, tempDir, twin, twinJson } from './helpers.js'
import { api, freePort, Procs, waitFor, type Proc } from './processes.js'

// One network for the whole file, as a user would have it: a relay, alice's twin and storage
// node processes started through bin/twin; scenarios run one after another on it.
const tmp = tempDir('twin-vault-')
const procs = new Procs()
afterAll(async () => {
  await procs.stopAll()
  tmp.cleanup()
})
const at = (...p: string[]): string => join(tmp.path, ...p)
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

interface StorageNode { n: number, port: number, proc: Proc, address: string, dir: string }
const nodes: StorageNode[] = []
async function startNode (n: number, quota = '2GiB', port?: number): Promise<StorageNode> {
  const p = port ?? await freePort()
  // Open nodes: admission is not the point here (test/e2e/abuse/storage.test.ts is about it).
  const proc = procs.spawn(['storage-node', '--open', '--home', at(`sn${n}`), '--dir', at(`sn${n}`, 'shards'), '--quota', quota, '--listen', `/ip4/127.0.0.1/tcp/${p}`])
  const ready = await proc.ready()
  const node = { n, port: p, proc, address: ready.addresses[0] as string, dir: at(`sn${n}`, 'shards') }
  nodes[n] = node
  return node
}

/** Shard addresses the twin says it uses: the index's and the latest snapshot's. */
async function referenced (): Promise<{ index: Map<string, { peer: string, status: string }>, all: Set<string> }> {
  const r = await api(alice.home, 'GET', '/v1/vault/shards')
  const index = new Map<string, { peer: string, status: string }>(r.shards.map((s: any) => [s.addr, s]))
  return { index, all: new Set([...r.shards.map((s: any) => s.addr), ...r.snapshot.map((s: any) => s.addr)]) }
}
const base = (p: string): string => p.split('/').pop()!

/**
 * Stores a file through the API the CLI uses, calling `onStarted` once the first progress line
 * arrives (the twin is reading the file), and returns every NDJSON line it answered.
 */
async function putLines (file: string, onStarted: () => void): Promise<any[]> {
  const api = JSON.parse(readFileSync(join(alice.home, 'api.json'), 'utf8'))
  const res = await fetch(api.url + '/v1/vault/put', { method: 'POST', headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ file }) })
  const lines: any[] = []
  let text = ''
  const decoder = new TextDecoder()
  for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(piece, { stream: true })
    let nl
    while ((nl = text.indexOf('\n')) !== -1) {
      const line = JSON.parse(text.slice(0, nl))
      text = text.slice(nl + 1)
      if (line.progress !== undefined && !lines.some(l => l.progress !== undefined)) onStarted()
      lines.push(line)
    }
  }
  return lines
}

/** Waits until the twin has written the index snapshot of its last change (it is debounced). */
async function snapshotSettled (): Promise<void> {
  await waitFor(async () => (await api(alice.home, 'GET', '/v1/vault/shards')).snapshotPending === false, 30_000, 'the index snapshot', 100)
}

/** Every shard file a node holds, for any owner. */
function shardFiles (dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    let entries: string[]
    try { entries = readdirSync(d) } catch { return }
    for (const e of entries) {
      const p = join(d, e)
      if (statSync(p).isDirectory()) walk(p)
      else if (/^[0-9a-f]{64}$/.test(e)) out.push(p)
    }
  }
  walk(dir)
  return out
}

let relay: string
let alice: { id: string, phrase: string, home: string }
let aliceProc: Proc
const startAlice = async (): Promise<void> => {
  aliceProc = procs.spawn(['start', '--home', alice.home, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0'])
  await aliceProc.ready()
}

beforeAll(async () => {
  relay = (await procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/127.0.0.1/tcp/0']).ready()).addresses[0]
  const a = await twinJson(['init', '--home', at('alice'), '--name', 'alice'])
  alice = { id: a.id, phrase: a.phrase, home: at('alice') }
  writeFileSync(at('alice.phrase'), a.phrase)
  await startAlice()
  await Promise.all([1, 2, 3, 4, 5, 6].map(async n => await startNode(n)))
  for (const n of [1, 2, 3, 4, 5, 6]) await twinJson(['storage', 'add', nodes[n]!.address, '--home', alice.home])
}, 120_000)

describe('the vault with six storage nodes (4 + 2)', () => {
  const files: Array<{ name: string, size: number, hash: string }> = []

  it('refuses bad input with a clear error: .., an empty path, a missing file, a file that changes while read', async () => {
    writeFileSync(at('small.txt'), 'small')
    expectCleanFailure(await twin(['put', at('small.txt'), '--as', '/a/../b', '--home', alice.home]), /cannot contain \. or \.\. parts/)
    expectCleanFailure(await twin(['put', at('small.txt'), '--as', '', '--home', alice.home]), /cannot be empty/)
    expectCleanFailure(await twin(['get', '/a/../b', '--home', alice.home]), /cannot contain/)
    expectCleanFailure(await twin(['put', at('missing.bin'), '--home', alice.home]), /cannot read .*missing\.bin/)
    expectCleanFailure(await twin(['get', '/nothing-here', '--home', alice.home]), /no file \/nothing-here in the vault/)
    // The file grows once the twin has started reading it (its first progress line), the way
    // a log file does: the put must notice and store nothing.
    writeFileSync(at('growing.bin'), randomBytes(96 * 1024 * 1024))
    const lines = await putLines(at('growing.bin'), () => { appendFileSync(at('growing.bin'), 'more') })
    expect(lines.at(-1)).toMatchObject({ code: 'FILE_CHANGED', error: expect.stringMatching(/changed while it was being stored; nothing was saved/) })
    expect((await twinJson(['ls', '--home', alice.home])).entries.map((e: any) => e.path)).not.toContain('/growing.bin')
    rmSync(at('growing.bin'))
  }, 120_000)

  it('stores 50 files of random sizes, and reads every one back byte for byte with two nodes killed', async () => {
    mkdirSync(at('set'))
    const sizes = [0, 1, 20 * 1024 * 1024, ...Array.from({ length: 47 }, () => Math.floor(20 * 1024 * 1024 * Math.random() ** 3))]
    sizes.forEach((size, i) => {
      const name = `f${String(i).padStart(2, '0')}.bin`
      writeFileSync(at('set', name), randomBytes(size))
      files.push({ name, size, hash: sha(at('set', name)) })
    })
    const put = await twinJson(['put', at('set'), '--as', '/set', '--home', alice.home])
    expect(put.files).toHaveLength(50)
    expect(put.files.find((f: any) => f.path === '/set/f02.bin')).toMatchObject({ size: 20 * 1024 * 1024, version: 1 })
    const ls = await twinJson(['ls', '/set', '--home', alice.home])
    expect(ls.entries).toHaveLength(50)
    expect(ls.entries[0]).toEqual({ path: '/set/f00.bin', size: 0, modified: expect.any(String), version: 1 })
    // Kill the two nodes that hold data shards of the most chunks: reading those chunks needs
    // parity and a real decode (with every data shard at hand a read only concatenates).
    const placed = await api(alice.home, 'GET', '/v1/vault/shards')
    const dataChunks = new Map<string, Set<string>>()
    for (const x of placed.shards) if (x.idx < 4) dataChunks.set(x.peer, (dataChunks.get(x.peer) ?? new Set()).add(x.chunk))
    const victims = [...dataChunks.entries()].sort((a, b) => b[1].size - a[1].size).slice(0, 2).map(([peer]) => nodes.find(n => n?.address.endsWith(`/p2p/${peer}`))!)
    const needDecode = new Set([...victims.flatMap(v => [...dataChunks.get(v.address.split('/p2p/')[1]!)!])])
    expect(needDecode.size).toBeGreaterThan(10)
    for (const v of victims) await v.proc.stop('SIGKILL')
    const decodedBefore = placed.reads.decoded
    for (const f of files) {
      const out = at('out', f.name)
      mkdirSync(at('out'), { recursive: true })
      const r = await twin(['get', `/set/${f.name}`, '-o', out, '--home', alice.home])
      expect(r.code, r.stderr).toBe(0)
      expect(sha(out), f.name).toBe(f.hash)
    }
    // Every chunk with a data shard on a killed node was rebuilt from parity, once.
    expect((await api(alice.home, 'GET', '/v1/vault/shards')).reads.decoded - decodedBefore).toBe(needDecode.size)
    const status = await twinJson(['storage', 'status', '--home', alice.home])
    expect(status.peers.filter((p: any) => !p.online)).toHaveLength(2)
    expect(status.lost).toBe(0)
    for (const v of victims) await startNode(v.n, '2GiB', v.port)
  }, 300_000)

  it('finds exactly one flipped bit and one deleted shard, repairs them, and verifies clean', async () => {
    const v0 = await twin(['verify', '--home', alice.home, '--json'])
    expect(JSON.parse(v0.stdout), v0.stdout + JSON.stringify([...(await referenced()).index.values()].filter(s => s.status !== 'ok'))).toMatchObject({ missing: 0, corrupt: 0 })
    const { index } = await referenced()
    const shards = shardFiles(nodes[1]!.dir).filter(f => index.has(base(f)) && statSync(f).size > 0).sort()
    const flipped = shards[3]!
    const bytes = readFileSync(flipped)
    bytes[Math.floor(bytes.length / 2)] = bytes[Math.floor(bytes.length / 2)]! ^ 0x10
    writeFileSync(flipped, bytes)
    rmSync(shards[7]!)
    const v1 = await twin(['verify', '--home', alice.home, '--json'])
    expect(v1.code).toBe(3)
    expect(JSON.parse(v1.stdout)).toMatchObject({ ok: expect.any(Number), missing: 1, corrupt: 1 })
    expect(JSON.parse(v1.stdout).checked).toBe(JSON.parse(v1.stdout).ok + 2)
    expect(await twinJson(['repair', '--home', alice.home])).toEqual({ repaired: 2, failed: 0 })
    expect(await twinJson(['verify', '--home', alice.home])).toMatchObject({ missing: 0, corrupt: 0 })
  }, 120_000)

  it('detects a node that answers with wrong bytes and rebuilds its shards on another node', async () => {
    const liar = nodes[2]!
    const { index } = await referenced()
    const held = shardFiles(liar.dir).filter(f => index.has(base(f)) && statSync(f).size > 0)
    expect(held.length).toBeGreaterThan(10)
    for (const f of held) {
      const b = readFileSync(f)
      b[0] = b[0]! ^ 0x01
      writeFileSync(f, b)
    }
    const spare = await startNode(7)
    await twinJson(['storage', 'add', spare.address, '--home', alice.home])
    const v = await twin(['verify', '--home', alice.home, '--json'])
    expect(JSON.parse(v.stdout).corrupt).toBe(held.length)
    const r = await twinJson(['repair', '--home', alice.home])
    expect(r).toEqual({ repaired: held.length, failed: 0 })
    expect(shardFiles(spare.dir).length).toBeGreaterThan(0)
    expect(await twinJson(['verify', '--home', alice.home])).toMatchObject({ missing: 0, corrupt: 0 })
    const f = files[2]!
    await twinJson(['get', `/set/${f.name}`, '-o', at('liar-check.bin'), '--home', alice.home])
    expect(sha(at('liar-check.bin'))).toBe(f.hash)
  }, 180_000)

  it('keeps the old version, and leaves no orphan shards, when the twin is killed in the middle of a 200 MiB put', async () => {
    writeFileSync(at('doc-v1.bin'), randomBytes(1024 * 1024))
    await twinJson(['put', at('doc-v1.bin'), '--as', '/doc.bin', '--home', alice.home])
    const onDisk = (): string[] => nodes.filter(Boolean).flatMap(x => shardFiles(x.dir)).sort()
    const count = (): number => onDisk().length
    await snapshotSettled()
    const before = onDisk()
    writeFileSync(at('doc-v2.bin'), randomBytes(200 * 1024 * 1024))
    const put = twin(['put', at('doc-v2.bin'), '--as', '/doc.bin', '--home', alice.home])
    await waitFor(() => count() > before.length + 20, 60_000, 'the big put to be under way', 50)
    await aliceProc.stop('SIGKILL')
    expect((await put).code).not.toBe(0)
    await startAlice()
    const ls = await twinJson(['ls', '--home', alice.home])
    expect(ls.entries.find((e: any) => e.path === '/doc.bin')).toMatchObject({ size: 1024 * 1024, version: 1 })
    await twinJson(['get', '/doc.bin', '-o', at('doc-back.bin'), '--home', alice.home])
    expect(sha(at('doc-back.bin'))).toBe(sha(at('doc-v1.bin')))
    // Orphans are collected when the twin starts: every shard the killed put left is deleted,
    // and what is left on the nodes is exactly what was there before it began.
    await waitFor(() => count() === before.length, 60_000, 'orphan shards to be collected')
    expect(onDisk()).toEqual(before)
    const { all } = await referenced()
    expect(before.every(f => all.has(base(f)))).toBe(true)
  }, 240_000)

  it('puts around a full node, and fails with a clear error, changing nothing, when no node has room', async () => {
    const full = await startNode(8, '1MiB')
    await twinJson(['storage', 'add', full.address, '--home', alice.home])
    writeFileSync(at('eight.bin'), randomBytes(8 * 1024 * 1024))
    const r = await twinJson(['put', at('eight.bin'), '--home', alice.home])
    expect(r.size).toBe(8 * 1024 * 1024)
    await twinJson(['get', '/eight.bin', '-o', at('eight-back.bin'), '--home', alice.home])
    expect(sha(at('eight-back.bin'))).toBe(sha(at('eight.bin')))
    expect(shardFiles(full.dir).reduce((n, f) => n + statSync(f).size, 0)).toBeLessThanOrEqual(1024 * 1024)

    // Bob's only storage node is tiny.
    const b = await twinJson(['init', '--home', at('bob'), '--name', 'bob'])
    procs.spawn(['start', '--home', at('bob'), '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0'])
    await waitFor(() => { try { statSync(at('bob', 'api.json')); return true } catch { return false } }, 30_000, 'bob to start')
    const tiny = await startNode(9, '1MiB')
    await twinJson(['storage', 'add', tiny.address, '--home', at('bob')])
    expect(b.id).toMatch(/^b/)
    expectCleanFailure(await twin(['put', at('eight.bin'), '--home', at('bob')]), /cannot store the file: no storage peer took shard .*full.*nothing was changed/)
    expect((await twinJson(['ls', '--home', at('bob')])).entries).toEqual([])
  }, 180_000)

  it('brings every file back, byte for byte, from the phrase alone after alice\'s home is deleted', async () => {
    const expected = (await twinJson(['ls', '--home', alice.home])).entries.map((e: any) => e.path).sort()
    await snapshotSettled()
    await aliceProc.stop('SIGTERM')
    rmSync(alice.home, { recursive: true, force: true })
    const r = await twinJson(['restore', '--phrase-file', at('alice.phrase'), '--bootstrap', relay, '--home', alice.home])
    expect(r).toMatchObject({ id: alice.id, kel: true })
    expect(r.storage).toBeGreaterThanOrEqual(6)
    await startAlice()
    const back = await waitFor(async () => { const e = (await twinJson(['ls', '--home', alice.home])).entries; return e.length === expected.length ? e : undefined }, 60_000, 'the restored index')
    expect(back.map((e: any) => e.path).sort()).toEqual(expected)
    for (const f of files) {
      const out = at('restored', f.name)
      mkdirSync(at('restored'), { recursive: true })
      await twinJson(['get', `/set/${f.name}`, '-o', out, '--home', alice.home])
      expect(sha(out), f.name).toBe(f.hash)
    }
    await twinJson(['get', '/eight.bin', '-o', at('eight-restored.bin'), '--home', alice.home])
    expect(sha(at('eight-restored.bin'))).toBe(sha(at('eight.bin')))
    await twinJson(['get', '/doc.bin', '-o', at('doc-restored.bin'), '--home', alice.home])
    expect(sha(at('doc-restored.bin'))).toBe(sha(at('doc-v1.bin')))
    expect((await api(alice.home, 'GET', '/v1/status')).id).toBe(alice.id)
  }, 240_000)
})
