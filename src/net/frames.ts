import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { byteStringHead, decodeCbor, encodeCbor, readByteStringHead } from '../wire/index.js'
import { ReadBudget, SHARED_READ_BUDGET } from './budget.js'

/** Largest frame on Twin's protocols: an envelope at its limit plus framing. */
export const MAX_FRAME_BYTES = 300 * 1024
/** A stream buffers at least this much ahead of the reader before it stops taking data. */
const READ_AHEAD_BYTES = 64 * 1024
/** A frame that was started but gets no further byte for this long is abandoned (slow-loris). */
export const FRAME_IDLE_MS = 30_000

/** When bytes last arrived on any of the streams that share it (e.g. the lanes to one storage node). */
export interface Progress { last: number }

/**
 * An abort signal for a wait that may queue behind other traffic on a slow link: it fires once
 * `last()` has not moved for `quietMs`, or after `maxMs` in any case.
 */
export function whileProgressing (last: () => number, quietMs: number, maxMs: number): { signal: AbortSignal, clear: () => void } {
  const controller = new AbortController()
  const start = Date.now()
  let timer: NodeJS.Timeout | undefined
  const check = (): void => {
    const now = Date.now()
    const quiet = now - Math.max(last(), start)
    if (quiet >= quietMs) controller.abort(new Error(`nothing arrived for ${Math.round(quiet / 1000)} s`))
    else if (now - start >= maxMs) controller.abort(new Error(`no answer in ${Math.round(maxMs / 1000)} s`))
    else timer = setTimeout(check, Math.min(quietMs - quiet, maxMs - (now - start)))
  }
  timer = setTimeout(check, Math.min(quietMs, maxMs))
  return { signal: controller.signal, clear: () => { clearTimeout(timer) } }
}

export interface FrameStreamOptions {
  /** Largest frame accepted; can be raised later (after the peer authenticated). */
  maxFrameBytes?: number
  /** Shared with other streams to the same peer: their bytes count as this one's progress too. */
  progress?: Progress
  /** Where buffered bytes are counted; shared by every stream of the process by default. */
  budget?: ReadBudget
  /** The connection's id, so that the budget can cap what one connection holds. */
  connection?: string
  frameIdleMs?: number
  /** How values become frame bytes and back; canonical DAG-CBOR through the generic codec by default. */
  codec?: FrameCodec
}

/**
 * A protocol's own way to write and read its frames. `encode` gives the frame's bytes in
 * pieces (sent as they are, so a large byte string need not be copied into one buffer);
 * `decode` must refuse what the generic codec would refuse.
 */
export interface FrameCodec {
  encode: (value: unknown) => Uint8Array[]
  decode: (frame: Uint8Array) => unknown
}

/** A frame that announced more bytes than the stream accepts; the stream is aborted. */
export class FrameTooLargeError extends Error {
  constructor (length: number, max: number) {
    super(`frame of ${length} bytes is over the ${max}-byte limit`)
    this.name = 'FrameTooLargeError'
  }
}

/**
 * A long-lived stream of length-prefixed canonical CBOR frames. One stream carries many
 * messages: opening a stream per message costs a protocol negotiation round trip, about seven
 * times slower (see docs/PERFORMANCE.md).
 *
 * Reading is bounded: a frame longer than `maxFrameBytes` aborts the stream as soon as its
 * length is read; the stream is paused (so the muxer stops granting the peer more window)
 * once it holds a frame's worth of unread bytes or its connection, or the whole process, holds
 * more unread bytes than the budget allows; and a frame that stops arriving half-way is
 * abandoned after `frameIdleMs`. A peer therefore cannot make a process buffer more than a
 * bounded amount per stream and per connection, whatever it sends.
 */
export class FrameStream {
  maxFrameBytes: number
  closed = false
  private readonly buffer = new Uint8ArrayList()
  private readonly budget: ReadBudget
  private readonly key: string
  private readonly frameIdleMs: number
  /** Bytes the frame being read needs in all (length prefix included), once its length is known. */
  private needed = 0
  /** Length of the current frame's length prefix. */
  private prefix = 0
  private ended = false
  private failure: Error | undefined
  private wake: (() => void) | undefined
  private writing: Promise<void> = Promise.resolve()
  private queued = 0
  private readonly codec: FrameCodec | undefined
  /** When bytes last arrived on this stream (ms since the epoch; its opening until then). */
  private ownArrival = Date.now()
  private readonly progress: Progress | undefined

  constructor (readonly stream: Stream, options: number | FrameStreamOptions = {}) {
    const o = typeof options === 'number' ? { maxFrameBytes: options } : options
    this.maxFrameBytes = o.maxFrameBytes ?? MAX_FRAME_BYTES
    this.budget = o.budget ?? SHARED_READ_BUDGET
    this.key = o.connection ?? `stream:${stream.id}:${Math.random()}`
    this.frameIdleMs = o.frameIdleMs ?? FRAME_IDLE_MS
    this.codec = o.codec
    this.progress = o.progress
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('remoteCloseWrite', this.onEnd)
    stream.addEventListener('close', this.onClose)
  }

  /** Writes one frame; writes are queued so frames never interleave, and each waits for the muxer to drain. */
  async write (value: unknown): Promise<void> {
    const frame = this.codec === undefined ? encodeFrame(value) : codecFrame(this.codec.encode(value))
    this.queued++
    const next = this.writing.then(async () => {
      if (!this.stream.send(frame)) await this.stream.onDrain()
    }).finally(() => { this.queued-- })
    this.writing = next.catch(() => { /* the caller of this write gets the error */ })
    await next
  }

  /** Frames written but not yet handed to the muxer: a server stops reading requests while this is high. */
  get queuedWrites (): number {
    return this.queued
  }

  /** Resolves once every frame written so far was handed to the muxer (or failed). */
  async drained (): Promise<void> {
    await this.writing
  }

  /** Reads the next frame, or undefined when the other side closed the stream between frames. */
  async read (options?: { signal?: AbortSignal }): Promise<unknown> {
    while (true) {
      if (this.failure !== undefined) throw this.failure
      const frame = this.takeFrame()
      if (frame !== undefined) return this.codec === undefined ? decodeFrame(frame) : this.codec.decode(frame)
      // The end counts once nothing is left in the stream's own buffer (held there while paused).
      if (this.ended && this.stream.readBufferLength === 0) {
        if (this.buffer.byteLength === 0) return undefined
        const err = new Error(`the stream ended in the middle of a frame (${this.buffer.byteLength} bytes of it arrived)`)
        this.fail(err)
        throw err
      }
      await this.more(options?.signal)
    }
  }

  /** When bytes last arrived on this stream, or on a stream sharing its `progress`. */
  get lastArrival (): number {
    return Math.max(this.ownArrival, this.progress?.last ?? 0)
  }

  /**
   * Reads the next frame, failing when nothing arrived (`lastArrival`) for `quietMs`, or after
   * `maxMs` whatever arrived: a peer that keeps other streams busy must still answer this one.
   */
  async readUnlessQuiet (quietMs: number, maxMs = 10 * quietMs): Promise<unknown> {
    const waiting = whileProgressing(() => this.lastArrival, quietMs, maxMs)
    try {
      return await this.read({ signal: waiting.signal })
    } finally {
      waiting.clear()
    }
  }

  async close (): Promise<void> {
    this.closed = true
    this.discard()
    await this.stream.close().catch(() => { this.stream.abort(new Error('close failed')) })
  }

  abort (reason = 'aborted'): void {
    this.closed = true
    this.discard()
    this.stream.abort(new Error(reason))
  }

  /** The next whole frame from the buffer, if one is there; throws for an over-long or malformed prefix. */
  private takeFrame (): Uint8Array | undefined {
    if (this.needed === 0) {
      let header
      try {
        header = decodeLength(this.buffer)
        if (header !== undefined && header.length > this.maxFrameBytes) throw new FrameTooLargeError(header.length, this.maxFrameBytes)
      } catch (err) {
        this.fail(err as Error)
        this.stream.abort(err as Error)
        throw err
      }
      if (header === undefined) return undefined
      this.needed = header.prefix + header.length
      this.prefix = header.prefix
    }
    if (this.buffer.byteLength < this.needed) return undefined
    const frame = this.buffer.subarray(this.prefix, this.needed)
    this.buffer.consume(this.needed)
    this.budget.release(this.key, this.needed)
    this.needed = 0
    return frame
  }

  /** Waits for more bytes, the end of the stream, or a failure; resumes the stream if the budget allows. */
  private async more (signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined
      const done = (err?: Error): void => {
        this.wake = undefined
        clearTimeout(idle)
        signal?.removeEventListener('abort', onAbort)
        this.budget.unwait(resume)
        if (err === undefined) resolve()
        else reject(err)
      }
      const onAbort = (): void => { done(signal?.reason as Error ?? new Error('aborted')) }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.wake = () => { done() }
      // A frame that started arriving must keep arriving.
      if (this.buffer.byteLength > 0) {
        idle = setTimeout(() => {
          const err = new Error(`a frame stalled: no byte for ${this.frameIdleMs} ms`)
          this.fail(err)
          this.stream.abort(err)
          done(err)
        }, this.frameIdleMs)
        idle.unref()
      }
      const resume = (): void => {
        if (this.budget.fits(this.key)) this.resume()
        else this.budget.wait(resume)
      }
      resume()
    })
  }

  private readonly onMessage = (evt: { data: Uint8Array | Uint8ArrayList }): void => {
    const n = evt.data.byteLength
    this.ownArrival = Date.now()
    if (this.progress !== undefined) this.progress.last = this.ownArrival
    this.buffer.append(evt.data)
    this.budget.take(this.key, n)
    if (this.buffer.byteLength >= Math.max(READ_AHEAD_BYTES, this.needed) || !this.budget.fits(this.key)) this.pause()
    this.wake?.()
  }

  private readonly onEnd = (): void => {
    this.ended = true
    this.wake?.()
  }

  private readonly onClose = (evt: { error?: Error }): void => {
    this.closed = true
    this.ended = true
    if (evt.error !== undefined) this.fail(evt.error)
    else if (this.stream.readStatus === 'paused' && this.stream.readBufferLength > 0) {
      // Closed cleanly while paused: take what the stream still holds before letting it go.
      try { this.stream.resume() } catch { /* already closed for reading: nothing left to take */ }
    }
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('remoteCloseWrite', this.onEnd)
    this.stream.removeEventListener('close', this.onClose)
    // What was buffered is kept for a last read only if the stream closed cleanly.
    if (this.failure !== undefined) this.discard()
    this.wake?.()
  }

  private fail (err: Error): void {
    this.failure ??= err
    this.discard()
  }

  private discard (): void {
    if (this.buffer.byteLength > 0) {
      this.budget.release(this.key, this.buffer.byteLength)
      this.buffer.consume(this.buffer.byteLength)
    }
    this.needed = 0
  }

  private pause (): void {
    if (this.stream.readStatus === 'readable') this.stream.pause()
  }

  private resume (): void {
    if (this.stream.readStatus === 'paused') this.stream.resume()
  }
}

// A frame that carries one envelope, `{ e: bytes }`, is written and read without passing the
// envelope through the generic codec, which would copy it twice on each side (encoding, then the
// re-encoding that checks canonical form on read). The bytes are the same canonical CBOR: a map
// of one entry (a1), the key "e" (61 65), a byte string head in shortest form, the envelope.
const ENVELOPE_FRAME = Uint8Array.of(0xa1, 0x61, 0x65)

/** A frame from a codec's pieces: the length prefix, then the pieces as they are. */
function codecFrame (pieces: Uint8Array[]): Uint8ArrayList {
  let n = 0
  for (const p of pieces) n += p.length
  return new Uint8ArrayList(encodeLength(n), ...pieces)
}

/** A value's frame: length prefix and CBOR, the envelope of an envelope frame not copied. */
function encodeFrame (value: unknown): Uint8ArrayList {
  const e = (value as { e?: unknown } | null)?.e
  if (e instanceof Uint8Array && Object.keys(value as object).length === 1) {
    const head = byteStringHead(e.length)
    return new Uint8ArrayList(encodeLength(ENVELOPE_FRAME.length + head.length + e.length), ENVELOPE_FRAME, head, e)
  }
  const bytes = encodeCbor(value)
  return new Uint8ArrayList(encodeLength(bytes.length), bytes)
}

/** A frame's value; an envelope frame in canonical form is taken apart by hand, anything else decoded and checked. */
function decodeFrame (frame: Uint8Array): unknown {
  if (frame[0] === 0xa1 && frame[1] === 0x61 && frame[2] === 0x65) {
    const head = readByteStringHead(frame, 3)
    if (head !== undefined && head.start + head.length === frame.length) return { e: frame.subarray(head.start) }
  }
  return decodeCbor(frame, 'frame')
}

/** Unsigned LEB128 length prefix (the varint libp2p's length-prefixed streams use). */
export function encodeLength (n: number): Uint8Array {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return Uint8Array.from(out)
}

/** Reads a length prefix from the start of `buf`: undefined while incomplete; at most 4 bytes (lengths below 256 MiB). */
function decodeLength (buf: Uint8ArrayList): { length: number, prefix: number } | undefined {
  let length = 0
  for (let i = 0; i < Math.min(buf.byteLength, 4); i++) {
    const byte = buf.get(i)
    length += (byte & 0x7f) * 2 ** (7 * i)
    if ((byte & 0x80) === 0) {
      if (i > 0 && byte === 0) throw new Error('the frame length prefix is not minimal')
      return { length, prefix: i + 1 }
    }
  }
  if (buf.byteLength >= 4) throw new Error('the frame length prefix is too long')
  return undefined
}
