import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from './helpers.js'
import { api, Procs, waitFor } from './processes.js'

// Large messages waiting in a relay's mailbox: the relay must push them in frames the twin
// accepts (at most 300 KiB each), however many are waiting.
const tmp = tempDir('twin-mailbox-')
const procs = new Procs()
afterAll(async () => {
  await procs.stopAll()
  tmp.cleanup()
})
const at = (name: string): string => join(tmp.path, name)

/** Two of these do not fit in one frame: 2 × 200 kB > 300 KiB. */
const BIG_MESSAGE_CHARS = 200_000
const BIG_MESSAGES = 2
/** Five of these do not fit in one frame either: 5 × 62 kB > 300 KiB, while each is small. */
const MEDIUM_MESSAGE_CHARS = 62_000
const MEDIUM_MESSAGES = 5

async function newTwin (name: string): Promise<{ home: string, id: string }> {
  const home = at(name)
  const r = await twinJson(['init', '--home', home, '--name', name])
  writeFileSync(`${home}.phrase`, r.phrase)
  return { home, id: r.id }
}

describe('a mailbox holding large messages', () => {
  let relay: string
  let alice: { home: string, id: string }
  let bob: { home: string, id: string }
  const startBob = (): ReturnType<Procs['spawn']> => procs.spawn(['start', '--home', bob.home, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0'])

  beforeAll(async () => {
    relay = (await procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/127.0.0.1/tcp/0']).ready()).addresses[0]
    alice = await newTwin('alice')
    bob = await newTwin('bob')
    await procs.spawn(['start', '--home', alice.home, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0']).ready()
  })

  /** With bob stopped, alice sends `count` messages of `chars` characters; bob starts and must get each exactly once. */
  async function deliverWhileStopped (label: string, count: number, chars: number): Promise<void> {
    const b = startBob()
    expect(await b.ready()).toMatchObject({ id: bob.id })
    await api(alice.home, 'POST', '/v1/call', { to: bob.id, verb: 'twin.ping' }) // alice learns bob's record
    expect(await b.stop('SIGTERM')).toBe(0)
    const sent: string[] = []
    for (let i = 0; i < count; i++) {
      const r = await api(alice.home, 'POST', '/v1/messages', { to: bob.id, verb: 'test.blob', payload: { label, i, data: String(i % 10).repeat(chars) } })
      sent.push(r.id)
    }
    // Every message waits in the mailbox before bob comes back, so the relay must push them all.
    await waitFor(async () => {
      const out = (await api(alice.home, 'GET', '/v1/outbox?limit=1000')).messages.filter((m: any) => sent.includes(m.id))
      return out.length === count && out.every((m: any) => m.status === 'relayed')
    }, 30_000, `${label}: all left at the relay`)
    const again = startBob()
    try {
      expect(await again.ready()).toMatchObject({ id: bob.id })
      await waitFor(async () => {
        const out = (await api(alice.home, 'GET', '/v1/outbox?limit=1000')).messages.filter((m: any) => sent.includes(m.id))
        return out.every((m: any) => m.status === 'delivered')
      }, 60_000, `${label}: all delivered`)
      const inbox = (await api(bob.home, 'GET', '/v1/inbox?limit=1000')).messages.filter((m: any) => m.payload?.label === label)
      expect(inbox.map((m: any) => m.id).sort()).toEqual([...sent].sort())
      for (const m of inbox) expect(m.payload.data).toBe(String(m.payload.i % 10).repeat(chars))
    } finally {
      await again.stop('SIGTERM')
    }
  }

  it('delivers two messages of 200 kB, each exactly once', async () => {
    await deliverWhileStopped('big', BIG_MESSAGES, BIG_MESSAGE_CHARS)
  }, 120_000)

  it('delivers five messages of 62 kB, each exactly once', async () => {
    await deliverWhileStopped('medium', MEDIUM_MESSAGES, MEDIUM_MESSAGE_CHARS)
  }, 120_000)
})
