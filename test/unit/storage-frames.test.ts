import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeStorageFrame, encodeStorageFrame } from '../../src/storage/frame-codec.js'
import { decodeCbor, encodeCbor } from '../../src/wire/index.js'
import { DecodeError } from '../../src/errors.js'

const joined = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))

/** Values of the kinds storage frames carry: maps with text keys, arrays, bytes, text, safe integers, booleans, null. */
const frameValue = fc.letrec(tie => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.uint8Array({ maxLength: 300 }),
    fc.string({ maxLength: 30 }),
    fc.maxSafeInteger(),
    fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }).filter(k => k !== '__proto__'), tie('value'), { maxKeys: 5 })
  )
})).value

describe('storage frames', () => {
  it('writes exactly the bytes encodeCbor writes, and passes a shard through without copying it', () => {
    const data = new Uint8Array(randomBytes(300 * 1024))
    const addr = new Uint8Array(randomBytes(32))
    for (const frame of [{ op: 'put', addr, data }, { data }, { op: 'get', addr }, { ok: true, used: 5, quota: null }]) {
      const parts = encodeStorageFrame(frame)
      expect(Buffer.from(joined(parts)).equals(encodeCbor(frame))).toBe(true)
    }
    const parts = encodeStorageFrame({ op: 'put', addr, data })
    expect(parts.at(-1)).toBe(data)
  })

  it('reads what encodeCbor wrote, giving byte strings as views of the frame', () => {
    const data = new Uint8Array(randomBytes(70_000))
    const bytes = encodeCbor({ op: 'put', addr: new Uint8Array(32).fill(9), data })
    const decoded = decodeStorageFrame(bytes) as { op: string, addr: Uint8Array, data: Uint8Array }
    expect(decoded.op).toBe('put')
    expect(Buffer.from(decoded.data).equals(data)).toBe(true)
    expect(decoded.data.buffer).toBe(bytes.buffer)
  })

  it('agrees with the canonical decoder on every value storage frames use', () => {
    fc.assert(fc.property(frameValue, value => {
      const bytes = encodeCbor(value)
      expect(decodeStorageFrame(bytes)).toEqual(decodeCbor(bytes, 'x'))
      expect(Buffer.from(joined(encodeStorageFrame(value))).equals(bytes)).toBe(true)
    }), { numRuns: 300 })
  })

  it('accepts random or mutated bytes only where the canonical decoder accepts them, with the same value', () => {
    const sample = encodeCbor({ op: 'audit', addr: new Uint8Array(32).fill(1), leaf: 3, proof: [new Uint8Array(32), new Uint8Array(32)] })
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.record({ at: fc.nat({ max: sample.length - 1 }), bit: fc.nat({ max: 7 }) }).map(m => { const b = sample.slice(); b[m.at] = b[m.at]! ^ (1 << m.bit); return b })
    )
    fc.assert(fc.property(inputs, bytes => {
      let mine: unknown
      try {
        mine = decodeStorageFrame(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError)
        return
      }
      expect(decodeCbor(bytes, 'x')).toEqual(mine)
    }), { numRuns: 1000 })
  })

  it('refuses text that starts with a byte-order mark, as the canonical decoder does, so no key can hide behind one', () => {
    // { op: 'put', '\uFEFFop': 'put' }, and { op: '\uFEFFget' }: with the mark dropped, the first
    // would be a map with a duplicate key and the second an ordinary get.
    for (const hex of ['a2626f7063707574' + '65efbbbf6f7063707574', 'a1626f7066efbbbf676574']) {
      const bytes = Buffer.from(hex, 'hex')
      expect(() => decodeStorageFrame(bytes), hex).toThrow(DecodeError)
      expect(() => decodeCbor(bytes, 'x'), hex).toThrow(DecodeError)
    }
  })

  it('refuses lengths that are not the shortest, keys out of order, floats and tags', () => {
    for (const hex of ['1817', 'a2616201616100', 'a2616101616101', 'f93c00', 'd82a4100', '5f40ff', '9f01ff']) {
      expect(() => decodeStorageFrame(Buffer.from(hex, 'hex')), hex).toThrow(DecodeError)
    }
  })
})
