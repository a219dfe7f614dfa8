import { describe, expect, it } from 'vitest'
import type { Connection } from '@libp2p/interface'
import { Liveness } from '../../src/net/liveness.js'

/** A connection whose ping stream never answers (or fails as told), with streams that can receive bytes. */
function fakeConnection (pingFails: Error | 'hangs', streams = [new EventTarget()]): Connection & { aborted?: Error } {
  const conn = {
    id: 'c1',
    status: 'open',
    streams,
    aborted: undefined as Error | undefined,
    abort (err: Error) { this.aborted = err; this.status = 'closed' },
    async newStream (_protocol: string, options: { signal: AbortSignal }) {
      if (pingFails !== 'hangs') throw pingFails
      return await new Promise((_resolve, reject) => { options.signal.addEventListener('abort', () => { reject(new Error('timed out')) }) })
    }
  }
  return conn as unknown as Connection & { aborted?: Error }
}

const components = (conns: Connection[]): { connectionManager: { getConnections: () => Connection[] } } => ({ connectionManager: { getConnections: () => conns } })

describe('connection liveness', () => {
  it('aborts a connection that answers no ping and on which nothing arrives', async () => {
    const conn = fakeConnection('hangs')
    const live = new Liveness(components([conn]), { timeoutMs: 50 })
    expect(await live.check(conn)).toBe('aborted')
    expect(conn.aborted?.message).toMatch(/no answer to a keep-alive ping/)
  })

  // What proves the peer is there while its ping waits in a queue: the event, and where it happens.
  it.each([
    ['data that keeps arriving on a stream', 'stream', 'message'],
    ['an upload that keeps draining, though nothing comes back yet', 'stream', 'drain'],
    ['the peer\'s bytes underneath the streams (window updates while a large answer of ours crawls out)', 'raw', 'message']
  ])('keeps a connection whose ping waits behind %s', async (_what, where, event) => {
    const stream = new EventTarget()
    const raw = new EventTarget()
    const conn = Object.assign(fakeConnection('hangs', [stream]), { maConn: raw })
    const live = new Liveness(components([conn]), { timeoutMs: 100 })
    const checking = live.check(conn)
    setTimeout(() => (where === 'raw' ? raw : stream).dispatchEvent(new Event(event)), 20)
    expect(await checking).toBe('busy')
    expect(conn.aborted).toBeUndefined()
  })

  it('counts a peer that does not speak the ping protocol as there (it answered the negotiation)', async () => {
    const err = Object.assign(new Error('protocol selection failed'), { name: 'UnsupportedProtocolError' })
    const conn = fakeConnection(err)
    expect(await new Liveness(components([conn]), { timeoutMs: 50 }).check(conn)).toBe('alive')
    expect(conn.aborted).toBeUndefined()
  })
})
