import { FrameStream, whileProgressing } from './frames.js'

/**
 * Requests and replies in order on one long-lived stream, opened on first use (with whatever
 * handshake `open` does) and opened again after it breaks. A stream that turns out dead when
 * reused (the peer restarted) is replaced once before the request fails.
 */
export class RequestStream {
  private frames: FrameStream | undefined
  private opening: Promise<FrameStream> | undefined
  private waiting: Array<{ resolve: (v: unknown) => void, reject: (e: unknown) => void }> = []

  constructor (
    private readonly open: () => Promise<FrameStream>,
    /** Turns a transport failure into the caller's error type. */
    private readonly failure: (message: string) => Error,
    private readonly timeoutMs: number
  ) {}

  async request (frame: unknown): Promise<unknown> {
    const fresh = this.frames === undefined || this.frames.closed
    try {
      return await this.once(frame)
    } catch (err) {
      if (fresh || (err as { retryable?: boolean }).retryable !== true) throw err
      this.reset()
      return await this.once(frame)
    }
  }

  close (): void {
    this.fail(this.failure('closing'))
  }

  private reset (): void {
    this.frames?.abort('dead stream')
    this.frames = undefined
  }

  private async stream (): Promise<FrameStream> {
    if (this.frames !== undefined && !this.frames.closed) return this.frames
    this.opening ??= this.open().then(frames => {
      this.frames = frames
      void this.readReplies(frames)
      return frames
    }).finally(() => { this.opening = undefined })
    return await this.opening
  }

  private async once (frame: unknown): Promise<unknown> {
    const frames = await this.stream()
    const reply = new Promise<unknown>((resolve, reject) => { this.waiting.push({ resolve, reject }) })
    // A peer that stops reading leaves the write waiting on the muxer's window for ever, and a
    // peer that stops answering leaves the answer waiting. On a slow link both may legitimately
    // take minutes, behind the other lanes' traffic: each fails when nothing moved for
    // `timeoutMs` (no bytes arrived on the streams sharing this one's progress, and none of
    // this stream's queued bytes left), and after ten times that in any case.
    const sent = { bytes: frames.stream?.writeBufferLength ?? 0, at: Date.now() }
    const moved = (): number => {
      const queued = frames.stream?.writeBufferLength ?? 0
      if (queued < sent.bytes) sent.at = Date.now()
      sent.bytes = queued
      return Math.max(frames.lastArrival, sent.at)
    }
    const write = whileProgressing(moved, this.timeoutMs, 10 * this.timeoutMs)
    try {
      await Promise.race([frames.write(frame), new Promise<never>((_resolve, reject) => {
        write.signal.addEventListener('abort', () => { reject(new Error('the peer stopped taking data')) }, { once: true })
      })])
    } catch (err) {
      const failed = retryable(this.failure((err as Error).message))
      // fail() rejects every waiting reply, this one too; nobody will await it, since the
      // write's failure is what this request reports.
      reply.catch(() => {})
      this.fail(failed)
      throw failed
    } finally {
      write.clear()
    }
    const answer = whileProgressing(moved, this.timeoutMs, 10 * this.timeoutMs)
    try {
      return await Promise.race([reply, new Promise<never>((_resolve, reject) => {
        answer.signal.addEventListener('abort', () => {
          this.fail(this.failure('no answer in time'))
          reject(this.failure('no answer in time'))
        }, { once: true })
      })])
    } finally {
      answer.clear()
    }
  }

  private async readReplies (frames: FrameStream): Promise<void> {
    try {
      while (true) {
        const f = await frames.read()
        if (f === undefined) break
        this.waiting.shift()?.resolve(f)
      }
    } catch { /* fail the waiters below */ }
    if (this.frames === frames) this.frames = undefined
    this.fail(retryable(this.failure('the connection closed')))
  }

  private fail (err: Error): void {
    const w = this.waiting
    this.waiting = []
    for (const x of w) x.reject(err)
    this.frames?.abort('failed')
    this.frames = undefined
  }
}

function retryable (err: Error): Error {
  (err as Error & { retryable: boolean }).retryable = true
  return err
}
