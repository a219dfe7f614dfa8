import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from './helpers.js'
import { labUnavailable, makeLink, type Link } from '../lab/netlab.js'
import { Procs } from './processes.js'

// A relay and a storage node on a host with a network beyond loopback (a network namespace with
// a veth link), listening on every interface: what they print must work from another machine.
const tmp = tempDir('twin-addresses-')
const procs = new Procs()
const links: Link[] = []
const unavailable = labUnavailable()
if (unavailable !== undefined) console.warn(`address tests skipped: ${unavailable}`)

afterAll(async () => {
  await procs.stopAll()
  for (const l of links) l.remove()
  tmp.cleanup()
})

describe.skipIf(unavailable !== undefined)('printed addresses', () => {
  it('are ones another machine can use, not loopback, for a relay and a storage node listening everywhere', async () => {
    const link = makeLink()
    links.push(link)
    const relay = await procs.spawn(['relay', '--home', join(tmp.path, 'relay'), '--listen', '/ip4/0.0.0.0/tcp/0'], {}, link.ns).ready()
    expect(relay.addresses[0]).toContain(`/ip4/${link.nsIp}/tcp/`)
    expect(relay.addresses.some((a: string) => a.startsWith('/ip4/127.'))).toBe(false)
    const node = await procs.spawn(['storage-node', '--open', '--home', join(tmp.path, 'node'), '--dir', join(tmp.path, 'node', 'shards'), '--listen', '/ip4/0.0.0.0/tcp/0'], {}, link.ns).ready()
    expect(node.addresses[0]).toContain(`/ip4/${link.nsIp}/tcp/`)
    expect(node.addresses.some((a: string) => a.startsWith('/ip4/127.'))).toBe(false)
  }, 60_000)
})
