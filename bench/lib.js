// Small helpers shared by the benchmarks: timing, statistics, table and JSON output.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const TWIN = fileURLToPath(new URL('../bin/twin', import.meta.url))

/** Wall time of one run of a command, in ms; throws if it fails. */
export function timeCommand (cmd, args, env = process.env) {
  const start = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`)
  return ms
}

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

/** Writes a benchmark's results to bench/results/NAME.json with the machine it ran on. */
export function writeResults (name, results) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  const path = new URL(`./results/${name}.json`, import.meta.url)
  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, date: new Date().toISOString() }
  writeFileSync(path, JSON.stringify({ name, machine, ...results }, null, 2) + '\n')
  console.log(`\nwrote ${fileURLToPath(path)}`)
}
