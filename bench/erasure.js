// Erasure coding throughput for 4+2 on 64 MiB of data in 1 MiB chunks, one chunk at a time (so
// one core works: the native module runs each call on one thread-pool thread), against a memory
// copy of the same data as the baseline (into new memory, as Buffer.from does, and into memory
// already touched, which is the machine's copy speed without page faults). Goal: native encode at least 2 GiB/s per core.
import { randomBytes } from 'node:crypto'
import { decodeShards, decodeShardsPortable, encodeShards, encodeShardsPortable } from '../dist/vault/index.js'
import { median, printTable, writeResults } from './lib.js'

const K = 4
const M = 2
const MiB = 1024 * 1024
const TOTAL = 64 * MiB
const CHUNK = MiB
// An encrypted chunk is a little longer than its plaintext (nonce, tag), so it needs padding.
const SEALED = CHUNK + 28
const RUNS = 7
const PORTABLE_MiB = 16 // the portable code is slower; a quarter of the data keeps the run short
const GOAL_MiBs = 2048

async function throughput (bytes, fn) {
  await fn() // warm up
  const rates = []
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    await fn()
    rates.push(bytes / MiB / ((performance.now() - t) / 1000))
  }
  return { medianMiBs: median(rates), minMiBs: Math.min(...rates), maxMiBs: Math.max(...rates) }
}

const lose = (shards, missing) => shards.map((s, i) => missing.includes(i) ? undefined : s)

export async function run () {
  const chunks = Array.from({ length: TOTAL / CHUNK }, () => new Uint8Array(randomBytes(CHUNK)))
  const sealed = chunks.map(c => { const s = new Uint8Array(SEALED); s.set(c); return s })
  const encoded = []
  for (const c of chunks) encoded.push(await encodeShards(c, K, M))
  const scratch = new Uint8Array(CHUNK)
  const large = Array.from({ length: TOTAL / (4 * MiB) }, () => new Uint8Array(randomBytes(4 * MiB)))
  const few = encoded.slice(0, PORTABLE_MiB * MiB / CHUNK)

  const series = {
    'memcpy, Buffer.from (baseline)': await throughput(TOTAL, async () => { for (const c of chunks) Buffer.from(c) }),
    'memcpy into warm memory (set)': await throughput(TOTAL, async () => { for (const c of chunks) scratch.set(c) }),
    'native encode 4+2': await throughput(TOTAL, async () => { for (const c of chunks) await encodeShards(c, K, M) }),
    'native encode 4+2, 4 MiB chunks': await throughput(TOTAL, async () => { for (const c of large) await encodeShards(c, K, M) }),
    'native encode 4+2, padded (1 MiB + 28 B)': await throughput(TOTAL, async () => { for (const c of sealed) await encodeShards(c, K, M) }),
    'native decode, data shards 0 and 1 lost': await throughput(TOTAL, async () => {
      for (const s of encoded) await decodeShards(lose(s, [0, 1]), K, M, CHUNK)
    }),
    'native decode, data 0 and parity 4 lost': await throughput(TOTAL, async () => {
      for (const s of encoded) await decodeShards(lose(s, [0, 4]), K, M, CHUNK)
    }),
    'native decode, nothing lost (copy)': await throughput(TOTAL, async () => {
      for (const s of encoded) await decodeShards(s, K, M, CHUNK)
    }),
    'portable decode, data shards 0 and 1 lost': await throughput(PORTABLE_MiB * MiB, async () => {
      for (const s of few) decodeShardsPortable(lose(s, [0, 1]), K, M, CHUNK)
    }),
    'portable encode 4+2': await throughput(PORTABLE_MiB * MiB, async () => {
      for (const c of chunks.slice(0, few.length)) encodeShardsPortable(c, K, M)
    })
  }
  const base = series['memcpy, Buffer.from (baseline)'].medianMiBs
  printTable(`erasure coding 4+2, ${TOTAL / MiB} MiB in ${CHUNK / MiB} MiB chunks, one at a time (median of ${RUNS}; MiB of data per second)`,
    Object.entries(series).map(([step, r]) => ({
      step,
      'MiB/s': r.medianMiBs.toFixed(0),
      'min': r.minMiBs.toFixed(0),
      'max': r.maxMiBs.toFixed(0),
      'x memcpy': (r.medianMiBs / base).toFixed(2)
    })))
  const encode = series['native encode 4+2'].medianMiBs
  console.log(`\nnative encode 4+2: ${(encode / 1024).toFixed(2)} GiB/s, ${encode >= GOAL_MiBs ? 'meets' : 'MISSES'} the 2 GiB/s per core goal`)
  writeResults('erasure', { k: K, m: M, totalBytes: TOTAL, chunkBytes: CHUNK, goalMiBs: GOAL_MiBs, met: encode >= GOAL_MiBs, series })
}
