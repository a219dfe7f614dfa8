import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectCleanFailure, tempDir, twin, twinJson } from '../helpers.js'
import { api, Procs, waitFor, type Proc } from '../processes.js'

// Attacks on one machine: a page or a local process using the twin's API, a folder changed
// under a put, and the secrets a running twin leaves where other local users can look.

const tmp = tempDir('twin-abuse-local-')
const procs = new Procs()
afterAll(async () => {
  await procs.stopAll()
  tmp.cleanup()
})
const at = (name: string): string => join(tmp.path, name)
const modeOf = (path: string): number => statSync(path).mode & 0o777

/** Resident memory of a process, and its peak so far, in bytes (Linux /proc/PID/status). */
function memory (pid: number): { rss: number, peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024
  return { rss: kib('VmRSS'), peak: kib('VmHWM') }
}

interface Answer { status: number, json: any }

/**
 * One HTTP request with node:http, so that the Host header and the body are exactly what an
 * attacker would send. The body is `total` bytes (a JSON text that is never closed), streamed
 * chunked or with a Content-Length; sending stops as soon as the server answers, as a client
 * does when the server has refused the request.
 */
async function request (port: number, options: { host?: string, token: string, method?: string, path?: string, total?: number, chunked?: boolean, body?: string }): Promise<Answer & { sent: number }> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' }
  if (options.host !== undefined) headers.host = options.host
  const total = options.body !== undefined ? Buffer.byteLength(options.body) : options.total
  if (total !== undefined && options.chunked !== true) headers['content-length'] = String(total)
  return await new Promise((resolve, reject) => {
    let sent = 0
    let answered = false
    const req = http.request({ host: '127.0.0.1', port, method: options.method ?? 'POST', path: options.path ?? '/v1/messages', headers })
    req.on('response', res => {
      answered = true
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => { text += d })
      res.on('end', () => {
        req.destroy()
        try { resolve({ status: res.statusCode ?? 0, json: JSON.parse(text), sent }) } catch (err) { reject(err as Error) }
      })
    })
    // Once the server has answered it may close the connection under the rest of the body.
    req.on('error', err => { if (!answered) reject(err) })
    if (options.body !== undefined) { req.end(options.body); return }
    if (total === undefined) { req.end(); return }
    const piece = Buffer.alloc(64 * 1024, 0x61)
    const pump = (): void => {
      while (!answered && sent < total) {
        const n = Math.min(piece.length, total - sent)
        const chunk = sent === 0 ? Buffer.concat([Buffer.from('{"to":"'), piece.subarray(7, n)]) : piece.subarray(0, n)
        sent += n
        if (!req.write(chunk)) { req.once('drain', pump); return }
      }
      if (!answered) req.end()
    }
    pump()
  })
}

describe('a running twin, attacked from this machine', () => {
  const home = at('twin')
  const passphrase = `pass-${randomBytes(12).toString('hex')}`
  let proc: Proc
  let id: string
  let port: number
  let token: string

  beforeAll(async () => {
    // An existing home that others may read, and keys sealed with a passphrase.
    id = (await twinJson(['init', '--home', home], { env: { TWIN_PASSPHRASE: passphrase } })).id
    chmodSync(home, 0o755)
    proc = procs.spawn(['start', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0'], { TWIN_PASSPHRASE: passphrase })
    await proc.ready()
    const file = JSON.parse(readFileSync(join(home, 'api.json'), 'utf8'))
    port = Number(new URL(file.url).port)
    token = file.token
  })

  describe('the local API', () => {
    it('refuses a request addressed to another host name, even with the right token (DNS rebinding)', async () => {
      for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`]) {
        const r = await request(port, { host, token, method: 'GET', path: '/v1/status' })
        expect(r.status).toBe(403)
        expect(r.json).toEqual({ code: 'HOST_NOT_ALLOWED', error: expect.stringMatching(/is not a name of this API .*DNS rebinding/) })
        expect(JSON.stringify(r.json)).not.toContain(id)
      }
      // A foreign host is refused before the token matters: no token, same answer.
      expect((await request(port, { host: 'evil.example', token: 'wrong', method: 'GET', path: '/v1/status' })).status).toBe(403)
    })

    it('answers its own loopback names with its port', async () => {
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
        const r = await request(port, { host, token, method: 'GET', path: '/v1/status' })
        expect(r.status).toBe(200)
        expect(r.json.id).toBe(id)
      }
      expect((await api(home, 'GET', '/v1/status')).id).toBe(id)
    })

    it('reads a JSON body just under 1 MiB (the request is then judged on its content)', async () => {
      const body = JSON.stringify({ to: id, verb: 'test.big', payload: 'x'.repeat(1024 * 1024 - 100) })
      expect(Buffer.byteLength(body)).toBeLessThan(1024 * 1024)
      const r = await request(port, { token, body })
      // Sending to oneself is refused after the body was parsed and validated: not a size refusal.
      expect(r.json.code).toBe('SEND_TO_SELF')
    })

    // 200 MB is what the attack sent; without a limit the twin read it whole (685 MB resident).
    const BODY = 200 * 1024 * 1024
    // Generous: a twin's resident memory moves by a few MiB on its own (timers, libp2p); the
    // body read whole would add at least its own size.
    const MAX_GROWTH = 64 * 1024 * 1024
    for (const chunked of [true, false]) {
      it(`refuses a 200 MB body sent ${chunked ? 'chunked' : 'with a Content-Length'} with 413, without keeping it in memory`, async () => {
        const pid = proc.child.pid as number
        const before = memory(pid)
        const r = await request(port, { token, total: BODY, chunked })
        const after = memory(pid)
        expect(r.status).toBe(413)
        expect(r.json).toEqual({ code: 'BODY_TOO_LARGE', error: expect.stringMatching(/larger than the API's limit of 1048576 bytes/) })
        expect(after.rss - before.rss).toBeLessThan(MAX_GROWTH)
        // The peak, too: a body held for a moment and then freed would show there.
        expect(after.peak - before.peak).toBeLessThan(MAX_GROWTH)
        // The twin still serves normal requests afterwards.
        expect((await api(home, 'GET', '/v1/status')).id).toBe(id)
      })
    }
  })

  describe('a folder put', () => {
    it('refuses a file swapped for a link to a secret while the folder is stored, and stores nothing of the secret', async () => {
      const secret = `TOP-SECRET-${randomBytes(16).toString('hex')}\n`
      writeFileSync(at('secret.txt'), secret)
      const folder = at('folder')
      mkdirSync(folder)
      // Large enough that storing it takes a while: the swap happens while it is being stored.
      writeFileSync(join(folder, 'a-large.bin'), randomBytes(64 * 1024 * 1024))
      writeFileSync(join(folder, 'b-small.txt'), 'an ordinary file\n')
      // The vault's local folders (the embedded default) appear with the first shard.
      const shardsOnDisk = (): number => existsSync(join(home, 'vault'))
        ? readdirSync(join(home, 'vault'), { recursive: true }).filter(p => /[0-9a-f]{64}$/.test(String(p))).length
        : 0
      const shardsBefore = shardsOnDisk()

      const put = twin(['put', folder, '--as', '/folder', '--home', home], { timeoutMs: 120_000 })
      // The first file's shards on disk mean the put has listed the folder and is reading a-large.bin.
      await waitFor(() => shardsOnDisk() > shardsBefore, 60_000, 'the first shards of a-large.bin', 10)
      rmSync(join(folder, 'b-small.txt'))
      symlinkSync(at('secret.txt'), join(folder, 'b-small.txt'))
      const r = await put

      expectCleanFailure(r, /b-small\.txt was replaced by a symbolic link while it was being stored; it was not stored/)
      const entries = (await twinJson(['ls', '/folder', '--home', home])).entries as Array<{ path: string, size: number }>
      expect(entries.map(e => e.path)).not.toContain('/folder/b-small.txt')
      for (const e of entries.filter(e => e.size < 1024 * 1024)) {
        const got = await twin(['get', e.path, '-o', '-', '--home', home])
        expect(got.stdout).not.toContain(secret.trim())
      }
    }, 180_000)

    it('stores the target of a link that the user named on the command line', async () => {
      const target = at('target.txt')
      writeFileSync(target, 'the target of a link\n')
      symlinkSync(target, at('named-link.txt'))
      await twinJson(['put', at('named-link.txt'), '--as', '/named.txt', '--home', home])
      const got = await twin(['get', '/named.txt', '-o', '-', '--home', home])
      expect(got.stdout).toBe('the target of a link\n')
    })
  })

  describe('what the running twin leaves for other local users', () => {
    it('made its existing 0755 home private (0700) when it started', () => {
      expect(modeOf(home)).toBe(0o700)
    })

    it('has removed TWIN_PASSPHRASE from /proc/PID/environ, and still signs and works', async () => {
      const environ = readFileSync(`/proc/${proc.child.pid as number}/environ`)
      expect(environ.length).toBeGreaterThan(0)
      expect(environ.toString('latin1').split('\0').filter(e => e.startsWith('TWIN_PASSPHRASE'))).toEqual([])
      expect(environ.includes(Buffer.from(passphrase))).toBe(false)
      expect(environ.toString('latin1')).toContain('PATH=') // the rest of the environment is intact
      // Working keys: status, and a file stored and read back with the unlocked vault key.
      expect((await twinJson(['status', '--home', home])).id).toBe(id)
      writeFileSync(at('note.txt'), 'still works\n')
      await twinJson(['put', at('note.txt'), '--as', '/note.txt', '--home', home])
      expect((await twin(['get', '/note.txt', '-o', '-', '--home', home])).stdout).toBe('still works\n')
    })
  })
})

describe('homes given as existing folders', () => {
  it('makes an existing empty 0777 folder private (0700) at init and at restore', async () => {
    mkdirSync(at('open-init'))
    chmodSync(at('open-init'), 0o777)
    const made = await twinJson(['init', '--home', at('open-init')])
    expect(modeOf(at('open-init'))).toBe(0o700)

    writeFileSync(at('phrase.txt'), made.phrase)
    mkdirSync(at('open-restore'))
    chmodSync(at('open-restore'), 0o777)
    await twinJson(['restore', '--phrase-file', at('phrase.txt'), '--home', at('open-restore')])
    expect(modeOf(at('open-restore'))).toBe(0o700)
  })

  it('makes an existing 0777 relay home private (0700)', async () => {
    mkdirSync(at('open-relay'))
    chmodSync(at('open-relay'), 0o777)
    const relay = procs.spawn(['relay', '--home', at('open-relay'), '--listen', '/ip4/127.0.0.1/tcp/0'])
    await relay.ready()
    expect(modeOf(at('open-relay'))).toBe(0o700)
    await relay.stop()
  })
})
