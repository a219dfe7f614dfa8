import { describe, expect, it } from 'vitest'
import { DownBackoff } from '../../src/storage/backoff.js'
import { Lanes, type Lane } from '../../src/storage/lanes.js'

/** A lane whose requests wait until the test answers them. */
function fakeLanes (): { open: () => Lane, opened: Array<{ pending: Array<() => void>, closed: boolean }> } {
  const opened: Array<{ pending: Array<() => void>, closed: boolean }> = []
  return {
    opened,
    open: () => {
      const state = { pending: [] as Array<() => void>, closed: false }
      opened.push(state)
      return {
        request: async frame => await new Promise(resolve => { state.pending.push(() => { resolve(frame) }) }),
        close: () => { state.closed = true }
      }
    }
  }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('storage node lanes (several streams to one node)', () => {
  it('uses one stream until it has answered once, then opens more only while all are busy, up to the limit', async () => {
    const f = fakeLanes()
    const lanes = new Lanes(f.open, 3)
    const first = lanes.request('a')
    const second = lanes.request('b')
    await tick()
    // Nothing answered yet: an invite's secret must not go out on two hellos at once.
    expect(f.opened.length).toBe(1)
    f.opened[0]!.pending.shift()!()
    expect(await first).toBe('a')
    const more = ['c', 'd', 'e', 'f'].map(x => lanes.request(x))
    await tick()
    expect(f.opened.length).toBe(3)
    expect(lanes.size).toBe(3)
    for (const lane of f.opened) while (lane.pending.length > 0) lane.pending.shift()!()
    expect(await second).toBe('b')
    expect(await Promise.all(more)).toEqual(['c', 'd', 'e', 'f'])
  })

  it('sends each request to the least busy stream', async () => {
    const f = fakeLanes()
    const lanes = new Lanes(f.open, 2)
    const warm = lanes.request('warm')
    await tick()
    f.opened[0]!.pending.shift()!()
    await warm
    const a = lanes.request(1)
    const b = lanes.request(2)
    await tick()
    expect(f.opened.map(l => l.pending.length)).toEqual([1, 1])
    f.opened[1]!.pending.shift()!()
    await b
    const c = lanes.request(3)
    await tick()
    expect(f.opened.map(l => l.pending.length)).toEqual([1, 1])
    for (const lane of f.opened) while (lane.pending.length > 0) lane.pending.shift()!()
    expect(await Promise.all([a, c])).toEqual([1, 3])
  })

  it('closes every stream it opened', async () => {
    const f = fakeLanes()
    const lanes = new Lanes(f.open, 2)
    const warm = lanes.request(0)
    await tick()
    f.opened[0]!.pending.shift()!()
    await warm
    void lanes.request(1)
    void lanes.request(2)
    await tick()
    lanes.close()
    expect(f.opened.every(l => l.closed)).toBe(true)
    expect(lanes.size).toBe(0)
  })
})

describe('down-node backoff', () => {
  it('leaves a node alone for a while after a failure, longer after each, and forgets at the first success', () => {
    let now = 1_000_000
    const b = new DownBackoff({ initialMs: 1000, maxMs: 5000, now: () => now })
    expect(b.down).toBe(false)
    b.failed()
    expect(b.down).toBe(true)
    now += 999
    expect(b.down).toBe(true)
    now += 1
    expect(b.down).toBe(false)
    b.failed()
    now += 1999
    expect(b.down).toBe(true)
    now += 1
    expect(b.down).toBe(false)
    // Many requests under way fail together when a node goes: that is one failure, not many.
    for (let i = 0; i < 10; i++) b.failed()
    now += 3999
    expect(b.down).toBe(true)
    now += 1
    expect(b.down).toBe(false) // the third failure: 4 s
    for (let i = 0; i < 10; i++) { b.failed(); now += 5000 }
    b.failed()
    now += 4999
    expect(b.down).toBe(true)
    now += 1
    expect(b.down).toBe(false) // capped at maxMs
    b.failed()
    b.succeeded()
    expect(b.down).toBe(false)
    b.failed()
    now += 1000
    expect(b.down).toBe(false) // back to the first wait
  })
})
