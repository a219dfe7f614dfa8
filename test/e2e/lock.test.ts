import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from './helpers.js'

const tmp = tempDir('twin-lock-')
afterAll(() => { tmp.cleanup() })

// Contenders and rounds: enough that, with the old lock (an empty file created first, the pid
// written after), two contenders of some round found each other's empty file and both took it.
const PROCESSES = 6
const ROUNDS = 150
// Every contender starts round r at the same instant, spinning until then, so they collide.
const ROUND_MS = 5

// A contender: takes the lock of each round's home with the built module, as `twin start` does,
// keeps what it took until it is told to exit, and reports each round as one JSON line.
const CONTENDER = `
import { acquireLock } from ${JSON.stringify(new URL('../../dist/fs/index.js', import.meta.url).href)}
import { join } from 'node:path'
const [dir, rounds, startAt, roundMs] = process.argv.slice(2)
for (let r = 0; r < Number(rounds); r++) {
  while (Date.now() < Number(startAt) + r * Number(roundMs)) { /* spin: all contenders go at once */ }
  try {
    acquireLock(join(dir, 'r' + r), 'twin')
    process.stdout.write(JSON.stringify({ r, held: true }) + '\\n')
  } catch (err) {
    process.stdout.write(JSON.stringify({ r, held: false, code: err.code ?? err.message }) + '\\n')
  }
}
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
`

describe('the home lock', () => {
  it('is held by exactly one of several processes that race for it, also when they take over a stale lock', async () => {
    const script = join(tmp.path, 'contender.mjs')
    writeFileSync(script, CONTENDER)
    // Every other round starts with the lock of a process that has exited (a crashed twin).
    const dead = spawn(process.execPath, ['-e', ''])
    await new Promise(resolve => dead.on('exit', resolve))
    for (let r = 0; r < ROUNDS; r++) {
      mkdirSync(join(tmp.path, `r${r}`))
      if (r % 2 === 1) writeFileSync(join(tmp.path, `r${r}`, 'twin.lock'), String(dead.pid))
    }
    const startAt = Date.now() + 1500 // after every contender has loaded
    const children = Array.from({ length: PROCESSES }, () => spawn(process.execPath, [script, tmp.path, String(ROUNDS), String(startAt), String(ROUND_MS)], { stdio: ['pipe', 'pipe', 'inherit'] }))
    const lines = await Promise.all(children.map(async child => await new Promise<Array<{ r: number, held: boolean, code?: string }>>(resolve => {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d
        const done = out.split('\n').filter(l => l !== '')
        if (done.length === ROUNDS) resolve(done.map(l => JSON.parse(l)))
      })
    })))
    // Every contender still runs (and holds what it took) while the results are compared.
    for (const child of children) child.stdin.end()
    for (let r = 0; r < ROUNDS; r++) {
      const round = lines.map(l => l.find(x => x.r === r))
      expect(round.filter(x => x?.held === true), `round ${r}`).toHaveLength(1)
      expect(round.filter(x => x?.held === false).map(x => x?.code)).toEqual(Array(PROCESSES - 1).fill('ALREADY_RUNNING'))
    }
  }, 60_000)
})
