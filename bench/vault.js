// Vault benchmark (issues 4 and 8), measured as a user meets it: `twin put` and `twin get -o FILE`
// as commands against a running `twin start` and six `twin storage-node --open` processes on
// loopback (4 + 2), compared with `restic backup` and `restic restore` as commands to a local
// repository, in the same run, on the same file, each writing to disk. Every timer starts just
// before the command is spawned and stops when it exits.
//
// The data is incompressible and does not deduplicate (an AES-256-CTR keystream under a fresh
// key for each file), and the run checks it: the number of distinct chunks the twin stored
// (GET /v1/vault/shards) must equal the number of chunks the twin's chunker cuts from the file.
// Dedupe has rows of its own: the same content stored again under a new name, and the file with
// 1 KiB inserted in its middle, each with the share of its bytes that was not stored again.
//
// Then: a get with two of the six nodes killed (the two holding the most data shards, so data
// shards are missing and chunks must be decoded); repair onto two fresh nodes, counting only the
// bytes of the shards that moved off the lost nodes; and the peak resident memory of a fresh twin
// (its process and every descendant process; worker threads are inside the process) during a
// put of BENCH_VAULT_BIG_MIB of non-deduplicating data, also as growth over the idle twin.
//
// Sizes: BENCH_VAULT_MIB (default 256), BENCH_VAULT_BIG_MIB (default 2048, 0 skips the memory
// row). Profiles: BENCH_TWIN_NODE_ARGS / BENCH_STORAGE_NODE_ARGS are given to the twin / storage
// node processes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/vprof"); the profiles are summarized per
// phase at the end (bench/profile.js).
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { closeSync, copyFileSync, createReadStream, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { childrenCpu, goal, loadChunker, MIB, nodeArgs, printTable, processCpu, profileDir, runCommand, sleep, startProcess, stopProcess, TWIN, twinApi, twinCommand, writeResults } from './lib.js'
import { limitRows, measureLimits } from './machine.js'
import { summarizeProfiles, printProfileSummary } from './profile.js'

const SIZE = Math.round(Number(process.env.BENCH_VAULT_MIB ?? 256) * MIB)
const BIG = Math.round(Number(process.env.BENCH_VAULT_BIG_MIB ?? 2048) * MIB)
const NODES = 6
const SPARES = 2
const GOALS = { putRatio: 1.0, getRatio: 1.0, degradedRatio: 0.8, repairMiBs: 100, peakMiB: 256 }

const log = text => process.stderr.write(`vault bench: ${text}\n`)

/** Incompressible bytes that do not repeat: the AES-256-CTR keystream of a fresh random key. */
function writeIncompressible (path, size) {
  const cipher = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16))
  const zeros = Buffer.alloc(8 * MIB)
  const fd = openSync(path, 'w')
  try {
    for (let done = 0; done < size; done += zeros.length) writeSync(fd, cipher.update(zeros.subarray(0, Math.min(zeros.length, size - done))))
  } finally {
    closeSync(fd)
  }
}

/** A copy of `from` with `insert` random bytes inserted at its middle: a small edit that shifts what follows. */
function writeEdited (from, to, insert) {
  const input = openSync(from, 'r')
  const output = openSync(to, 'w')
  const buf = Buffer.alloc(8 * MIB)
  let pos = 0
  let inserted = false
  const middle = Math.floor(SIZE / 2)
  try {
    for (;;) {
      const want = inserted ? buf.length : Math.min(buf.length, middle - pos)
      const n = readSync(input, buf, 0, want, pos)
      if (n > 0) writeSync(output, buf, 0, n)
      pos += n
      if (!inserted && pos === middle) { writeSync(output, randomBytes(insert)); inserted = true; continue }
      if (n === 0) break
    }
  } finally {
    closeSync(input)
    closeSync(output)
  }
}

function fileHash (path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path).on('data', d => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject)
  })
}

/** How many chunks the twin's chunker cuts from a file (undefined when the chunker cannot be loaded). */
async function countChunks (chunker, path) {
  if (chunker === undefined) return undefined
  let n = 0
  for await (const _ of chunker.chunkStream(createReadStream(path, { highWaterMark: MIB }), chunker.DEFAULT_CHUNKING)) n++
  return n
}

// ---- /proc: resident memory of a process and its descendants --------------------------------

function procStatus (pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0 // the process ended between the listing and the read
  }
}

/** The process and all its descendants (worker processes); threads are part of their process. */
function processTree (pid) {
  const all = [pid]
  for (let i = 0; i < all.length; i++) {
    let tasks
    try { tasks = readdirSync(`/proc/${all[i]}/task`) } catch { continue } // gone
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${all[i]}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c !== '') all.push(Number(c))
      } catch { /* the thread ended */ }
    }
  }
  return all
}

const treeRss = pid => processTree(pid).reduce((sum, p) => sum + procStatus(p, 'VmRSS'), 0)
const treeHwm = pid => processTree(pid).reduce((sum, p) => sum + procStatus(p, 'VmHWM'), 0)
/** Resets the peak resident size (VmHWM) of the tree: "5" to clear_refs (Linux 4.0 and later). */
function resetPeaks (pid) {
  for (const p of processTree(pid)) {
    try { writeFileSync(`/proc/${p}/clear_refs`, '5') } catch { /* not allowed here: VmHWM then counts from the process start */ }
  }
}

// ---- the twin through its API, for what the CLI does not show --------------------------------

async function shards (home) {
  return await twinApi(home, 'GET', '/v1/vault/shards')
}

/** Waits until the index snapshot that follows every change is written, so phases do not overlap. */
async function settle (home) {
  const deadline = Date.now() + 120_000
  while ((await shards(home)).snapshotPending) {
    if (Date.now() > deadline) throw new Error('the index snapshot did not finish in two minutes')
    await sleep(100)
  }
}

/** Distinct chunks in the index and their data bytes (k data shards each). */
function chunkSet (list, k) {
  const chunks = new Map()
  for (const s of list.shards) {
    const c = chunks.get(s.chunk) ?? { shards: 0, size: s.size ?? 0 }
    c.shards++
    chunks.set(s.chunk, c)
  }
  let dataBytes = 0
  let storedBytes = 0
  for (const c of chunks.values()) { dataBytes += k * c.size; storedBytes += c.shards * c.size }
  return { chunks, dataBytes, storedBytes }
}

/** What one restic backup did, from its `--json` summary line. */
function resticSummary (stdout) {
  const lines = stdout.trim().split('\n').map(l => { try { return JSON.parse(l) } catch { return {} } })
  const s = lines.find(l => l.message_type === 'summary')
  if (s === undefined) throw new Error('restic backup printed no summary')
  return { dataAdded: s.data_added, processed: s.total_bytes_processed }
}

const mibs = (bytes, secs) => bytes / MIB / secs
const f0 = x => x === undefined || x === null ? 'n/a' : x.toFixed(0)
const f2 = x => x === undefined || x === null ? 'n/a' : x.toFixed(2)

/**
 * Where a put's time goes per MiB of the file, step by step, against the machine's limits for
 * the passes over the bytes each step makes by design (4 + 2: shards are 1.5 times the file).
 * Measured: the CPU time of the twin's and the storage nodes' main threads (/proc), split by
 * the shares of their CPU profiles' busy samples. (A profile samples wall time: on a loaded
 * machine a thread that waits for a core still collects samples, so the profile's own
 * milliseconds overstate CPU time; its shares do not.) Other threads (libuv's pool: the
 * erasure code, fs calls, fsync; V8's helpers) are a row of their own, from /proc.
 */
export function perByteTable (r, put) {
  const l = r.limits
  const msPerMiB = rate => rate === null || rate === undefined ? undefined : 1000 * MIB / rate
  const perMiB = SIZE / MIB
  const split = (cats, cpuSeconds) => {
    const busy = Object.entries(cats ?? {}).filter(([k]) => k !== 'idle').reduce((a, [, v]) => a + v, 0)
    return re => busy === 0 ? 0 : 1000 * cpuSeconds * Object.entries(cats).filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0) / busy / perMiB
  }
  const twin = split(r.profile.twin?.put?.categories, put.cpu.twinMain)
  const nodes = split(r.profile['storage node']?.put?.categories, put.cpu.storageMain)
  const steps = [
    ['read (file to memory)', '1 copy', msPerMiB(l.memcpy1MiB), /^file read/],
    ['chunk (gear hash over every byte)', '1 (memcpy as floor)', msPerMiB(l.memcpy1MiB), /^chunk/],
    ['hash (HMAC chunk id, file SHA-256)', '2 SHA-256', 2 * msPerMiB(l.sha256_1MiB), /^hash/],
    ['encrypt (AES-256-GCM)', '1 AES-GCM', msPerMiB(l.aes256gcm1MiB), /^encrypt/],
    ['erasure code 4 + 2 (JS side; native in other threads)', '1 (goal 2 GiB/s)', 1000 / 2048, /^erasure/],
    ['Merkle (shard addresses; nodes check them)', '1.5 SHA-256 twin + 1.5 nodes', 3 * msPerMiB(l.sha256_1MiB), /^Merkle/],
    ['network (Noise, Yamux, socket)', '1.5 ChaCha20-Poly1305 twin + 1.5 nodes', 3 * msPerMiB(l.chacha20poly1305_1MiB), /^network/],
    ['disk (shard files; the fsync itself is I/O time)', '1.5 written, fsync per shard', 1.5 * msPerMiB(l.fsyncEvery256KiB?.bytesPerSecond), /^disk/],
    ['index (SQLite, fsync per transaction)', '-', undefined, /^index/],
    ['garbage collection (main thread)', '-', undefined, /^garbage/],
    ['everything else (bookkeeping, API, codec, other)', '-', undefined, /^(vault|local API|encode|other|native|start-up)/]
  ]
  const rows = steps.map(([step, passes, limit, re]) => ({ step, passes, limit, twin: twin(re), nodes: nodes(re) }))
  rows.push({ step: 'other threads (libuv pool: erasure, fs, fsync; GC helpers)', passes: '-', limit: undefined, twin: 1000 * put.cpu.twinOther / perMiB, nodes: 1000 * put.cpu.storageOther / perMiB })
  rows.push({ step: 'the twin CLI process', passes: '-', limit: undefined, twin: 1000 * put.cpu.command / perMiB, nodes: 0 })
  const cpuTotal = Object.values(put.cpu).reduce((a, b) => a + b, 0)
  const limitTotal = rows.reduce((a, x) => a + (x.limit ?? 0), 0)
  printTable(`where a put's time goes, CPU ms per MiB of the file (limits: one core, this run; all processes together: ${(1000 * cpuTotal / perMiB).toFixed(1)} ms per MiB, against ${limitTotal.toFixed(1)} for the limits, disk included)`,
    rows.map(x => ({
      step: x.step,
      'passes by design': x.passes,
      'limit ms/MiB': x.limit === undefined ? '-' : x.limit.toFixed(2),
      twin: x.twin.toFixed(2),
      'storage nodes': x.nodes.toFixed(2),
      'x limit': x.limit === undefined ? '-' : `${((x.twin + x.nodes) / x.limit).toFixed(1)}`
    })))
  return { rows, cpuMsPerMiB: 1000 * cpuTotal / perMiB, limitMsPerMiB: limitTotal }
}

export async function run () {
  const dir = mkdtempSync(join(tmpdir(), 'twin-bench-vault-'))
  const procs = []
  const phases = []
  const twinArgs = nodeArgs('BENCH_TWIN_NODE_ARGS')
  const nodeArgsStorage = nodeArgs('BENCH_STORAGE_NODE_ARGS')
  const pids = { twin: [], storage: [] }
  const r = { sizeMiB: SIZE / MIB, bigMiB: BIG / MIB, nodes: NODES, data: {}, put: {}, get: {}, degradedGet: {}, repair: {}, memory: {}, dedupeSame: {}, dedupeEdit: {}, cp: {} }
  const table = []
  const goals = {}
  /**
   * Runs one timed command and records its phase: wall time, and CPU seconds from /proc of the
   * twin (main thread, other threads), of the storage nodes and of the command itself (the
   * `twin` CLI process, or restic), so work done anywhere is counted.
   */
  const timed = async (name, bytes, command) => {
    const cpu = () => {
      const t = pids.twin.map(processCpu).reduce((a, x) => ({ total: a.total + x.total, main: a.main + x.main }), { total: 0, main: 0 })
      const n = pids.storage.map(processCpu).reduce((a, x) => ({ total: a.total + x.total, main: a.main + x.main }), { total: 0, main: 0 })
      return { twinMain: t.main, twinOther: t.total - t.main, storageMain: n.main, storageOther: n.total - n.main, command: childrenCpu() }
    }
    const before = cpu()
    const result = await command()
    const after = cpu()
    const used = Object.fromEntries(Object.keys(before).map(k => [k, Math.max(0, after[k] - before[k])]))
    phases.push({ name, startUs: result.startUs, endUs: result.endUs, bytes, seconds: result.seconds, cpu: used })
    return result
  }
  try {
    log('measuring the machine limits (openssl speed, memcpy, fsync)')
    r.limits = measureLimits('vault', dir)

    log(`writing ${SIZE / MIB} MiB of incompressible, non-repeating data`)
    const file = join(dir, 'file.bin')
    writeIncompressible(file, SIZE)
    const hash = await fileHash(file)
    const chunker = await loadChunker()
    r.data.chunks = await countChunks(chunker, file)

    const cp = await runCommand('cp', [file, join(dir, 'copy.bin')])
    rmSync(join(dir, 'copy.bin'))
    r.cp = { seconds: cp.seconds, mibPerSecond: mibs(SIZE, cp.seconds) }

    // ---- restic, as commands, to a local repository on the same disk --------------------------
    const restic = { RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: join(dir, 'restic'), RESTIC_CACHE_DIR: join(dir, 'restic-cache') }
    const haveRestic = (await runCommand('sh', ['-c', 'command -v restic'], { allowFail: true })).code === 0
    let resticFirst
    if (haveRestic) {
      log('restic backup and restore')
      await runCommand('restic', ['init'], { env: restic })
      const backup = await timed('restic backup', SIZE, async () => await runCommand('restic', ['backup', '--json', file], { env: restic }))
      resticFirst = resticSummary(backup.stdout)
      r.put.restic = { seconds: backup.seconds, mibPerSecond: mibs(SIZE, backup.seconds), dataAdded: resticFirst.dataAdded }
      const target = join(dir, 'restored')
      const restore = await timed('restic restore', SIZE, async () => await runCommand('restic', ['restore', 'latest', '--target', target], { env: restic }))
      if (await fileHash(join(target, file)) !== hash) throw new Error('restic restored different bytes')
      r.get.restic = { seconds: restore.seconds, mibPerSecond: mibs(SIZE, restore.seconds) }
      rmSync(target, { recursive: true, force: true })
    } else {
      log('restic is not installed: its rows are skipped')
    }

    // ---- the twin and its storage nodes ------------------------------------------------------
    log('starting a twin and eight open storage nodes (six used, two spares for the repair)')
    const home = join(dir, 'twin')
    await twinCommand(['init', '--home', home, '--name', 'bench'])
    const twin = startProcess(process.execPath, [...twinArgs, TWIN, 'start', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0', '--json'])
    procs.push(twin)
    pids.twin.push(twin.child.pid)
    const nodes = Array.from({ length: NODES + SPARES }, (_, i) => {
      const p = startProcess(process.execPath, [...nodeArgsStorage, TWIN, 'storage-node', '--home', join(dir, `sn${i}`), '--open', '--quota', '100GiB', '--listen', '/ip4/127.0.0.1/tcp/0', '--json'])
      pids.storage.push(p.child.pid)
      return p
    })
    procs.push(...nodes)
    await twin.ready
    const nodeInfo = await Promise.all(nodes.map(async n => await n.ready))
    for (const n of nodeInfo.slice(0, NODES)) await twinCommand(['storage', 'add', n.addresses[0], '--home', home])
    await settle(home)
    const code = (await twinApi(home, 'GET', '/v1/storage/status')).code
    if (code.k + code.m !== NODES) throw new Error(`expected a ${NODES}-shard code with ${NODES} nodes, the twin uses ${code.k} + ${code.m}`)

    log('twin put')
    const put = await timed('put', SIZE, async () => await twinCommand(['put', file, '--as', '/file.bin', '--home', home]))
    if (put.json.hash !== hash) throw new Error('twin put reports another hash than the file has')
    await settle(home)
    const afterPut = chunkSet(await shards(home), code.k)
    r.data.uniqueChunks = afterPut.chunks.size
    r.data.storedBytes = afterPut.storedBytes
    r.data.deduplicated = r.data.chunks === undefined ? afterPut.dataBytes < SIZE : afterPut.chunks.size !== r.data.chunks
    r.data.check = r.data.chunks === undefined
      ? `data shards cover the file (${afterPut.dataBytes} >= ${SIZE} bytes); the chunker could not be loaded to count chunks`
      : `${afterPut.chunks.size} distinct chunks stored for ${r.data.chunks} chunks cut`
    if (r.data.deduplicated) throw new Error(`the benchmark data deduplicated: ${r.data.check}`)
    r.put.twin = { seconds: put.seconds, mibPerSecond: mibs(SIZE, put.seconds) }

    log('twin get')
    const out = join(dir, 'out.bin')
    const get = await timed('get', SIZE, async () => await twinCommand(['get', '/file.bin', '-o', out, '--home', home]))
    if (await fileHash(out) !== hash) throw new Error('twin get wrote different bytes')
    rmSync(out)
    r.get.twin = { seconds: get.seconds, mibPerSecond: mibs(SIZE, get.seconds) }

    // ---- dedupe, where it is the point --------------------------------------------------------
    log('dedupe: the same content again, and a small edit')
    const same = join(dir, 'same.bin')
    copyFileSync(file, same)
    const edited = join(dir, 'edited.bin')
    writeEdited(file, edited, 1024)
    const editedSize = SIZE + 1024
    const twinRefPerByte = afterPut.storedBytes / SIZE
    const resticRefPerByte = resticFirst === undefined ? undefined : resticFirst.dataAdded / resticFirst.processed
    for (const [key, path, as, size] of [['dedupeSame', same, '/same.bin', SIZE], ['dedupeEdit', edited, '/edited.bin', editedSize]]) {
      if (haveRestic) {
        const b = await timed(`restic ${key}`, size, async () => await runCommand('restic', ['backup', '--json', path], { env: restic }))
        const s = resticSummary(b.stdout)
        r[key].restic = { seconds: b.seconds, mibPerSecond: mibs(size, b.seconds), dataAdded: s.dataAdded, dedupeRatio: Math.max(0, 1 - (s.dataAdded / s.processed) / resticRefPerByte) }
      }
      const before = chunkSet(await shards(home), code.k)
      const p = await timed(key, size, async () => await twinCommand(['put', path, '--as', as, '--home', home]))
      await settle(home)
      const after = chunkSet(await shards(home), code.k)
      const added = after.storedBytes - before.storedBytes
      r[key].twin = { seconds: p.seconds, mibPerSecond: mibs(size, p.seconds), storedBytes: added, newChunks: after.chunks.size - before.chunks.size, dedupeRatio: Math.max(0, 1 - (added / size) / twinRefPerByte) }
    }
    rmSync(same)
    rmSync(edited)

    // ---- two nodes down: the two holding the most data shards ----------------------------------
    const list = await shards(home)
    const dataShards = new Map()
    for (const s of list.shards) if (s.idx < code.k) dataShards.set(s.peer, (dataShards.get(s.peer) ?? 0) + 1)
    const down = [...dataShards.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([peer]) => peer)
    const downNodes = down.map(peer => nodes[nodeInfo.findIndex(n => n.peerId === peer)])
    log(`degraded get: killing the nodes holding ${down.map(p => dataShards.get(p)).join(' and ')} data shards`)
    for (const n of downNodes) await stopProcess(n, 'SIGKILL')
    const readsBefore = list.reads
    const degraded = await timed('degradedGet', SIZE, async () => await twinCommand(['get', '/file.bin', '-o', out, '--home', home]))
    if (await fileHash(out) !== hash) throw new Error('the degraded get wrote different bytes')
    rmSync(out)
    const readsAfter = (await shards(home)).reads
    r.degradedGet = {
      twin: { seconds: degraded.seconds, mibPerSecond: mibs(SIZE, degraded.seconds) },
      downDataShards: down.map(p => dataShards.get(p)),
      chunksRead: readsAfter.chunks - readsBefore.chunks,
      chunksDecoded: readsAfter.decoded - readsBefore.decoded
    }
    if (r.degradedGet.chunksDecoded === 0) throw new Error('the degraded get decoded no chunk: no data shard was missing')
    r.degradedGet.ratio = r.degradedGet.twin.mibPerSecond / r.get.twin.mibPerSecond

    // ---- repair onto two fresh nodes ---------------------------------------------------------
    log('repair')
    // The new nodes first, then the lost ones out: the index snapshot that follows each change
    // always has six reachable nodes.
    for (const n of nodeInfo.slice(NODES)) await twinCommand(['storage', 'add', n.addresses[0], '--home', home])
    for (const peer of down) await twinCommand(['storage', 'remove', peer, '--home', home])
    await settle(home)
    const beforeRepair = new Map((await shards(home)).shards.map(s => [`${s.chunk}/${s.idx}`, s]))
    const repair = await timed('repair', 0, async () => await twinCommand(['repair', '--home', home], { allowFail: true }))
    const afterRepair = (await shards(home)).shards
    let rebuiltBytes = 0
    let rebuiltShards = 0
    for (const s of afterRepair) {
      const b = beforeRepair.get(`${s.chunk}/${s.idx}`)
      if (b !== undefined && down.includes(b.peer) && !down.includes(s.peer) && s.status === 'ok') { rebuiltBytes += s.size; rebuiltShards++ }
    }
    const stillLost = afterRepair.filter(s => down.includes(s.peer)).length
    phases[phases.length - 1].bytes = rebuiltBytes
    r.repair = {
      twin: { seconds: repair.seconds, rebuiltShards, rebuiltBytes, mibPerSecond: mibs(rebuiltBytes, repair.seconds), reported: repair.json },
      shardsLeftOnLostNodes: stillLost
    }
    // The rate counts only a complete repair whose own count agrees with the shards that moved.
    const reported = repair.json ?? {}
    if (stillLost > 0 || reported.failed !== 0 || reported.repaired !== rebuiltShards) {
      throw new Error(`the repair is not complete or does not add up: ${rebuiltShards} shards moved off the lost nodes, ${stillLost} left there, the command said ${JSON.stringify(repair.json)}`)
    }
    await settle(home)
    await stopProcess(twin)

    // ---- peak memory of a fresh twin during a big put -----------------------------------------
    if (BIG > 0) {
      log(`peak memory: a fresh twin stores ${BIG / MIB} MiB`)
      const big = join(dir, 'big.bin')
      rmSync(file)
      writeIncompressible(big, BIG)
      const bigChunks = await countChunks(chunker, big)
      const home2 = join(dir, 'twin2')
      await twinCommand(['init', '--home', home2, '--name', 'bench2'])
      const twin2 = startProcess(process.execPath, [...twinArgs, TWIN, 'start', '--home', home2, '--listen', '/ip4/127.0.0.1/tcp/0', '--json'])
      procs.push(twin2)
      pids.twin.push(twin2.child.pid)
      await twin2.ready
      const live = nodeInfo.filter(n => !down.includes(n.peerId))
      for (const n of live) await twinCommand(['storage', 'add', n.addresses[0], '--home', home2])
      await settle(home2)
      await sleep(2000)
      const pid = twin2.child.pid
      const idle = treeRss(pid)
      resetPeaks(pid)
      let sampled = idle
      const sampler = setInterval(() => { sampled = Math.max(sampled, treeRss(pid)) }, 20)
      const p = await timed('bigPut', BIG, async () => await twinCommand(['put', big, '--as', '/big.bin', '--home', home2])).finally(() => clearInterval(sampler))
      const hwm = treeHwm(pid)
      await settle(home2)
      const stored = chunkSet(await shards(home2), code.k)
      const deduplicated = bigChunks === undefined ? stored.dataBytes < BIG : stored.chunks.size !== bigChunks
      if (deduplicated) throw new Error(`the big file deduplicated: ${stored.chunks.size} distinct chunks for ${bigChunks}`)
      r.memory = {
        twin: { idleMiB: idle / MIB, peakMiB: Math.max(hwm, sampled) / MIB, hwmMiB: hwm / MIB, sampledPeakMiB: sampled / MIB, growthMiB: (Math.max(hwm, sampled) - idle) / MIB, processes: processTree(pid).length },
        put: { seconds: p.seconds, mibPerSecond: mibs(BIG, p.seconds) },
        data: { chunks: bigChunks, uniqueChunks: stored.chunks.size }
      }
      rmSync(big)
    }
  } finally {
    for (const p of procs) await stopProcess(p).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }

  // ---- report ----------------------------------------------------------------------------------
  printTable('machine limits, same run (one core)', limitRows(r.limits))
  const add = (key, g) => { const x = goal(g); table.push(x.row); if (key !== undefined) goals[key] = x.met }
  r.put.ratio = r.put.restic === undefined ? null : r.put.twin.mibPerSecond / r.put.restic.mibPerSecond
  r.get.ratio = r.get.restic === undefined ? null : r.get.twin.mibPerSecond / r.get.restic.mibPerSecond
  const base = x => x === undefined ? 'n/a' : `${f0(x.mibPerSecond)} MiB/s`
  add('put', { what: `put ${SIZE / MIB} MiB, MiB/s (restic backup)`, baseline: base(r.put.restic), twin: base(r.put.twin), value: r.put.ratio, atLeast: GOALS.putRatio, unit: 'x' })
  add('get', { what: `get ${SIZE / MIB} MiB to a file (restic restore)`, baseline: base(r.get.restic), twin: base(r.get.twin), value: r.get.ratio, atLeast: GOALS.getRatio, unit: 'x' })
  add('degradedGet', { what: `get, 2 of 6 nodes down, ${r.degradedGet.chunksDecoded}/${r.degradedGet.chunksRead} chunks decoded (healthy get)`, baseline: base(r.get.twin), twin: base(r.degradedGet.twin), value: r.degradedGet.ratio, atLeast: GOALS.degradedRatio, unit: 'x' })
  add('repair', { what: `repair: ${r.repair.twin.rebuiltShards} shards, ${f0(r.repair.twin.rebuiltBytes / MIB)} MiB rebuilt in ${f2(r.repair.twin.seconds)} s`, twin: base(r.repair.twin), value: r.repair.twin.mibPerSecond, atLeast: GOALS.repairMiBs, unit: ' MiB/s' })
  if (BIG > 0) {
    add('peakRss', { what: `peak RSS, put of ${BIG / MIB} MiB at ${f0(r.memory.put.mibPerSecond)} MiB/s (idle twin)`, baseline: `${f0(r.memory.twin.idleMiB)} MiB`, twin: `${f0(r.memory.twin.peakMiB)} MiB (+${f0(r.memory.twin.growthMiB)})`, value: r.memory.twin.peakMiB, atMost: GOALS.peakMiB, unit: ' MiB' })
  }
  for (const [key, what] of [['dedupeSame', 'same content stored again'], ['dedupeEdit', '1 KiB inserted in the middle']]) {
    const x = r[key]
    r[key].ratio = x.restic === undefined ? null : x.twin.mibPerSecond / x.restic.mibPerSecond
    add(undefined, {
      what: `dedupe, ${what}, MiB/s [share not stored again]`,
      baseline: x.restic === undefined ? 'n/a' : `${f0(x.restic.mibPerSecond)} [${(100 * x.restic.dedupeRatio).toFixed(1)}%]`,
      twin: `${f0(x.twin.mibPerSecond)} [${(100 * x.twin.dedupeRatio).toFixed(1)}%]`,
      value: r[key].ratio,
      unit: 'x'
    })
  }
  printTable(`vault, ${SIZE / MIB} MiB of non-deduplicating data (${r.data.check}), ${NODES} storage node processes (4 + 2) on loopback; timers from the command's start to its exit`, table)
  console.log(`\ncp of the same file (page cache to disk, no fsync): ${f0(r.cp.mibPerSecond)} MiB/s`)
  printTable('CPU seconds per phase, from /proc (all threads; "command" is the twin CLI process, or restic)', phases.map(p => {
    const total = Object.values(p.cpu).reduce((a, b) => a + b, 0)
    return {
      phase: p.name,
      'wall s': f2(p.seconds),
      'twin main thread': f2(p.cpu.twinMain),
      'twin other threads': f2(p.cpu.twinOther),
      'storage nodes': f2(p.cpu.storageMain + p.cpu.storageOther),
      command: f2(p.cpu.command),
      'CPU s': f2(total),
      'CPU ms per MiB': p.bytes > 0 ? (1000 * total / (p.bytes / MIB)).toFixed(1) : '-'
    }
  }))
  r.goals = goals
  r.goalValues = GOALS
  // CPU of every process per MiB, next to each row's rate: the work done, not only the wait.
  const rowOf = { put: r.put.twin, 'restic backup': r.put.restic, get: r.get.twin, 'restic restore': r.get.restic, degradedGet: r.degradedGet.twin, repair: r.repair.twin, bigPut: r.memory.put, dedupeSame: r.dedupeSame.twin, 'restic dedupeSame': r.dedupeSame.restic, dedupeEdit: r.dedupeEdit.twin, 'restic dedupeEdit': r.dedupeEdit.restic }
  for (const p of phases) {
    const row = rowOf[p.name]
    const total = Object.values(p.cpu).reduce((a, b) => a + b, 0)
    if (row !== undefined) Object.assign(row, { cpuSeconds: total, cpuMsPerMiB: p.bytes > 0 ? 1000 * total / (p.bytes / MIB) : null })
  }
  // Phases (monotonic µs, the clock of CPU profiles) and process ids, so `node bench/profile.js`
  // can cut profiles taken in this run into the same phases later.
  r.phases = phases
  r.pids = pids

  const dirs = [profileDir(twinArgs), profileDir(nodeArgsStorage)].filter(d => d !== undefined)
  if (dirs.length > 0) {
    r.profile = summarizeProfiles([...new Set(dirs)], { phases, processes: { twin: pids.twin, 'storage node': pids.storage }, kind: 'vault' })
    printProfileSummary(r.profile)
    r.perByte = perByteTable(r, phases.find(p => p.name === 'put'))
  }
  writeResults('vault', r)
}
