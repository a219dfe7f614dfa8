import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { decodeCbor, encodeCbor } from '../wire/index.js'

/** Largest frame on Twin's protocols: an envelope at its limit plus framing. */
export const MAX_FRAME_BYTES = 300 * 1024

/**
 * A long-lived stream of length-prefixed canonical CBOR frames. One stream carries many
 * messages: opening a stream per message costs a protocol negotiation round trip, about seven
 * times slower (see docs/PERFORMANCE.md).
 */
export class FrameStream {
  private readonly lp: LengthPrefixedStream<Stream>
  private writing: Promise<void> = Promise.resolve()
  closed = false

  constructor (readonly stream: Stream, maxFrameBytes = MAX_FRAME_BYTES) {
    this.lp = lpStream(stream, { maxDataLength: maxFrameBytes, maxBufferSize: maxFrameBytes + 1024 })
    stream.addEventListener('close', () => { this.closed = true }, { once: true })
  }

  /** Writes one frame; writes are queued so frames never interleave. */
  async write (value: unknown): Promise<void> {
    const bytes = encodeCbor(value)
    const next = this.writing.then(async () => { await this.lp.write(bytes) })
    this.writing = next.catch(() => {})
    await next
  }

  /** Reads the next frame, or undefined when the other side closed the stream. */
  async read (options?: { signal?: AbortSignal }): Promise<unknown> {
    let data
    try {
      data = await this.lp.read(options)
    } catch (err) {
      if ((err as Error).name === 'UnexpectedEOFError') return undefined
      throw err
    }
    return decodeCbor(data.subarray(), 'frame')
  }

  async close (): Promise<void> {
    this.closed = true
    await this.stream.close().catch(() => { this.stream.abort(new Error('close failed')) })
  }

  abort (reason = 'aborted'): void {
    this.closed = true
    this.stream.abort(new Error(reason))
  }
}
