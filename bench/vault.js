// Vault benchmark (issue 4): put and get of a 256 MiB file through six local storage node
// processes (4 + 2), healthy and with two nodes down; repair of a lost node's shards; peak
// resident memory of the twin during a 2 GiB put. Baselines in the same run: `cp` of the same
// file, `restic backup` / `restic restore` to a local repository (when restic is installed),
// and the erasure code alone (`npm run bench -- erasure`).
import { spawn, spawnSync } from 'node:child_process'
import { createReadStream, mkdtempSync, readFileSync, rmSync, openSync, writeSync, closeSync } from 'node:fs'
import { randomBytes, createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request as httpRequest } from 'node:http'
import { printTable, TWIN, writeResults } from './lib.js'

const MIB = 1024 * 1024
const SIZE = Number(process.env.BENCH_VAULT_MIB ?? 256) * MIB
const BIG = Number(process.env.BENCH_VAULT_BIG_MIB ?? 2048) * MIB

function writeRandom (path, size) {
  const fd = openSync(path, 'w')
  const block = randomBytes(8 * MIB)
  for (let done = 0; done < size; done += block.length) {
    // Vary each block so nothing deduplicates.
    block.writeUInt32LE(done / block.length, 0)
    writeSync(fd, block, 0, Math.min(block.length, size - done))
  }
  closeSync(fd)
}

function timed (cmd, args, env = {}) {
  const t = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return Number(process.hrtime.bigint() - t) / 1e9
}

function start (args) {
  // BENCH_TWIN_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the twin process.
  const nodeArgs = args[0] === 'start' && process.env.BENCH_TWIN_NODE_ARGS !== undefined ? process.env.BENCH_TWIN_NODE_ARGS.split(' ') : []
  const child = spawn(process.execPath, [...nodeArgs, TWIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const ready = new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', d => { out += d; const nl = out.indexOf('\n'); if (nl !== -1) resolve(JSON.parse(out.slice(0, nl))) })
    child.on('exit', code => reject(new Error(`${args[0]} exited ${code}`)))
  })
  return { child, ready }
}

async function stop (p, signal = 'SIGTERM') {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  const done = new Promise(resolve => p.child.on('exit', resolve))
  p.child.kill(signal)
  await done
}

/** One API request on its own connection (no keep-alive reuse across the long pauses of a benchmark). */
async function api (home, method, path, body) {
  const f = JSON.parse(readFileSync(join(home, 'api.json'), 'utf8'))
  const res = await new Promise((resolve, reject) => {
    const req = httpRequest(f.url + path, { method, agent: false, headers: { authorization: `Bearer ${f.token}`, 'content-type': 'application/json' } }, resolve)
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
  const text = async () => { let s = ''; for await (const d of res) s += d; return s }
  if (res.statusCode >= 400) throw new Error(`${path}: ${await text()}`)
  return { body: res, text }
}

async function put (home, file, as) {
  const t = performance.now()
  const lines = (await (await api(home, 'POST', '/v1/vault/put', { file, as })).text()).trim().split('\n')
  const last = JSON.parse(lines[lines.length - 1])
  if (last.error) throw new Error(last.error)
  return (performance.now() - t) / 1000
}

async function get (home, path, expected) {
  const t = performance.now()
  const res = await api(home, 'GET', `/v1/vault/file?path=${encodeURIComponent(path)}`)
  const h = createHash('sha256')
  for await (const piece of res.body) h.update(piece)
  const secs = (performance.now() - t) / 1000
  if (expected !== undefined && h.digest('hex') !== expected) throw new Error('read back differs')
  return secs
}

function fileHash (path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path).on('data', d => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject)
  })
}

function peakRss (pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

export async function run () {
  const dir = mkdtempSync(join(tmpdir(), 'twin-bench-vault-'))
  const procs = []
  try {
    const file = join(dir, 'file.bin')
    writeRandom(file, SIZE)
    const hash = await fileHash(file)
    const rows = []
    const mibs = secs => (SIZE / MIB / secs)
    const row = (what, secs, bytes = SIZE) => { rows.push({ what, seconds: secs.toFixed(2), 'MiB/s': (bytes / MIB / secs).toFixed(0) }); return bytes / MIB / secs }

    const cp = row('cp (disk baseline)', timed('cp', [file, join(dir, 'copy.bin')]))
    rmSync(join(dir, 'copy.bin'))
    let resticBackup, resticRestore
    if (spawnSync('sh', ['-c', 'command -v restic']).status === 0) {
      const env = { RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: join(dir, 'restic') }
      timed('restic', ['init'], env)
      resticBackup = row('restic backup (baseline)', timed('restic', ['backup', '--quiet', file], env))
      resticRestore = row('restic restore (baseline)', timed('restic', ['restore', 'latest', '--target', join(dir, 'restored')], env))
      rmSync(join(dir, 'restored'), { recursive: true, force: true })
      rmSync(join(dir, 'restic'), { recursive: true, force: true })
    }

    spawnSync(process.execPath, [TWIN, 'init', '--home', join(dir, 'twin')], { stdio: 'ignore' })
    const twin = start(['start', '--home', join(dir, 'twin'), '--listen', '/ip4/127.0.0.1/tcp/0'])
    procs.push(twin)
    const nodes = [1, 2, 3, 4, 5, 6, 7, 8].map(i => start(['storage-node', '--home', join(dir, `sn${i}`), '--quota', '100GiB', '--listen', '/ip4/127.0.0.1/tcp/0']))
    procs.push(...nodes)
    await twin.ready
    const addresses = await Promise.all(nodes.map(async n => (await n.ready).addresses[0]))
    for (const a of addresses.slice(0, 6)) await api(join(dir, 'twin'), 'POST', '/v1/storage/add', { address: a })

    const home = join(dir, 'twin')
    const twinPut = row('twin put, 6 nodes (4 + 2)', await put(home, file, '/file.bin'))
    const twinGet = row('twin get, healthy', await get(home, '/file.bin', hash))
    await stop(nodes[0], 'SIGKILL')
    await stop(nodes[1], 'SIGKILL')
    const degraded = row('twin get, two nodes down', await get(home, '/file.bin', hash))

    // Repair: the two lost nodes are replaced; their shards are rebuilt on the new ones.
    const lost = JSON.parse(await (await api(home, 'GET', '/v1/vault/shards')).text()).shards
      .filter(s => s.peer === addresses[0].split('/p2p/')[1] || s.peer === addresses[1].split('/p2p/')[1])
    const shardBytes = SIZE * 1.5 * lost.length / JSON.parse(await (await api(home, 'GET', '/v1/vault/shards')).text()).shards.length
    for (const a of addresses.slice(0, 2)) await api(home, 'POST', '/v1/storage/remove', { id: a.split('/p2p/')[1] })
    for (const a of addresses.slice(6, 8)) await api(home, 'POST', '/v1/storage/add', { address: a })
    const t = performance.now()
    const repaired = JSON.parse(await (await api(home, 'POST', '/v1/vault/repair')).text())
    const repairSecs = (performance.now() - t) / 1000
    const repair = row(`twin repair of two lost nodes (${repaired.repaired} shards)`, repairSecs, shardBytes)

    // Peak memory of the twin process during a big put.
    let peak
    if (BIG > 0) {
      const big = join(dir, 'big.bin')
      writeRandom(big, BIG)
      rmSync(file)
      const pid = JSON.parse(readFileSync(join(home, 'api.json'), 'utf8')).pid
      const before = peakRss(pid)
      const secs = await put(home, big, '/big.bin')
      peak = peakRss(pid)
      row(`twin put of ${BIG / MIB} MiB (peak RSS ${(peak / MIB).toFixed(0)} MiB, ${(before / MIB).toFixed(0)} MiB before)`, secs, BIG)
    }

    printTable(`vault, ${SIZE / MIB} MiB file, six storage node processes on loopback`, rows)
    const goals = {
      putVsRestic: resticBackup === undefined ? null : twinPut / resticBackup,
      getVsRestic: resticRestore === undefined ? null : twinGet / resticRestore,
      degradedVsHealthy: degraded / twinGet,
      repairMiBs: repair,
      peakRssMiB: peak === undefined ? null : peak / MIB
    }
    console.log(`\nput / restic backup:   ${goals.putVsRestic?.toFixed(2) ?? 'n/a'} (goal >= 1)`)
    console.log(`get / restic restore:  ${goals.getVsRestic?.toFixed(2) ?? 'n/a'} (goal >= 1)`)
    console.log(`degraded / healthy get: ${(goals.degradedVsHealthy * 100).toFixed(0)}% (goal >= 80%)`)
    console.log(`repair: ${repair.toFixed(0)} MiB/s (goal >= 100)`)
    if (peak !== undefined) console.log(`peak RSS during the ${BIG / MIB} MiB put: ${(peak / MIB).toFixed(0)} MiB (goal < 256)`)
    console.log(`cp: ${cp.toFixed(0)} MiB/s`)
    writeResults('vault', { sizeMiB: SIZE / MIB, rows, goals, mibs: mibs(1) })
  } finally {
    for (const p of procs) await stop(p).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}
