import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir, twinJson } from './helpers.js'
import { api, Procs, waitFor } from './processes.js'
import { TwinDaemon } from '../../src/twin/daemon.js'
import { decodeEnvelope } from '../../src/messaging/index.js'
import { decodeRecord } from '../../src/net/record.js'

// Twins of different envelope versions talk in the one both read. The old twin is simulated in
// this process: a daemon that reads and writes only version 1 and whose document does not
// advertise version 2, as a twin from before version 2. The others are `twin start` processes.
const tmp = tempDir('twin-versions-')
const procs = new Procs()
let old: TwinDaemon | undefined
afterAll(async () => {
  await old?.stop()
  await procs.stopAll()
  tmp.cleanup()
})
const at = (name: string): string => join(tmp.path, name)

/** The version of each envelope `home`'s twin queued for `to`, read from its outbox. */
function outboxVersions (home: string, to: string): number[] {
  const db = new Database(join(home, 'twin.db'), { readonly: true, fileMustExist: true })
  try {
    const rows = db.prepare('SELECT envelope FROM msg_outbox WHERE to_id = ? ORDER BY seq').all(to) as Array<{ envelope: Uint8Array }>
    return rows.map(r => decodeEnvelope(new Uint8Array(r.envelope)).v)
  } finally {
    db.close()
  }
}

/** The envelope versions `home`'s twin knows `id` reads, from the record it keeps of it. */
function knownVersions (home: string, id: string): number[] | undefined {
  const db = new Database(join(home, 'twin.db'), { readonly: true, fileMustExist: true })
  try {
    const row = db.prepare('SELECT record FROM net_records WHERE id = ?').get(id) as { record: Uint8Array } | undefined
    return row === undefined ? undefined : decodeRecord(new Uint8Array(row.record), id).net.envelopes
  } finally {
    db.close()
  }
}

const inboxTexts = async (home: string): Promise<string[]> => (await api(home, 'GET', '/v1/inbox?limit=1000')).messages.map((m: any) => m.text)

describe('twins of different envelope versions', () => {
  let relay: string
  let alice: { id: string, home: string }
  let bob: { id: string, home: string }
  let carol: { id: string, home: string }
  const startOld = async (): Promise<TwinDaemon> => {
    const d = new TwinDaemon(alice.home, { bootstrap: [relay], listen: ['/ip4/127.0.0.1/tcp/0'], envelopeVersions: [1] })
    await d.start()
    return d
  }
  const startNew = (t: { home: string }): ReturnType<Procs['spawn']> => procs.spawn(['start', '--home', t.home, '--bootstrap', relay, '--listen', '/ip4/127.0.0.1/tcp/0'])

  beforeAll(async () => {
    relay = (await procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/127.0.0.1/tcp/0']).ready()).addresses[0]
    const made = await Promise.all(['alice', 'bob', 'carol'].map(async name => ({ id: (await twinJson(['init', '--home', at(name), '--name', name])).id as string, home: at(name) })))
    ;[alice, bob, carol] = made as [typeof alice, typeof bob, typeof carol]
    old = await startOld()
    await Promise.all([startNew(bob).ready(), startNew(carol).ready()])
  })

  it('exchange events and requests both ways in version 1, the one the old twin reads', async () => {
    const o = old as TwinDaemon
    expect(await o.messaging.request(bob.id, 'twin.ping', null)).toMatchObject({ pong: true })
    o.messaging.send(bob.id, 'chat.message', { text: 'from the old twin' })
    await waitFor(async () => (await inboxTexts(bob.home)).includes('from the old twin'), 30_000, 'the old twin\'s message at bob')
    expect((await api(bob.home, 'POST', '/v1/call', { to: alice.id, verb: 'twin.ping' })).response).toMatchObject({ pong: true })
    await api(bob.home, 'POST', '/v1/messages', { to: alice.id, text: 'from the new twin' })
    await waitFor(async () => (await inboxTexts(alice.home)).includes('from the new twin'), 30_000, 'bob\'s message at the old twin')
    await waitFor(async () => (await api(bob.home, 'GET', '/v1/outbox')).messages.every((m: any) => m.status === 'delivered'), 30_000, 'bob\'s message delivered')

    expect(knownVersions(bob.home, alice.id)).toEqual([1])
    expect(outboxVersions(bob.home, alice.id)).toEqual([1])
    expect(outboxVersions(alice.home, bob.id)).toEqual([1])
  }, 120_000)

  it('while two current twins write version 2 to each other', async () => {
    expect((await api(bob.home, 'POST', '/v1/call', { to: carol.id, verb: 'twin.ping' })).response).toMatchObject({ pong: true })
    await api(bob.home, 'POST', '/v1/messages', { to: carol.id, text: 'between current twins' })
    await waitFor(async () => (await inboxTexts(carol.home)).includes('between current twins'), 30_000, 'bob\'s message at carol')
    expect(knownVersions(bob.home, carol.id)).toEqual([1, 2])
    expect(outboxVersions(bob.home, carol.id)).toEqual([2])
  }, 120_000)

  it('leave version 1 mail for the old twin at its relay while it is away, and it reads it when it is back', async () => {
    await (old as TwinDaemon).stop()
    old = undefined
    for (let i = 0; i < 3; i++) await api(bob.home, 'POST', '/v1/messages', { to: alice.id, text: `while away ${i}` })
    await waitFor(async () => (await api(bob.home, 'GET', '/v1/outbox')).messages.filter((m: any) => m.to === alice.id).every((m: any) => m.status === 'relayed' || m.status === 'delivered'), 60_000, 'left at the relay')
    old = await startOld()
    await waitFor(async () => { const t = await inboxTexts(alice.home); return [0, 1, 2].every(i => t.includes(`while away ${i}`)) }, 60_000, 'the mail at the old twin')
    expect(outboxVersions(bob.home, alice.id)).toEqual([1, 1, 1, 1])
  }, 120_000)
})
