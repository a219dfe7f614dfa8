import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { it } from 'vitest'
import { tempDir, twinJson, twin } from './helpers.js'
import { homeNetwork } from './homes.js'
import { Procs } from './processes.js'
it('dbg', async () => {
  const tmp = tempDir('twin-slowdbg-')
  const procs = new Procs()
  const labs: any[] = []
  try {
    const net = await homeNetwork(procs, labs, tmp.path, { uplinkKbit: 1000 }, true)
    const file = join(tmp.path, 'f.bin')
    writeFileSync(file, randomBytes(20 * 1024 * 1024))
    await twinJson(['put', file, '--as', '/f.bin', '--home', net.alice.home], { netns: net.alice.ns, timeoutMs: 400000 })
    console.log('put done', new Date().toISOString(), JSON.stringify((await twinJson(['status', '--home', net.alice.home], { netns: net.alice.ns })).links.map((l: any) => [l.path, l.peer.slice(-6), l.direction])))
    const r = await twin(['get', '/f.bin', '-o', file + '.back', '--home', net.alice.home], { netns: net.alice.ns, timeoutMs: 400000 })
    console.log('get', r.code, r.stderr, new Date().toISOString())
    for (const p of (procs as any).all) console.log('STDERR', p.child.spawnargs.slice(3, 6).join(' '), p.stderr.slice(-3000))
  } finally {
    await procs.stopAll()
    for (const l of labs) l.remove()
    tmp.cleanup()
  }
}, 900000)
