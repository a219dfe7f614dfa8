// Small helpers shared by the benchmarks: processes, timing, statistics, tables and JSON output.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const TWIN = fileURLToPath(new URL('../bin/twin', import.meta.url))
export const MIB = 1024 * 1024

/** Wall time of one run of a command, in ms; throws if it fails. */
export function timeCommand (cmd, args, env = process.env) {
  const start = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`)
  return ms
}

/** Microseconds of the monotonic clock: the clock of V8's CPU profiles, so phases can be cut out of them. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)

/**
 * Runs a command to its end without blocking this process (so it can sample memory meanwhile).
 * The timer starts just before the spawn, where a user's wait starts, and stops at its exit.
 * Returns seconds, stdout, and the monotonic start and end (µs) for profile phases.
 */
export async function runCommand (cmd, args, { env = {}, allowFail = false } = {}) {
  const startUs = monotonicUs()
  const t = process.hrtime.bigint()
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const code = await new Promise((resolve, reject) => { child.on('error', reject); child.on('close', resolve) })
  const seconds = Number(process.hrtime.bigint() - t) / 1e9
  if (code !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`)
  return { seconds, stdout, stderr, code, startUs, endUs: monotonicUs() }
}

/** Runs `bin/twin ARGS --json` as a user would and parses its one JSON object. */
export async function twinCommand (args, options = {}) {
  const r = await runCommand(process.execPath, [TWIN, ...args, '--json'], options)
  return { ...r, json: r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout) }
}

/**
 * Starts a long-running process whose first stdout line is a JSON "ready" object.
 * `startedUs` is the monotonic time just before the spawn.
 */
export function startProcess (cmd, args, { env = {} } = {}) {
  const startedUs = monotonicUs()
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const ready = new Promise((resolve, reject) => {
    let out = ''
    const onData = d => {
      out += d
      const nl = out.indexOf('\n')
      if (nl !== -1) { child.stdout.off('data', onData); child.stdout.resume(); resolve(JSON.parse(out.slice(0, nl))) }
    }
    child.stdout.on('data', onData)
    child.on('exit', code => reject(new Error(`${[cmd, ...args].join(' ').slice(0, 200)} exited ${code} before it was ready`)))
  })
  ready.catch(() => {}) // a process stopped on purpose before it was ready is not an error
  return { child, ready, startedUs }
}

export async function stopProcess (p, signal = 'SIGTERM') {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  const done = new Promise(resolve => p.child.on('exit', resolve))
  p.child.kill(signal)
  await done
}

/** Node options for one kind of process from an environment variable (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"). */
export function nodeArgs (variable) {
  const v = process.env[variable]
  return v === undefined || v.trim() === '' ? [] : v.trim().split(/\s+/)
}

/** The directory given by `--cpu-prof-dir=` in such options, if any. */
export function profileDir (args) {
  const a = args.find(x => x.startsWith('--cpu-prof-dir='))
  return a === undefined ? undefined : a.slice('--cpu-prof-dir='.length)
}

/** One request to a running twin's HTTP API, on its own connection; returns the parsed JSON answer. */
export async function twinApi (home, method, path, body) {
  const f = JSON.parse(readFileSync(join(home, 'api.json'), 'utf8'))
  const res = await new Promise((resolve, reject) => {
    const req = httpRequest(f.url + path, { method, agent: false, headers: { authorization: `Bearer ${f.token}`, 'content-type': 'application/json' } }, resolve)
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
  let text = ''
  for await (const d of res) text += d
  if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`)
  return JSON.parse(text)
}

const TICKS = 100 // USER_HZ: /proc counts CPU time in 1/100 s on Linux

/** utime + stime of a /proc stat line, in seconds (the command name may hold spaces and parentheses). */
function statCpu (text, children = false) {
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // After the name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  return children ? (Number(f[13]) + Number(f[14])) / TICKS : (Number(f[11]) + Number(f[12])) / TICKS
}

/**
 * CPU seconds used so far by a process, in all its threads (`total`, which keeps the time of
 * threads that ended) and in its main thread (`main`); zeros once it is gone.
 */
export function processCpu (pid) {
  try {
    return { total: statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8')), main: statCpu(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')) }
  } catch {
    return { total: 0, main: 0 }
  }
}

/** CPU seconds of this process's children that ended and were waited for (the commands it ran). */
export const childrenCpu = () => statCpu(readFileSync('/proc/self/stat', 'utf8'), true)

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

export function quantile (values, q) {
  const s = [...values].sort((a, b) => a - b)
  const i = (s.length - 1) * q
  const lo = Math.floor(i)
  const hi = Math.ceil(i)
  return s[lo] + (s[hi] - s[lo]) * (i - lo)
}

export const median = values => quantile(values, 0.5)

/** Prints rows as an aligned table. */
export function printTable (title, rows) {
  const cols = Object.keys(rows[0])
  const width = cols.map(c => Math.max(c.length, ...rows.map(r => String(r[c]).length)))
  const line = cells => cells.map((c, i) => String(c).padEnd(width[i])).join('  ')
  console.log(`\n${title}`)
  console.log(line(cols))
  console.log(line(width.map(w => '-'.repeat(w))))
  for (const r of rows) console.log(line(cols.map(c => r[c])))
}

/**
 * A goal checked in this run. `atLeast` (or `atMost`) is the goal; `value` the figure judged
 * against it (a ratio, a rate or a size). Returns the row of the summary table and the verdict.
 */
export function goal ({ what, baseline = '-', twin, value, atLeast, atMost, unit = '' }) {
  const met = value === undefined || value === null || Number.isNaN(value) || (atLeast === undefined && atMost === undefined)
    ? null
    : atLeast !== undefined ? value >= atLeast : value <= atMost
  const g = atLeast !== undefined ? `>= ${atLeast}${unit}` : atMost !== undefined ? `<= ${atMost}${unit}` : '(report)'
  const ratio = unit === 'x' && value !== undefined && value !== null ? `${value.toFixed(2)}x` : '-'
  return {
    row: { what, baseline, twin, ratio, goal: g, result: met === null ? (atLeast === undefined && atMost === undefined ? 'reported' : 'n/a') : met ? 'met' : 'MISSED' },
    met
  }
}

/** Writes a benchmark's results to bench/results/NAME.json with the machine it ran on and its load. */
export function writeResults (name, results) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  const path = new URL(`./results/${name}.json`, import.meta.url)
  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, date: new Date().toISOString(), loadAverage: loadavg() }
  writeFileSync(path, JSON.stringify({ name, machine, ...results }, null, 2) + '\n')
  console.log(`\nwrote ${fileURLToPath(path)}`)
}

/** The twin's content-defined chunker, from its public vault surface if it is there, else its module. */
export async function loadChunker () {
  for (const path of ['../dist/vault/index.js', '../dist/vault/chunker.js']) {
    try {
      const m = await import(path)
      if (typeof m.chunkStream === 'function') return m
    } catch { /* not there in this version: try the next place */ }
  }
  return undefined
}
