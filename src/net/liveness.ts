import type { Connection, Startable } from '@libp2p/interface'

/** How often each connection is checked, and how long its keep-alive ping may take. */
export interface LivenessOptions {
  intervalMs?: number
  timeoutMs?: number
}

/** The ping protocol libp2p peers answer (a peer that does not, still answered the negotiation). */
const PING = '/ipfs/ping/1.0.0'
const PING_BYTES = 32

interface Components { connectionManager: { getConnections: () => Connection[] } }

/**
 * Keeps connections honest without killing busy ones. libp2p's own connection monitor aborts a
 * connection whose ping takes longer than a few seconds; on a slow uplink a ping waits behind
 * the shards already queued on the same connection (a megabyte queued at 1 Mbit/s is 8 s), so
 * the monitor killed every large upload there (issue 14). This check pings each connection every
 * `intervalMs` too, but a ping that fails only ends a connection on which nothing else moved
 * meanwhile either: bytes arriving on any of its streams, or a stream's queued bytes draining
 * (the muxer sends beyond its window only as the peer grants more), prove the peer is there. On
 * an upload, the peer's answers may all come at the end, after tens of seconds. A connection
 * whose peer silently went away (a NAT dropped its mapping, a machine lost power) receives
 * nothing and is aborted within `intervalMs + timeoutMs`, so the twin notices and redials.
 */
export class Liveness implements Startable {
  private timer: NodeJS.Timeout | undefined
  private readonly checking = new Set<string>()
  private readonly intervalMs: number
  private readonly timeoutMs: number

  constructor (private readonly components: Components, options: LivenessOptions = {}) {
    this.intervalMs = options.intervalMs ?? 10_000
    this.timeoutMs = options.timeoutMs ?? 10_000
  }

  start (): void {
    this.timer = setInterval(() => { this.checkAll() }, this.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private checkAll (): void {
    for (const conn of this.components.connectionManager.getConnections()) {
      if (conn.status !== 'open' || this.checking.has(conn.id)) continue
      this.checking.add(conn.id)
      void this.check(conn).finally(() => this.checking.delete(conn.id))
    }
  }

  /** Pings one connection; aborts it only when the ping failed and nothing else arrived meanwhile. */
  async check (conn: Connection): Promise<'alive' | 'busy' | 'aborted'> {
    // Proof that the peer is there: bytes from it on any stream, or a stream's queued bytes
    // leaving (a drain): beyond the muxer's window, they leave only as the peer grants more.
    let arrived = false
    const onMessage = (): void => { arrived = true }
    // Also any bytes at all from the peer on the connection underneath (libp2p's Connection keeps
    // it as `maConn`, not in its interface): window updates and acknowledgements keep coming
    // while a large answer of ours crawls out, when no stream of ours hears anything.
    const raw = (conn as unknown as { maConn?: EventTarget }).maConn
    raw?.addEventListener('message', onMessage)
    const watched = [...conn.streams]
    for (const s of watched) {
      s.addEventListener('message', onMessage)
      s.addEventListener('drain', onMessage)
    }
    try {
      await ping(conn, this.timeoutMs)
      return 'alive'
    } catch (err) {
      if ((err as Error).name === 'UnsupportedProtocolError') return 'alive' // it negotiated: it is there
      if (arrived) return 'busy'
      if (conn.status === 'open') conn.abort(new Error(`no answer to a keep-alive ping in ${this.timeoutMs} ms, and nothing else arrived`))
      return 'aborted'
    } finally {
      raw?.removeEventListener('message', onMessage)
      for (const s of watched) {
        s.removeEventListener('message', onMessage)
        s.removeEventListener('drain', onMessage)
      }
    }
  }
}

/** One ping: 32 random bytes out, the same 32 back, within `timeoutMs`. */
async function ping (conn: Connection, timeoutMs: number): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs)
  const stream = await conn.newStream(PING, { signal, runOnLimitedConnection: true })
  try {
    const sent = crypto.getRandomValues(new Uint8Array(PING_BYTES))
    const echoed = new Promise<void>((resolve, reject) => {
      const got: Uint8Array[] = []
      let n = 0
      const done = (err?: Error): void => {
        stream.removeEventListener('message', onMessage)
        signal.removeEventListener('abort', onAbort)
        if (err === undefined) resolve()
        else reject(err)
      }
      const onMessage = (evt: { data: { subarray: () => Uint8Array } }): void => {
        const piece = evt.data.subarray()
        got.push(piece)
        n += piece.length
        if (n < PING_BYTES) return
        const back = Buffer.concat(got).subarray(0, PING_BYTES)
        done(Buffer.compare(back, sent) === 0 ? undefined : new Error('the ping came back different'))
      }
      const onAbort = (): void => { done(new Error('the ping timed out')) }
      stream.addEventListener('message', onMessage as never)
      signal.addEventListener('abort', onAbort)
    })
    // Awaited below; if the send fails first, its failure is the one reported.
    echoed.catch(() => {})
    if (!stream.send(sent)) await stream.onDrain({ signal })
    await echoed
    await stream.close({ signal }).catch(() => {})
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** The libp2p service factory: `services: { liveness: liveness() }`. */
export function liveness (options: LivenessOptions = {}): (components: Components) => Liveness {
  return components => new Liveness(components, options)
}
