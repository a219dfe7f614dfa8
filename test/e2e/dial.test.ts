import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from './helpers.js'
import { labUnavailable, makeLink, type Link } from '../lab/netlab.js'
import { Procs } from './processes.js'

// Bob publishes a direct address whose packets vanish (a firewall that drops them, a stale
// address behind a NAT) and a circuit through his relay. Alice must not spend her whole dial on
// the dead address: the circuit is tried alongside it.
const tmp = tempDir('twin-dial-')
const procs = new Procs()
let link: Link
const at = (...p: string[]): string => join(tmp.path, ...p)
const unavailable = labUnavailable()
if (unavailable !== undefined) console.warn(`dial tests skipped: ${unavailable}`)
const SILENT = '198.51.100.0/24'
let alice: string
let bob: { id: string, peerId: string }

beforeAll(async () => {
  if (unavailable !== undefined) return
  link = makeLink()
  // Packets to the silent range go into a namespace that does not forward them: no answer at all.
  execFileSync('ip', ['route', 'add', SILENT, 'via', link.nsIp])
  const relay = (await procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/127.0.0.1/tcp/0']).ready()).addresses[0]
  alice = at('alice')
  await twinJson(['init', '--home', alice, '--name', 'alice'])
  const b = await twinJson(['init', '--home', at('bob'), '--name', 'bob'])
  await procs.spawn(['start', '--home', alice, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0']).ready()
  const ready = await procs.spawn(['start', '--home', at('bob'), '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0', '--announce', '/ip4/198.51.100.2/tcp/4001']).ready()
  bob = { id: b.id, peerId: ready.peerId }
}, 120_000)

afterAll(async () => {
  await procs.stopAll()
  try { execFileSync('ip', ['route', 'del', SILENT]) } catch { /* never added */ }
  link?.remove()
  tmp.cleanup()
})

describe.skipIf(unavailable !== undefined)('a twin whose published direct address is silently dropped', () => {
  it('is reached through its relay circuit, not only through the mailbox', async () => {
    const r = await twinJson(['call', bob.id, 'twin.ping', '--home', alice])
    expect(r.response).toMatchObject({ pong: true })
    const links = (await twinJson(['status', '--home', alice])).links
    expect(links).toContainEqual(expect.objectContaining({ peer: bob.peerId, path: 'relayed' }))
  }, 60_000)
})
