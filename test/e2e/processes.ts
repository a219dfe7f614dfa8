import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { TWIN } from './helpers.js'

/** A long-running `bin/twin` process (start, relay) whose first stdout line is its ready JSON. */
export class Proc {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<number | null>
  private readonly readyLine: Promise<any>

  /** `netns`: run inside that network namespace (`ip netns exec`; test/lab/netlab.js makes them). */
  constructor (args: string[], env: Record<string, string> = {}, netns?: string) {
    const argv = [TWIN, ...args, '--json']
    this.child = spawn(netns === undefined ? process.execPath : 'ip', netns === undefined ? argv : ['netns', 'exec', netns, process.execPath, ...argv], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d })
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d })
    this.exited = new Promise(resolve => { this.child.on('exit', code => { resolve(code) }) })
    this.readyLine = new Promise((resolve, reject) => {
      // A guard against a process that hangs, not a measure of speed: a loaded machine is slow.
      const timer = setTimeout(() => { reject(new Error(`not ready after 120 s: ${args.join(' ')}\n${this.stderr}`)) }, 120_000)
      const check = (): void => {
        const nl = this.stdout.indexOf('\n')
        if (nl === -1) return
        clearTimeout(timer)
        try { resolve(JSON.parse(this.stdout.slice(0, nl))) } catch (err) { reject(err as Error) }
      }
      this.child.stdout!.on('data', check)
      void this.exited.then(code => { clearTimeout(timer); reject(new Error(`exited ${code} before ready: ${this.stderr}`)) })
    })
  }

  async ready (): Promise<any> {
    return await this.readyLine
  }

  expectedExit = false

  /** Sends a signal and waits for the process to end. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    this.expectedExit = true
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return await this.exited
  }
}

/** Tracks processes so that every test file stops what it started. */
export class Procs {
  private readonly all: Proc[] = []
  spawn (args: string[], env?: Record<string, string>, netns?: string): Proc {
    const p = new Proc(args, env, netns)
    this.all.push(p)
    return p
  }

  /** The last lines each process wrote to stderr, to explain a failure. */
  tails (bytes = 2000): string {
    return this.all.map(p => `--- ${p.child.spawnargs.slice(-8).join(' ').slice(0, 160)}\n${p.stderr.slice(-bytes)}`).join('\n')
  }

  async stopAll (): Promise<void> {
    // A process that died on its own is a bug to see: show what it said.
    for (const p of this.all) {
      if (p.child.exitCode !== null && p.child.exitCode !== 0 && !p.expectedExit && p.stderr !== '') {
        console.error(`process exited ${p.child.exitCode}: ${p.child.spawnargs.slice(2).join(' ')}\n${p.stderr}`)
      }
    }
    await Promise.all(this.all.map(async p => { p.expectedExit = true; return await p.stop('SIGKILL') }))
  }
}

/** Calls a running twin's HTTP API with the token from its home, as the CLI does. */
export async function api (home: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
  const file = JSON.parse(readFileSync(join(home, 'api.json'), 'utf8'))
  const res = await fetch(file.url + path, {
    method,
    headers: { authorization: `Bearer ${file.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const json = await res.json()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** Polls until `fn` returns a truthy value, or fails with the last value after `timeoutMs`. */
export async function waitFor<T> (fn: () => Promise<T> | T, timeoutMs: number, what: string, intervalMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  while (Date.now() < deadline) {
    try {
      last = await fn()
      if (last) return last as NonNullable<T>
    } catch { /* not yet */ }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`)
}

/** A TCP port that was free a moment ago, for a process that must restart on the same address. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => { resolve(port) })
    })
    srv.on('error', reject)
  })
}
