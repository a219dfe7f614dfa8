import { createWriteStream, renameSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { resolveHome } from '../../twin/home.js'
import { apiError, callApi, fetchApi } from '../../api/client.js'
import { AnsweredError } from '../../api/errors.js'
import { CliError } from '../errors.js'
import { emit } from '../output.js'
import type { CommonOptions } from './identity.js'

/** A one-line progress bar on stderr, only when stderr is a terminal and --json is off. */
function progressBar (json: boolean | undefined): { update: (label: string, done: number, total?: number) => void, end: () => void } {
  const on = json !== true && process.stderr.isTTY === true
  let shown = false
  return {
    update (label, done, total) {
      if (!on) return
      const width = 30
      const frac = total === undefined || total === 0 ? 0 : Math.min(1, done / total)
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.')
      const mib = (n: number): string => (n / 1048576).toFixed(1)
      process.stderr.write(`\r[${bar}] ${total === undefined ? '' : `${Math.round(frac * 100)}% `}${mib(done)}${total === undefined ? '' : `/${mib(total)}`} MiB  ${label.slice(0, 40)}`)
      shown = true
    },
    end () { if (shown) process.stderr.write('\n') }
  }
}

const human = (n: number): string => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : n < 1073741824 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1073741824).toFixed(2)} GiB`

export async function put (file: string, opts: CommonOptions & { as?: string }): Promise<void> {
  const home = resolveHome(opts.home)
  const res = await fetchApi(home, 'POST', '/v1/vault/put', { file: resolve(file), ...(opts.as === undefined ? {} : { as: opts.as }) })
  if (!res.ok || res.body === null) throw await apiError(res)
  const bar = progressBar(opts.json)
  let result: Array<{ path: string, size: number, hash: string, version: number }> | undefined
  let buffered = ''
  try {
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += Buffer.from(piece).toString('utf8')
      let nl
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = JSON.parse(buffered.slice(0, nl)) as { progress?: { path: string, done: number, total?: number }, result?: typeof result, error?: string, code?: string }
        buffered = buffered.slice(nl + 1)
        if (line.progress !== undefined) bar.update(line.progress.path, line.progress.done, line.progress.total)
        else if (line.result !== undefined) result = line.result
        else if (line.error !== undefined) throw line.code === undefined ? new CliError('PUT_FAILED', line.error) : new AnsweredError(line.code, line.error)
      }
    }
  } finally {
    bar.end()
  }
  if (result === undefined) throw new CliError('PUT_FAILED', 'the twin stopped before the file was stored')
  const r = result
  emit(opts.json, r.length === 1 ? r[0] as object : { files: r }, () => r.map(f => `${f.path}  ${human(f.size)}  sha256:${f.hash}  version ${f.version}`).join('\n'))
}

export async function get (path: string, opts: CommonOptions & { output?: string, version?: string }): Promise<void> {
  const home = resolveHome(opts.home)
  const version = opts.version === undefined ? '' : `&version=${encodeURIComponent(opts.version)}`
  const res = await fetchApi(home, 'GET', `/v1/vault/file?path=${encodeURIComponent(path)}${version}`)
  if (!res.ok || res.body === null) throw await apiError(res)
  const total = Number(res.headers.get('x-twin-size') ?? '0')
  const out = opts.output ?? path.split('/').pop() ?? 'out'
  const bar = progressBar(opts.json === true || out === '-')
  let done = 0
  const source = Readable.fromWeb(res.body as never)
  source.on('data', (d: Buffer) => { done += d.length; bar.update(path, done, total) })
  try {
    if (out === '-') {
      await pipeline(source, process.stdout)
    } else {
      // Write to a temporary file and rename at the end: a failed read never leaves a partial file.
      const tmp = `${out}.twin-partial`
      try {
        await pipeline(source, createWriteStream(tmp, { mode: 0o600 }))
        renameSync(tmp, out)
      } catch (err) {
        rmSync(tmp, { force: true })
        const why = (err as Error).message === 'terminated' ? 'the twin stopped sending it half-way (its output says why)' : (err as Error).message
        throw new CliError('GET_FAILED', `cannot read ${path}: ${why}`)
      }
    }
  } finally {
    bar.end()
  }
  if (out !== '-') emit(opts.json, { path, size: total, file: out, version: Number(res.headers.get('x-twin-version')) }, () => `${path} -> ${out} (${human(total)})`)
}

export async function ls (path: string | undefined, opts: CommonOptions): Promise<void> {
  const home = resolveHome(opts.home)
  const r = await callApi(home, 'GET', `/v1/vault/ls?path=${encodeURIComponent(path ?? '/')}`) as { entries: Array<{ path: string, size: number, modified: string, version: number }> }
  emit(opts.json, { entries: r.entries.map(e => ({ path: e.path, size: e.size, modified: e.modified, version: e.version })) }, () =>
    r.entries.length === 0 ? 'no files' : r.entries.map(e => `${human(e.size).padStart(10)}  ${e.modified}  v${e.version}  ${e.path}`).join('\n'))
}

export async function rm (path: string, opts: CommonOptions): Promise<void> {
  const r = await callApi(resolveHome(opts.home), 'POST', '/v1/vault/rm', { path })
  emit(opts.json, r as object, () => `removed ${path} (earlier versions stay readable with \`twin versions\`)`)
}

export async function mv (from: string, to: string, opts: CommonOptions): Promise<void> {
  const r = await callApi(resolveHome(opts.home), 'POST', '/v1/vault/mv', { from, to })
  emit(opts.json, r as object, () => `moved ${from} -> ${to}`)
}

export async function versions (path: string, opts: CommonOptions): Promise<void> {
  const r = await callApi(resolveHome(opts.home), 'GET', `/v1/vault/versions?path=${encodeURIComponent(path)}`) as { versions: Array<{ version: number, size: number, modified: string, deleted: boolean, hash: string }> }
  emit(opts.json, r, () => r.versions.map(v => `v${v.version}  ${v.modified}  ${v.deleted ? '(deleted)' : `${human(v.size)}  sha256:${v.hash}`}`).join('\n'))
}

export async function verifyVault (opts: CommonOptions): Promise<void> {
  const r = await callApi(resolveHome(opts.home), 'POST', '/v1/vault/verify') as { checked: number, ok: number, missing: number, corrupt: number }
  emit(opts.json, r, () => `checked ${r.checked} shards: ${r.ok} ok, ${r.missing} missing, ${r.corrupt} corrupt${r.missing + r.corrupt > 0 ? ' (run `twin repair`)' : ''}`)
  if (r.missing + r.corrupt > 0) process.exitCode = 3
}

export async function repair (opts: CommonOptions): Promise<void> {
  const r = await callApi(resolveHome(opts.home), 'POST', '/v1/vault/repair') as { repaired: number, failed: number }
  emit(opts.json, r, () => `repaired ${r.repaired} shards${r.failed > 0 ? `, ${r.failed} could not be repaired` : ''}`)
  if (r.failed > 0) process.exitCode = 3
}

export async function storageAdd (address: string, opts: CommonOptions): Promise<void> {
  const r = await callApi(resolveHome(opts.home), 'POST', '/v1/storage/add', { address }) as { id: string, address: string }
  emit(opts.json, r, () => `added storage node ${r.id} (reached at ${r.address})`)
}

export async function storageRemove (id: string, opts: CommonOptions): Promise<void> {
  const r = await callApi(resolveHome(opts.home), 'POST', '/v1/storage/remove', { id })
  emit(opts.json, r as object, () => `removed storage peer ${id}; run \`twin repair\` to move its shards to the other peers`)
}

export async function storageLs (opts: CommonOptions): Promise<void> {
  const r = await callApi(resolveHome(opts.home), 'GET', '/v1/storage/ls') as { peers: Array<{ id: string, address: string, kind: string }> }
  emit(opts.json, r, () => r.peers.map(p => `${p.kind.padEnd(5)}  ${p.id}  ${p.address}`).join('\n'))
}

export async function storageStatus (opts: CommonOptions): Promise<void> {
  const s = await callApi(resolveHome(opts.home), 'GET', '/v1/storage/status') as {
    peers: Array<{ id: string, address: string, online: boolean, used: number | null, quota: number | null, problem: string | null, kind: string }>
    files: number, healthy: number, degraded: number, lost: number, durability: number, code: { k: number, m: number }, note: string
  }
  emit(opts.json, { peers: s.peers.map(p => ({ id: p.id, address: p.address, online: p.online, used: p.used, quota: p.quota, problem: p.problem })), files: s.files, healthy: s.healthy, degraded: s.degraded, lost: s.lost, durability: s.durability, code: s.code, note: s.note }, () => [
    ...s.peers.map(p => `${p.online ? 'online ' : 'OFFLINE'}  ${p.id}  ${p.used === null ? '' : human(p.used)}${p.quota === null ? '' : ` of ${human(p.quota)}`}${p.kind === 'node' ? `  ${p.online ? 'at' : 'last at'} ${p.address}` : ''}${p.problem === null ? '' : `\n         ${p.problem}`}`),
    `files        ${s.files}: ${s.healthy} healthy, ${s.degraded} degraded, ${s.lost} lost`,
    `code         ${s.code.k} + ${s.code.m}`,
    `durability   ${s.durability} nines per year (estimate; see docs/PROTOCOL.md)`,
    `note         ${s.note}`
  ].join('\n'))
}
