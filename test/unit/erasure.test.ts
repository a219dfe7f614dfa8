import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  decodeShards, decodeShardsPortable, encodeShards, encodeShardsPortable, erasureCode, ErasureError,
  MAX_DATA_SHARDS, MAX_PARITY_SHARDS, shardSize, type ErasureFailure
} from '../../src/vault/index.js'
import { packetSize } from '../../src/vault/erasure-layout.js'
import { fromHex, toHex } from '../../src/wire/index.js'

const MiB = 1024 * 1024

function random (length: number): Uint8Array {
  return new Uint8Array(randomBytes(length))
}

/** Deterministic input for vectors: byte i is byte (i mod 32) of SHA-256("twin-erasure-" || decimal(floor(i / 32))). */
function pattern (length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let block = 0; block * 32 < length; block++) {
    const digest = createHash('sha256').update(`twin-erasure-${block}`).digest()
    out.set(digest.subarray(0, Math.min(32, length - block * 32)), block * 32)
  }
  return out
}

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** Every subset of {0 .. n-1} with at most `max` members. */
function subsets (n: number, max: number): number[][] {
  const out: number[][] = []
  for (let mask = 0; mask < 1 << n; mask++) {
    const set = Array.from({ length: n }, (_, i) => i).filter(i => (mask & (1 << i)) !== 0)
    if (set.length <= max) out.push(set)
  }
  return out
}

function without (shards: readonly Uint8Array[], missing: readonly number[]): Array<Uint8Array | undefined> {
  return shards.map((s, i) => missing.includes(i) ? undefined : s)
}

/** Byte equality that stays fast on megabytes (toEqual walks typed arrays element by element). */
function expectBytes (actual: Uint8Array, expected: Uint8Array, label = ''): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.length)
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.length)
  if (a.equals(b)) return
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  expect.fail(`${label} bytes differ: lengths ${a.length} and ${b.length}, first difference at ${i}`)
}

function expectShards (actual: readonly Uint8Array[], expected: readonly Uint8Array[], label = ''): void {
  expect(actual.length, label).toBe(expected.length)
  for (const [i, shard] of actual.entries()) expectBytes(shard, expected[i] as Uint8Array, `${label} shard ${i}`)
}

async function expectErasureError (fn: () => unknown, reason: ErasureFailure): Promise<void> {
  let caught: unknown
  try {
    await fn()
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(ErasureError)
  expect((caught as ErasureError).reason).toBe(reason)
}

describe('erasure shard layout', () => {
  it('pads data to a multiple of k * 8 bytes and never stores the length', async () => {
    expect(shardSize(0, 4)).toBe(0)
    expect(shardSize(1, 4)).toBe(8)
    expect(shardSize(32, 4)).toBe(8)
    expect(shardSize(33, 4)).toBe(16)
    const shards = await encodeShards(new Uint8Array([1, 2, 3]), 4, 2)
    expect(shards.map(s => s.length)).toEqual([8, 8, 8, 8, 8, 8])
    expect(Array.from(shards[0] as Uint8Array)).toEqual([1, 2, 3, 0, 0, 0, 0, 0])
  })

  it('halves packets until a row of sources fits in 1 MiB, as the native module does', () => {
    expect(packetSize(32, 4, 4)).toBe(8)
    expect(packetSize(MiB / 4, 4, 4)).toBe(32768)
    expect(packetSize(shardSize(MiB + 3, 4), 4, 4)).toBe(32769) // odd: halving stops
    expect(packetSize(4 * MiB, 4, 4)).toBe(32768)
  })

  it('gives data shards that are views of the input when no padding is needed', async () => {
    const data = random(4 * 64)
    const shards = await encodeShards(data, 4, 2)
    expect((shards[1] as Uint8Array).buffer).toBe(data.buffer)
    expectBytes(shards[1] as Uint8Array, data.subarray(64, 128))
  })

  it('builds every (k, m) matrix with the number of ones the format table records', () => {
    for (let k = 1; k <= MAX_DATA_SHARDS; k++) {
      for (let m = 1; m <= MAX_PARITY_SHARDS; m++) {
        const c = erasureCode(k, m)
        expect(Array.from(c.matrix.subarray(0, k))).toEqual(new Array(k).fill(1))
      }
    }
    expect(Array.from(erasureCode(4, 2).matrix)).toEqual([1, 1, 1, 1, 1, 2, 9, 4])
  })
})

describe('erasure round trips', () => {
  const codes: Array<[number, number]> = [[4, 2], [2, 1], [1, 0], [1, 1], [6, 3], [3, 0], [10, 4], [16, 2], [12, 5], [24, 6]]
  for (const [k, m] of codes) {
    it(`rebuilds data from the first k, the last k and all shards for ${k}+${m}`, async () => {
      for (const length of [0, 1, 7, 1000, 64 * 1024 + 5]) {
        const data = random(length)
        const shards = await encodeShards(data, k, m)
        expect(shards).toHaveLength(k + m)
        expect(new Set(shards.map(s => s.length))).toEqual(new Set([shardSize(length, k)]))
        const last = shards.map((s, i) => i >= m ? s : undefined)
        const first = shards.map((s, i) => i < k ? s : undefined)
        for (const set of [shards, first, last]) {
          expectBytes(await decodeShards(set, k, m, length), data, 'native')
          expectBytes(decodeShardsPortable(set, k, m, length), data, 'portable')
        }
      }
    })
  }
})

describe('erasure 4+2 with every set of missing shards', () => {
  const missingSets = subsets(6, 2)

  it('decodes byte-identically natively and portably for each of the 22 sets', async () => {
    expect(missingSets).toHaveLength(22)
    const length = MiB + 3
    const data = random(length)
    const shards = await encodeShards(data, 4, 2)
    for (const missing of missingSets) {
      const partial = without(shards, missing)
      expectBytes(await decodeShards(partial, 4, 2, length), data, `native without ${missing.join(',')}`)
      expectBytes(decodeShardsPortable(partial, 4, 2, length), data, `portable without ${missing.join(',')}`)
    }
  })

  it('decodes shards that are unaligned views into a larger buffer', async () => {
    const data = random(5000)
    const shards = await encodeShards(data, 4, 2)
    const moved = shards.map(s => {
      const host = new Uint8Array(s.length + 3)
      host.set(s, 3)
      return host.subarray(3)
    })
    expectBytes(await decodeShards(without(moved, [0, 2]), 4, 2, 5000), data)
    expectBytes(decodeShardsPortable(without(moved, [0, 2]), 4, 2, 5000), data)
  })
})

describe('portable encoder against the native encoder', () => {
  for (const length of [0, 1, MiB + 3]) {
    it(`writes the same parity byte for byte for ${length} bytes of random data (4+2)`, async () => {
      const data = random(length)
      const native = await encodeShards(data, 4, 2)
      expectShards(encodeShardsPortable(data, 4, 2), native)
    })
  }

  it('writes the same shards as the native encoder for every (k, m) the format allows', async () => {
    for (let k = 1; k <= MAX_DATA_SHARDS; k++) {
      for (let m = 0; m <= MAX_PARITY_SHARDS; m++) {
        const data = random(k * 8 * 5 + 3)
        expectShards(encodeShardsPortable(data, k, m), await encodeShards(data, k, m), `${k}+${m}`)
      }
    }
  })

  it('matches the native encoder when packets are halved for 6+3 and 16+4', async () => {
    for (const [k, m] of [[6, 3], [16, 4]] as const) {
      const data = random(2 * MiB + 11)
      expectShards(encodeShardsPortable(data, k, m), await encodeShards(data, k, m), `${k}+${m}`)
    }
  })

  it('agrees with the native code on random data, codes and missing shards (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: MAX_DATA_SHARDS }), fc.integer({ min: 0, max: MAX_PARITY_SHARDS }),
      fc.uint8Array({ maxLength: 4000 }), fc.array(fc.nat(), { maxLength: MAX_PARITY_SHARDS }),
      async (k, m, data, picks) => {
        const shards = await encodeShards(data, k, m)
        expectShards(encodeShardsPortable(data, k, m), shards)
        const missing = [...new Set(picks.slice(0, m).map(p => p % (k + m)))]
        const partial = without(shards, missing)
        expectBytes(await decodeShards(partial, k, m, data.length), data, 'native')
        expectBytes(decodeShardsPortable(partial, k, m, data.length), data, 'portable')
      }
    ), { numRuns: 200 })
  })
})

describe('erasure input errors', () => {
  const decoders = [
    ['native', decodeShards],
    ['portable', decodeShardsPortable]
  ] as const

  for (const [name, decode] of decoders) {
    it(`throws an ErasureError when fewer than k shards are present (${name})`, async () => {
      const shards = await encodeShards(random(100), 4, 2)
      await expectErasureError(() => decode(without(shards, [0, 1, 5]), 4, 2, 100), 'too-few-shards')
      await expectErasureError(() => decode(new Array(6).fill(undefined), 4, 2, 100), 'too-few-shards')
      const only = await encodeShards(random(10), 2, 0)
      await expectErasureError(() => decode([only[0], undefined], 2, 0, 10), 'too-few-shards')
    })

    it(`throws an ErasureError for shards of the wrong size or count, or a wrong length (${name})`, async () => {
      const shards = await encodeShards(random(100), 4, 2)
      const short = [...shards]
      short[2] = (shards[2] as Uint8Array).subarray(1)
      await expectErasureError(() => decode(short, 4, 2, 100), 'shard-size')
      await expectErasureError(() => decode(shards, 4, 2, 200), 'shard-size')
      await expectErasureError(() => decode(shards.slice(0, 5), 4, 2, 100), 'bad-input')
      await expectErasureError(() => decode(shards, 4, 2, -1), 'bad-input')
      await expectErasureError(() => decode(shards, 4, 2, 1.5), 'bad-input')
      const odd = [...shards] as unknown[]
      odd[1] = Array.from(shards[1] as Uint8Array)
      await expectErasureError(() => decode(odd as Uint8Array[], 4, 2, 100), 'bad-input')
    })
  }

  it('throws an ErasureError for k or m outside the supported range', async () => {
    const data = random(10)
    for (const [k, m] of [[0, 1], [25, 1], [4, 7], [4, -1], [1.5, 1], [Number.NaN, 2]]) {
      await expectErasureError(() => encodeShards(data, k as number, m as number), 'bad-parameters')
      await expectErasureError(() => encodeShardsPortable(data, k as number, m as number), 'bad-parameters')
      await expectErasureError(() => decodeShards([], k as number, m as number, 10), 'bad-parameters')
    }
  })

  it('throws an ErasureError for data that is not a Uint8Array or too large', async () => {
    await expectErasureError(() => encodeShards('text' as unknown as Uint8Array, 4, 2), 'bad-input')
    await expectErasureError(() => decodeShardsPortable(new Array(7).fill(undefined), 1, 6, 2 ** 28), 'too-large')
  })
})

// Known-answer vectors written by the native encoder, so another implementation can check
// itself. Regenerate only on a deliberate format change:
// UPDATE_VECTORS=1 npx vitest run test/unit/erasure.test.ts
interface ShardVector {
  name: string
  k: number
  m: number
  length: number
  input?: string
  inputSha256: string
  shardSize: number
  packetSize: number
  shards?: string[]
  shardsSha256: string[]
}

async function buildVector (name: string, k: number, m: number, length: number, withHex: boolean): Promise<ShardVector> {
  const input = pattern(length)
  const shards = await encodeShards(input, k, m)
  const size = shardSize(length, k)
  const w = m === 0 ? 8 : erasureCode(k, m).params.w
  return {
    name, k, m, length,
    ...(withHex ? { input: toHex(input) } : {}),
    inputSha256: sha256Hex(input),
    shardSize: size,
    packetSize: packetSize(size, k, w),
    ...(withHex ? { shards: shards.map(toHex) } : {}),
    shardsSha256: shards.map(sha256Hex)
  }
}

const VECTOR_FILES = {
  'erasure-4-2.json': async () => ({
    description: 'Reed-Solomon 4+2 shards written by @ronomon/reed-solomon 6.0.0; see docs/PROTOCOL.md section 15. ' +
      'Input byte i is byte (i mod 32) of SHA-256("twin-erasure-" || decimal(floor(i / 32))).',
    code: { k: 4, m: 2, w: 4, polynomial: 'x^4 + x + 1', matrix: [[1, 1, 1, 1], [1, 2, 9, 4]] },
    vectors: [
      await buildVector('100 bytes', 4, 2, 100, true),
      await buildVector('1 MiB + 3 bytes (packets halved)', 4, 2, MiB + 3, false)
    ]
  }),
  'erasure-codes.json': async () => ({
    description: 'One small vector per kind of erasure matrix, written by @ronomon/reed-solomon 6.0.0; see docs/PROTOCOL.md section 15. ' +
      'Input as in erasure-4-2.json.',
    vectors: [
      await buildVector('2+1, GF(4), XOR parity', 2, 1, 100, true),
      await buildVector('3+2, GF(16), fewest-ones row', 3, 2, 100, true),
      await buildVector('6+3, GF(16), Cauchy', 6, 3, 100, true),
      await buildVector('16+2, GF(256), fewest-ones row', 16, 2, 300, true),
      await buildVector('12+5, GF(256), Cauchy', 12, 5, 300, true)
    ]
  })
}

for (const [file, build] of Object.entries(VECTOR_FILES)) {
  const path = new URL(`../vectors/${file}`, import.meta.url)
  if (process.env.UPDATE_VECTORS === '1') writeFileSync(path, JSON.stringify(await build(), null, 2) + '\n')
}

describe('erasure known-answer vectors', () => {
  for (const file of Object.keys(VECTOR_FILES)) {
    const committed = JSON.parse(readFileSync(new URL(`../vectors/${file}`, import.meta.url), 'utf8')) as { vectors: ShardVector[] }

    for (const v of committed.vectors) {
      it(`${file} "${v.name}": both encoders write the committed shards, both decoders read them`, async () => {
        const input = pattern(v.length)
        expect(sha256Hex(input)).toBe(v.inputSha256)
        if (v.input !== undefined) expect(toHex(input)).toBe(v.input)
        expect(shardSize(v.length, v.k)).toBe(v.shardSize)
        for (const shards of [await encodeShards(input, v.k, v.m), encodeShardsPortable(input, v.k, v.m)]) {
          expect(shards.map(sha256Hex)).toEqual(v.shardsSha256)
          if (v.shards !== undefined) expect(shards.map(toHex)).toEqual(v.shards)
        }
        const stored = v.shards !== undefined
          ? v.shards.map(h => fromHex(h))
          : await encodeShards(input, v.k, v.m)
        const partial = without(stored, Array.from({ length: v.m }, (_, i) => i)) // lose the first m shards
        expectBytes(await decodeShards(partial, v.k, v.m, v.length), input, 'native')
        expectBytes(decodeShardsPortable(partial, v.k, v.m, v.length), input, 'portable')
      })
    }
  }
})
