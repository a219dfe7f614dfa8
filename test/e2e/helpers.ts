import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const TWIN = fileURLToPath(new URL('../../bin/twin', import.meta.url))

export interface Run { code: number | null, stdout: string, stderr: string }

/** Runs `bin/twin` as a user would, in its own process, with an isolated environment. */
export async function twin (args: string[], options: { env?: Record<string, string>, input?: string, timeoutMs?: number, netns?: string } = {}): Promise<Run> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env }
  return await new Promise((resolve, reject) => {
    // `netns`: run inside a lab's network namespace (test/lab/netlab.js), where that twin's API is.
    const [cmd, argv] = options.netns === undefined ? [process.execPath, [TWIN, ...args]] : ['ip', ['netns', 'exec', options.netns, process.execPath, TWIN, ...args]]
    const child = spawn(cmd, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    // Only a hung command should meet this: a put of a few hundred MiB on a loaded machine may take a minute.
    const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 180_000)
    child.on('error', reject)
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
    child.stdin.end(options.input ?? '')
  })
}

/** Runs `twin ... --json` and parses its one line of output, failing loudly on a non-zero exit. */
export async function twinJson (args: string[], options: Parameters<typeof twin>[1] = {}): Promise<any> {
  const r = await twin([...args, '--json'], options)
  if (r.code !== 0) throw new Error(`twin ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** A temporary folder removed after the test file. */
export function tempDir (prefix = 'twin-e2e-'): { path: string, cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, cleanup: () => { rmSync(path, { recursive: true, force: true }) } }
}

/** Asserts the shape of a user-facing failure: non-zero exit, one line, no stack trace. */
export function expectCleanFailure (r: Run, pattern: RegExp): void {
  if (r.code === 0) throw new Error(`expected failure, got success: ${r.stdout}`)
  const lines = r.stderr.trim().split('\n')
  if (lines.length !== 1 || !lines[0]!.startsWith('twin: ') || /\n\s+at /.test(r.stderr) || /internal error/.test(r.stderr)) {
    throw new Error(`expected one clear error line, got:\n${r.stderr}`)
  }
  if (!pattern.test(r.stderr)) throw new Error(`error ${JSON.stringify(r.stderr.trim())} does not match ${pattern}`)
}
