// Summarizes V8 CPU profiles (`node --cpu-prof`) taken during a benchmark: for each process role
// (twin, storage node, ...) and each phase of the run (put, get, ...), where the sampled time
// went, by step (hash, encrypt, Merkle, network, ...), plus the top functions by self time.
//
// A sample is attributed by its stack: the leaf says what kind of work it is (a node:crypto
// hash, a cipher, a signature, fs, a socket write), the nearest frame outside Node's own code
// says whose work it is (libp2p, the vault's Merkle code, SQLite, ...). The rules match file
// and function names loosely, so they survive most refactors; what they miss shows as "other"
// with its top functions listed. Native work on libuv's thread pool (the erasure code, fs
// calls, fsync) and the kernel do not appear in a V8 profile: the benchmarks count them through
// /proc (CPU time per process and thread) instead.
//
// On its own: node bench/profile.js DIR [bench/results/vault.json]  (phases and pids from the results).
import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MIB, printTable } from './lib.js'

const NETWORK = /[/\\](@chainsafe[/\\]libp2p-|libp2p[/\\]|@libp2p[/\\]|it-[a-z-]+[/\\]|uint8arraylist|uint8arrays|@multiformats|multiformats[/\\]|p-queue|p-event|race-signal|race-event|main-event|abort-error|progress-events|weald|@noble[/\\])|[/\\]dist[/\\](net|storage|relay)[/\\]/
const SQLITE = /better-sqlite3|[/\\]dist[/\\]db[/\\]|[/\\]store\.js$/
const API = /hono|[/\\]dist[/\\]api[/\\]|node:_http|node:http/
const CODEC = /@ipld[/\\]dag-cbor|cborg|zod|[/\\]dist[/\\]wire[/\\]/

/** What kind of work a leaf in Node's own code is. */
function leafKind (frame) {
  const u = frame.url
  if (u.startsWith('node:internal/crypto/hash') || u.startsWith('node:internal/crypto/hkdf') || u.startsWith('node:internal/crypto/pbkdf2')) return 'hash'
  if (u.startsWith('node:internal/crypto/cipher') || u.startsWith('node:internal/crypto/aes')) return 'cipher'
  if (u.startsWith('node:internal/crypto/sig')) return /verify/i.test(frame.functionName) ? 'verify' : 'sign'
  if (u.startsWith('node:internal/crypto/diffiehellman') || u.startsWith('node:internal/crypto/keygen') || u.startsWith('node:internal/crypto/keys')) return 'agree'
  if (u.startsWith('node:internal/fs') || u === 'node:fs') return 'fs'
  if (u === 'node:net' || u.startsWith('node:internal/stream_base_commons') || u.startsWith('node:internal/net')) return 'socket'
  return undefined
}

const isNode = url => url === '' || url.startsWith('node:')

/** Vault phases: the steps of a file's pipeline. */
function vaultCategory (leaf, owner, names, role) {
  const u = owner?.url ?? ''
  if (leaf === 'socket') return 'network (socket, Noise, Yamux, framing)'
  if (NETWORK.test(u)) return leaf === 'fs' ? 'disk (write, rename, fsync calls)' : 'network (socket, Noise, Yamux, framing)'
  if (/merkle/i.test(u) || names.some(n => /merkle/i.test(n))) return 'Merkle (shard addresses, checks)'
  if (/chunker/i.test(u) || names.some(n => /^cutPoint$|chunkStream/.test(n))) return 'chunk (content-defined)'
  if (/erasure/i.test(u)) return 'erasure code (JS side)'
  if (SQLITE.test(u)) return 'index (SQLite, its fsyncs included)'
  if (leaf === 'hash') return 'hash (chunk ids, file hash)'
  if (leaf === 'cipher') return 'encrypt / decrypt (AES-GCM)'
  if (leaf === 'fs') return role === 'storage node' || /folder-store/.test(u) ? 'disk (write, rename, fsync calls)' : 'file read / write'
  if (API.test(u)) return 'local API (HTTP)'
  if (CODEC.test(u)) return 'encode / decode (CBOR, schema)'
  if (/[/\\]dist[/\\](vault|shards|twin)[/\\]/.test(u)) return 'vault (copies, bookkeeping)'
  return undefined
}

/** Messaging phases: the steps of a message. */
function messagingCategory (leaf, owner, names) {
  const u = owner?.url ?? ''
  const opening = names.find(n => /^(open|seal|createEnvelope|openEnvelope|decrypt|encrypt)/i.test(n))
  if (leaf === 'sign') return 'sign (Ed25519)'
  if (leaf === 'verify') return 'verify (Ed25519)'
  if (leaf === 'agree' || leaf === 'cipher' || (leaf === 'hash' && opening !== undefined)) {
    if (NETWORK.test(u) && opening === undefined) return 'frame (socket, Noise, Yamux, framing)'
    return opening !== undefined && /^(open|decrypt)/i.test(opening) ? 'open (X25519, HKDF, AEAD)' : 'seal (X25519, HKDF, AEAD)'
  }
  if (leaf === 'socket' || NETWORK.test(u)) return 'frame (socket, Noise, Yamux, framing)'
  if (SQLITE.test(u) || leaf === 'fs') return 'store (SQLite)'
  if (CODEC.test(u)) return 'encode / decode (CBOR, schema)'
  if (API.test(u)) return 'local API (HTTP)'
  if (leaf === 'hash') return 'hash'
  if (/[/\\]dist[/\\](messaging|twin)[/\\]/.test(u)) return 'messaging (bookkeeping)'
  return undefined
}

/** Reads one profile and attributes each sample to a category and a phase. */
function attribute (profile, { phases, kind, role }) {
  const nodes = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const memo = new Map()
  const startingUp = id => {
    for (let x = id; x !== undefined; x = parent.get(x)) if (nodes.get(x).callFrame.url.startsWith('node:internal/modules')) return true
    return false
  }
  const classify = id => {
    let c = memo.get(id)
    if (c !== undefined) return c
    const leaf = nodes.get(id).callFrame
    if (leaf.functionName === '(idle)') c = 'idle'
    else if (leaf.functionName === '(garbage collector)') c = 'garbage collection'
    else if (leaf.functionName === '(program)') c = 'native, outside JS (program)'
    else if (startingUp(id)) c = 'start-up (loading modules)'
    else {
      let kindOfLeaf
      let owner
      const names = []
      for (let x = id; x !== undefined; x = parent.get(x)) {
        const f = nodes.get(x).callFrame
        names.push(f.functionName)
        if (kindOfLeaf === undefined && isNode(f.url)) kindOfLeaf = leafKind(f)
        if (owner === undefined && !isNode(f.url)) owner = f
      }
      c = (kind === 'messaging' ? messagingCategory(kindOfLeaf, owner, names) : vaultCategory(kindOfLeaf, owner, names, role)) ?? 'other'
    }
    memo.set(id, c)
    return c
  }
  const out = new Map() // phase -> { categories, self }
  let t = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    t += dt
    const phase = phases.find(p => t >= p.startUs && t <= p.endUs)
    if (phase === undefined) continue
    let agg = out.get(phase.name)
    if (agg === undefined) { agg = { categories: {}, self: {} }; out.set(phase.name, agg) }
    const id = profile.samples[i]
    const cat = classify(id)
    agg.categories[cat] = (agg.categories[cat] ?? 0) + dt
    if (cat !== 'idle') {
      const f = nodes.get(id).callFrame
      const key = `${f.functionName || '(anonymous)'} ${f.url === '' ? '' : `${basename(f.url)}:${f.lineNumber + 1}`}`.trim()
      agg.self[key] = (agg.self[key] ?? 0) + dt
    }
  }
  return out
}

/**
 * Summarizes every `*.cpuprofile` in `dirs`. `processes` maps a role name to its pids (profile
 * file names carry pid and thread id); `phases` are { name, startUs, endUs, bytes?, messages? }.
 */
export function summarizeProfiles (dirs, { phases, processes, kind }) {
  const roleOf = pid => Object.entries(processes).find(([, pids]) => pids.includes(pid))?.[0] ?? `other process ${pid}`
  const summary = {}
  for (const dir of dirs) {
    let files
    try { files = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')) } catch { continue } // no profiles written
    for (const file of files) {
      const m = /\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(file)
      const pid = m === null ? -1 : Number(m[1])
      const role = roleOf(pid)
      const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'))
      for (const [phase, agg] of attribute(profile, { phases, kind, role })) {
        const s = ((summary[role] ??= {})[phase] ??= { threads: 0, categories: {}, self: {} })
        s.threads++
        for (const [k, v] of Object.entries(agg.categories)) s.categories[k] = (s.categories[k] ?? 0) + v
        for (const [k, v] of Object.entries(agg.self)) s.self[k] = (s.self[k] ?? 0) + v
      }
    }
  }
  // Keep the top functions only, in ms.
  for (const role of Object.values(summary)) {
    for (const [name, s] of Object.entries(role)) {
      const phase = phases.find(p => p.name === name)
      s.wallMs = (phase.endUs - phase.startUs) / 1000
      if (phase.bytes !== undefined) s.bytes = phase.bytes
      if (phase.messages !== undefined) s.messages = phase.messages
      if (phase.per !== undefined) s.per = phase.per
      s.categories = Object.fromEntries(Object.entries(s.categories).map(([k, v]) => [k, v / 1000]).sort((a, b) => b[1] - a[1]))
      s.top = Object.entries(s.self).sort((a, b) => b[1] - a[1]).slice(0, 12).map(([fn, v]) => ({ fn, ms: v / 1000 }))
      delete s.self
    }
  }
  return summary
}

/** Prints, per role and phase, the share of sampled time per category and per MiB or per message. */
export function printProfileSummary (summary) {
  for (const [role, phases] of Object.entries(summary)) {
    for (const [phase, s] of Object.entries(phases)) {
      const sampled = Object.values(s.categories).reduce((a, b) => a + b, 0)
      const busy = sampled - (s.categories.idle ?? 0)
      const per = s.bytes !== undefined ? { unit: 'ms per MiB', n: s.bytes / MIB } : s.messages !== undefined ? { unit: `µs per ${s.per ?? 'message'}`, n: s.messages / 1000 } : undefined
      printTable(`CPU profile: ${role}, ${phase} (${s.threads} thread${s.threads === 1 ? '' : 's'}, ${s.wallMs.toFixed(0)} ms wall, busy ${(100 * busy / Math.max(1, sampled)).toFixed(0)}% of samples)`,
        Object.entries(s.categories).map(([k, ms]) => ({
          step: k,
          ms: ms.toFixed(0),
          'share of busy': k === 'idle' ? '-' : `${(100 * ms / Math.max(1, busy)).toFixed(1)}%`,
          ...(per === undefined ? {} : { [per.unit]: k === 'idle' ? '-' : (ms / per.n).toFixed(per.unit.startsWith('µs') ? 1 : 2) })
        })))
      console.log('  top self time: ' + s.top.slice(0, 8).map(t => `${t.fn} ${t.ms.toFixed(0)} ms`).join('; '))
    }
  }
}

// Run on its own: summarize a directory with the phases and pids of a results file.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, resultsFile] = process.argv.slice(2)
  if (dir === undefined || resultsFile === undefined) {
    console.error('usage: node bench/profile.js PROFILE_DIR bench/results/NAME.json')
    process.exit(2)
  }
  const results = JSON.parse(readFileSync(resultsFile, 'utf8'))
  const processes = Object.fromEntries(Object.entries(results.pids ?? {}))
  printProfileSummary(summarizeProfiles([dir], { phases: results.phases, processes, kind: results.name === 'messaging' ? 'messaging' : 'vault' }))
}
