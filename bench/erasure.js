// Erasure code 4+2 on the inputs the vault really gives it: the chunks that the twin's
// content-defined chunker cuts from BENCH_ERASURE_MIB (default 64) of random data, each sealed
// with AES-256-GCM as the vault seals it (chunk + 16-byte tag), encoded one at a time (so one
// core works: the native module runs each call on one libuv thread). Baseline in the same run:
// a copy of the same sealed chunks into memory already touched (warm memcpy). Goal (issue 4):
// native encode at least 2 GiB/s per core, judged on these chunk sizes.
import { createCipheriv, randomBytes } from 'node:crypto'
import { decodeShards, decodeShardsPortable, encodeShards, encodeShardsPortable } from '../dist/vault/index.js'
import { goal, loadChunker, median, MIB, printTable, quantile, writeResults } from './lib.js'

const K = 4
const M = 2
const TOTAL = Number(process.env.BENCH_ERASURE_MIB ?? 64) * MIB
const RUNS = 7
const PORTABLE_SHARE = 0.25 // the portable code is slower; a quarter of the chunks keeps the run short
const GOAL_MiBs = 2048

async function throughput (bytes, fn) {
  await fn() // warm up
  const rates = []
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    await fn()
    rates.push(bytes / MIB / ((performance.now() - t) / 1000))
  }
  return { medianMiBs: median(rates), minMiBs: Math.min(...rates), maxMiBs: Math.max(...rates) }
}

const lose = (shards, missing) => shards.map((s, i) => missing.includes(i) ? undefined : s)

/** Cuts `data` with the twin's chunker; falls back to 1 MiB pieces (and says so) without it. */
async function cut (data) {
  const chunker = await loadChunker()
  if (chunker === undefined) {
    const out = []
    for (let o = 0; o < data.length; o += MIB) out.push(data.subarray(o, o + MIB))
    return { chunks: out, source: 'fixed 1 MiB pieces (the chunker could not be loaded)' }
  }
  async function * one () { yield data }
  const chunks = []
  for await (const c of chunker.chunkStream(one(), chunker.DEFAULT_CHUNKING)) chunks.push(new Uint8Array(c))
  return { chunks, source: 'the twin\'s content-defined chunker' }
}

/** AES-256-GCM under a fresh key, as the vault seals a chunk: ciphertext then the 16-byte tag. */
function sealChunk (plain) {
  const c = createCipheriv('aes-256-gcm', randomBytes(32), Buffer.alloc(12))
  return new Uint8Array(Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]))
}

export async function run () {
  const { chunks, source } = await cut(new Uint8Array(randomBytes(TOTAL)))
  const sealed = chunks.map(sealChunk)
  const bytes = sealed.reduce((s, c) => s + c.length, 0)
  const sizes = sealed.map(c => c.length)
  const encoded = []
  for (const c of sealed) encoded.push(await encodeShards(c, K, M))
  const scratch = new Uint8Array(Math.max(...sizes)).fill(1) // touched: a warm destination
  const few = Math.max(1, Math.round(sealed.length * PORTABLE_SHARE))
  const fewBytes = sizes.slice(0, few).reduce((a, b) => a + b, 0)
  const oneMiB = Array.from({ length: TOTAL / MIB }, () => new Uint8Array(randomBytes(MIB)))

  const series = {
    'memcpy of the same chunks into warm memory (baseline)': await throughput(bytes, async () => { for (const c of sealed) scratch.set(c) }),
    'memcpy into new memory (Buffer.from)': await throughput(bytes, async () => { for (const c of sealed) Buffer.from(c) }),
    'native encode 4+2': await throughput(bytes, async () => { for (const c of sealed) await encodeShards(c, K, M) }),
    'native decode, data shards 0 and 1 lost': await throughput(bytes, async () => {
      for (let i = 0; i < encoded.length; i++) await decodeShards(lose(encoded[i], [0, 1]), K, M, sizes[i])
    }),
    'native decode, data 0 and parity 4 lost': await throughput(bytes, async () => {
      for (let i = 0; i < encoded.length; i++) await decodeShards(lose(encoded[i], [0, 4]), K, M, sizes[i])
    }),
    'native decode, nothing lost (copy)': await throughput(bytes, async () => {
      for (let i = 0; i < encoded.length; i++) await decodeShards(encoded[i], K, M, sizes[i])
    }),
    'portable decode, data shards 0 and 1 lost': await throughput(fewBytes, async () => {
      for (let i = 0; i < few; i++) decodeShardsPortable(lose(encoded[i], [0, 1]), K, M, sizes[i])
    }),
    'portable encode 4+2': await throughput(fewBytes, async () => { for (let i = 0; i < few; i++) encodeShardsPortable(sealed[i], K, M) }),
    'native encode 4+2, exact 1 MiB inputs (for reference only)': await throughput(TOTAL, async () => { for (const c of oneMiB) await encodeShards(c, K, M) })
  }
  const base = series['memcpy of the same chunks into warm memory (baseline)'].medianMiBs
  const dist = { chunks: sizes.length, minBytes: Math.min(...sizes), medianBytes: median(sizes), meanBytes: bytes / sizes.length, maxBytes: Math.max(...sizes), p10Bytes: quantile(sizes, 0.1), p90Bytes: quantile(sizes, 0.9) }
  const kib = n => `${(n / 1024).toFixed(0)} KiB`
  console.log(`\ninputs: ${dist.chunks} sealed chunks from ${TOTAL / MIB} MiB, cut by ${source}: min ${kib(dist.minBytes)}, p10 ${kib(dist.p10Bytes)}, median ${kib(dist.medianBytes)}, mean ${kib(dist.meanBytes)}, p90 ${kib(dist.p90Bytes)}, max ${kib(dist.maxBytes)}`)
  printTable(`erasure coding 4+2 of those chunks, one at a time (median of ${RUNS}; MiB of data per second, one core)`,
    Object.entries(series).map(([step, r]) => ({
      step,
      'MiB/s': r.medianMiBs.toFixed(0),
      min: r.minMiBs.toFixed(0),
      max: r.maxMiBs.toFixed(0),
      'x warm memcpy': (r.medianMiBs / base).toFixed(2)
    })))
  const encode = series['native encode 4+2'].medianMiBs
  const degraded = series['native decode, data shards 0 and 1 lost'].medianMiBs
  const g = goal({ what: 'native encode 4+2 on the chunker\'s sizes, MiB/s (warm memcpy of the same bytes)', baseline: base.toFixed(0), twin: encode.toFixed(0), value: encode, atLeast: GOAL_MiBs, unit: ' MiB/s' })
  printTable('erasure goal (one core)', [
    { ...g.row, ratio: `${(encode / base).toFixed(2)}x` },
    { ...goal({ what: 'native decode, two data shards lost, MiB/s (warm memcpy)', baseline: base.toFixed(0), twin: degraded.toFixed(0) }).row, ratio: `${(degraded / base).toFixed(2)}x` }
  ])
  writeResults('erasure', { k: K, m: M, totalBytes: TOTAL, inputs: { source, ...dist }, goalMiBs: GOAL_MiBs, met: encode >= GOAL_MiBs, encodeOverMemcpy: encode / base, series })
}
