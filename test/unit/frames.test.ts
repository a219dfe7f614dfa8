import { streamPair } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import { ReadBudget } from '../../src/net/budget.js'
import { encodeLength, FrameStream, FrameTooLargeError } from '../../src/net/frames.js'
import { encodeCbor } from '../../src/wire/index.js'

const KiB = 1024
const budget = (): ReadBudget => new ReadBudget({ total: 1024 * KiB, perConnection: 256 * KiB })

/** A frame's bytes as a peer writes them: length prefix, then CBOR. */
function raw (value: unknown): Uint8Array {
  const body = encodeCbor(value)
  return Uint8Array.from([...encodeLength(body.length), ...body])
}

describe('frame streams', () => {
  it('writes an envelope frame as the same canonical CBOR the generic codec writes, and reads it back', async () => {
    for (const size of [0, 23, 24, 255, 256, 65_535, 65_536, 200_000]) {
      const [a, b] = await streamPair()
      const envelope = new Uint8Array(size).fill(size % 251)
      const chunks: Uint8Array[] = []
      b.addEventListener('message', (evt: { data: Uint8Array | { subarray: () => Uint8Array } }) => { chunks.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()) })
      const reader = new FrameStream(b)
      await new FrameStream(a).write({ e: envelope })
      const got = await reader.read() as { e: Uint8Array }
      expect(Object.keys(got)).toEqual(['e'])
      expect(Buffer.from(got.e).equals(envelope)).toBe(true)
      const generic = encodeCbor({ e: envelope })
      expect(Buffer.concat(chunks).equals(Buffer.concat([encodeLength(generic.length), generic]))).toBe(true)
    }
  })

  it('refuses an envelope frame whose length is not in shortest form, as any frame not in canonical form', async () => {
    const [a, b] = await streamPair()
    const reader = new FrameStream(b)
    const body = Uint8Array.of(0xa1, 0x61, 0x65, 0x58, 0x03, 1, 2, 3) // 3 bytes announced in a two-byte head
    a.send(Uint8Array.from([...encodeLength(body.length), ...body]))
    await expect(reader.read()).rejects.toThrow(/frame is not valid/)
  })

  it('carries values both ways, in order, and reads undefined once the other side closed', async () => {
    const [a, b] = await streamPair()
    const left = new FrameStream(a)
    const right = new FrameStream(b)
    for (let i = 0; i < 20; i++) await left.write({ i, pad: new Uint8Array(i * 1000) })
    await left.close()
    const got: number[] = []
    for (let f = await right.read(); f !== undefined; f = await right.read()) got.push((f as { i: number }).i)
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })

  it('aborts at the length prefix a frame over the limit, before its bytes arrive', async () => {
    const [a, b] = await streamPair()
    const held = budget()
    const reader = new FrameStream(b, { maxFrameBytes: 64 * KiB, budget: held })
    a.send(encodeLength(4 * 1024 * KiB)) // announces 4 MiB, sends none of it
    await expect(reader.read()).rejects.toBeInstanceOf(FrameTooLargeError)
    expect(b.status).toBe('aborted')
    expect(held.held).toBe(0)
  })

  it('takes larger frames once its limit is raised (a storage node after hello)', async () => {
    const [a, b] = await streamPair()
    const writer = new FrameStream(a)
    const reader = new FrameStream(b, { maxFrameBytes: 1 * KiB })
    await writer.write({ hello: true })
    expect(await reader.read()).toEqual({ hello: true })
    reader.maxFrameBytes = 256 * KiB
    await writer.write({ shard: new Uint8Array(200 * KiB) })
    expect(((await reader.read()) as { shard: Uint8Array }).shard.length).toBe(200 * KiB)
  })

  it('gives every held byte back to the budget when the stream ends in the middle of a frame', async () => {
    const [a, b] = await streamPair()
    const held = budget()
    const reader = new FrameStream(b, { budget: held })
    const frame = raw({ data: new Uint8Array(100 * KiB) })
    a.send(frame.subarray(0, 60 * KiB)) // most of a frame, then the sender closes cleanly
    await expect.poll(() => held.held).toBeGreaterThan(0)
    await a.close()
    await expect(reader.read()).rejects.toThrow(/ended in the middle of a frame/)
    expect(held.held).toBe(0)
  })

  it('abandons a frame that stops arriving half-way, and gives its bytes back', async () => {
    const [a, b] = await streamPair()
    const held = budget()
    const reader = new FrameStream(b, { budget: held, frameIdleMs: 200 })
    a.send(raw({ data: new Uint8Array(50 * KiB) }).subarray(0, 10 * KiB))
    await expect(reader.read()).rejects.toThrow(/stalled/)
    expect(held.held).toBe(0)
  })

  it('pauses a stream whose connection holds its whole share, and resumes it when the reader catches up', async () => {
    const [a, b] = await streamPair()
    const held = new ReadBudget({ total: 1024 * KiB, perConnection: 100 * KiB })
    const reader = new FrameStream(b, { budget: held, connection: 'c1' })
    const writer = new FrameStream(a)
    const frames = Array.from({ length: 10 }, (_, i) => ({ i, data: new Uint8Array(40 * KiB) }))
    const sent = (async () => { for (const f of frames) await writer.write(f) })()
    // Nobody reads yet: the stream stops taking data once the connection holds its share.
    await expect.poll(() => b.readStatus).toBe('paused')
    expect(held.held).toBeLessThan(200 * KiB)
    const got: number[] = []
    for (let n = 0; n < frames.length; n++) got.push(((await reader.read()) as { i: number }).i)
    await sent
    expect(got).toEqual(frames.map(f => f.i))
    expect(held.held).toBe(0)
  })

  it('waits for a frame as long as bytes keep arriving on the streams sharing its progress, and gives up once they are quiet, or after its ceiling', async () => {
    const progress = { last: 0 }
    const [a, b] = await streamPair()
    const [c, d] = await streamPair()
    const reader = new FrameStream(b, { progress })
    const other = new FrameStream(d, { progress })
    const pending = reader.readUnlessQuiet(60, 10_000)
    // Another lane's answer arrives for 200 ms (three times the limit), then this stream's frame.
    const otherDone = other.read()
    const writer = new FrameStream(c)
    const feed = setInterval(() => { void writer.write({ chunk: new Uint8Array(100) }) }, 20)
    await new Promise(resolve => setTimeout(resolve, 200))
    clearInterval(feed)
    await otherDone
    await new FrameStream(a).write({ ok: true })
    await expect(pending).resolves.toEqual({ ok: true })
    await expect(reader.readUnlessQuiet(60)).rejects.toThrow(/nothing arrived for/)
    // Bytes on other streams keep coming, but this one never answers: the ceiling ends the wait.
    const feed2 = setInterval(() => { progress.last = Date.now() }, 10)
    await expect(reader.readUnlessQuiet(60, 150)).rejects.toThrow(/no answer in 0 s/)
    clearInterval(feed2)
  })
})
