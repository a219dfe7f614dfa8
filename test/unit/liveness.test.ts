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

  it('keeps a connection whose ping waits behind data that keeps arriving', async () => {
    const stream = new EventTarget()
    const conn = fakeConnection('hangs', [stream])
    const live = new Liveness(components([conn]), { timeoutMs: 100 })
    const checking = live.check(conn)
    setTimeout(() => stream.dispatchEvent(new Event('message')), 20)
    expect(await checking).toBe('busy')
    expect(conn.aborted).toBeUndefined()
  })

  it('keeps a connection whose ping waits behind an upload that keeps draining, though nothing comes back yet', async () => {
    const stream = new EventTarget()
    const conn = fakeConnection('hangs', [stream])
    const live = new Liveness(components([conn]), { timeoutMs: 100 })
    const checking = live.check(conn)
    setTimeout(() => stream.dispatchEvent(new Event('drain')), 20)
    expect(await checking).toBe('busy')
    expect(conn.aborted).toBeUndefined()
  })

  it('keeps a connection on which the peer\'s bytes arrive underneath the streams (window updates while a large answer of ours crawls out)', async () => {
    const raw = new EventTarget()
    const conn = Object.assign(fakeConnection('hangs'), { maConn: raw })
    const live = new Liveness(components([conn]), { timeoutMs: 100 })
    const checking = live.check(conn)
    setTimeout(() => raw.dispatchEvent(new Event('message')), 20)
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
