import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RelayError } from '../../src/relay/errors.js'
import type { FrameStream } from '../../src/net/frames.js'
import { RequestStream } from '../../src/net/request-stream.js'

/** A stream whose writes fail (the peer went away) and whose reads never answer. */
function brokenFrames (): FrameStream {
  return {
    closed: false,
    write: async () => { throw new Error('the stream was reset') },
    read: async () => await new Promise(() => {}),
    abort: () => {}
  } as unknown as FrameStream
}

describe('request stream', () => {
  // Collected here too, so the failure is this test's, not only a report at the end of the run.
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  beforeEach(() => { unhandled.length = 0; process.on('unhandledRejection', onUnhandled) })
  afterEach(() => { process.off('unhandledRejection', onUnhandled) })

  it('fails a request whose write fails, and leaves no rejected promise unhandled', async () => {
    const requests = new RequestStream(async () => brokenFrames(), message => new RelayError('RELAY_UNREACHABLE', message), 5_000)
    await expect(requests.request({ op: 'get' })).rejects.toThrow(/the stream was reset/)
    // Unhandled rejections are reported after the microtask queue drains: give it a few turns.
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(unhandled).toEqual([])
    requests.close()
  })

  it('fails a request whose peer stops taking data, instead of waiting for ever', async () => {
    const stuck = { closed: false, write: async () => await new Promise(() => {}), read: async () => await new Promise(() => {}), abort: () => {} } as unknown as FrameStream
    const requests = new RequestStream(async () => stuck, message => new RelayError('RELAY_UNREACHABLE', message), 50)
    await expect(requests.request({ op: 'put' })).rejects.toThrow(/stopped taking data/)
    requests.close()
  })

  /** A stream that answers when told, and whose `lastArrival` the test moves as bytes would. */
  function slowFrames (): { frames: FrameStream, answer: (v: unknown) => void } {
    const answers: Array<(v: unknown) => void> = []
    const frames = {
      closed: false,
      lastArrival: Date.now(),
      write: async () => {},
      read: async () => await new Promise(resolve => { answers.push(resolve) }),
      abort: () => {}
    }
    return { frames: frames as unknown as FrameStream, answer: v => { answers.shift()?.(v) } }
  }

  it('waits for an answer past its time while bytes keep arriving on the stream (a long answer ahead of it on a slow link)', async () => {
    const { frames, answer } = slowFrames()
    const requests = new RequestStream(async () => frames, message => new RelayError('RELAY_UNREACHABLE', message), 60)
    const pending = requests.request({ op: 'get' })
    // Bytes arrive every 20 ms for 200 ms, more than three times the timeout, then the answer.
    const feed = setInterval(() => { (frames as { lastArrival: number }).lastArrival = Date.now() }, 20)
    await new Promise(resolve => setTimeout(resolve, 200))
    clearInterval(feed)
    answer({ ok: true })
    await expect(pending).resolves.toEqual({ ok: true })
    requests.close()
  })

  it('fails a request when nothing arrives on its stream for the whole timeout', async () => {
    const { frames } = slowFrames()
    const requests = new RequestStream(async () => frames, message => new RelayError('RELAY_UNREACHABLE', message), 60)
    await expect(requests.request({ op: 'get' })).rejects.toThrow(/no answer in time/)
    requests.close()
  })
})
