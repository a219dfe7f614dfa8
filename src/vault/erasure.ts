/**
 * Reed-Solomon erasure coding of vault chunks with the native module `@ronomon/reed-solomon`:
 * k data shards and m parity shards, any k of which rebuild the data.
 *
 * The native module only works asynchronously (it queues each call on libuv's thread pool and
 * has no synchronous entry point), so these functions return promises. While a call is pending
 * the native code reads and writes the buffers from another thread: do not change `data` or the
 * shards until the promise settles. The format is documented in docs/PROTOCOL.md section 15 and
 * reimplemented in erasure-portable.ts, which decodes these shards without the native module.
 */
import { createRequire } from 'node:module'
import { MAX_DATA_SHARDS, MAX_PARITY_SHARDS, planDecode, planEncode } from './erasure-layout.js'
import { ErasureError } from './errors.js'

/** The part of the native module Twin uses (it ships no types). */
interface NativeReedSolomon {
  readonly MAX_K: number
  readonly MAX_M: number
  /** An encoding context (w, k, m and the parity bit matrix); reusable and shareable. */
  create (k: number, m: number): Uint8Array
  /**
   * Computes the `targets` shards from the `sources` shards (bit i = shard i; data shards are
   * `buffer[bufferOffset ..]`, parity shards `parity[parityOffset ..]`), then calls `end`.
   */
  encode (
    context: Uint8Array, sources: number, targets: number,
    buffer: Uint8Array, bufferOffset: number, bufferSize: number,
    parity: Uint8Array, parityOffset: number, paritySize: number,
    end: () => void
  ): void
}

let loaded: NativeReedSolomon | undefined
const contexts = new Map<string, Uint8Array>()

/** Loads the native module on first use, so that the portable code paths work without it. */
function native (): NativeReedSolomon {
  if (loaded !== undefined) return loaded
  let module: NativeReedSolomon
  try {
    module = createRequire(import.meta.url)('@ronomon/reed-solomon') as NativeReedSolomon
  } catch (err) {
    throw new ErasureError('native-unavailable', 'the native erasure code module @ronomon/reed-solomon cannot be loaded', { cause: err })
  }
  // Another build with other limits would likely have another parameter table: a different format.
  if (module.MAX_K !== MAX_DATA_SHARDS || module.MAX_M !== MAX_PARITY_SHARDS) {
    throw new ErasureError('native-unavailable', `the native erasure code module has limits k <= ${module.MAX_K}, m <= ${module.MAX_M}, not the expected ${MAX_DATA_SHARDS}, ${MAX_PARITY_SHARDS}`)
  }
  loaded = module
  return module
}

function context (k: number, m: number): Uint8Array {
  const key = `${k}+${m}`
  let ctx = contexts.get(key)
  if (ctx === undefined) {
    ctx = native().create(k, m)
    contexts.set(key, ctx)
  }
  return ctx
}

/** Bit flags for shard indexes, as the native module takes them. */
function flags (indexes: Iterable<number>): number {
  let bits = 0
  for (const i of indexes) bits |= 1 << i
  return bits
}

function run (
  k: number, m: number, sources: number, targets: number, data: Uint8Array, parity: Uint8Array, size: number
): Promise<void> {
  const ctx = context(k, m)
  return new Promise(resolve => {
    native().encode(ctx, sources, targets, data, 0, k * size, parity, 0, m * size, () => resolve())
  })
}

/** Memory the native module overwrites completely, so it need not be zeroed first. */
function uninitialized (length: number): Uint8Array {
  // allocUnsafeSlow: never from Node's shared pool, so no view reaches unrelated bytes.
  const b = Buffer.allocUnsafeSlow(length)
  return new Uint8Array(b.buffer, b.byteOffset, b.length)
}

function split (region: Uint8Array, count: number, size: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => region.subarray(i * size, (i + 1) * size))
}

/**
 * Splits `data` into k data shards, zero-padded to a multiple of k * 8 bytes, and computes m
 * parity shards: k + m arrays of equal size. The caller keeps `data.length` for decoding. When
 * no padding is needed the data shards are views of `data`, not copies.
 */
export async function encodeShards (data: Uint8Array, k: number, m: number): Promise<Uint8Array[]> {
  const size = planEncode(data, k, m)
  let region = data
  if (data.length !== k * size) {
    region = uninitialized(k * size)
    region.set(data)
    region.fill(0, data.length)
  }
  const shards = split(region, k, size)
  if (m === 0) return shards
  const parity = uninitialized(m * size)
  if (size > 0) await run(k, m, flags(shards.keys()), flags(Array.from({ length: m }, (_, i) => k + i)), region, parity, size)
  return [...shards, ...split(parity, m, size)]
}

/**
 * Rebuilds `length` bytes of data from any k of its k + m shards (missing shards undefined).
 * Throws an ErasureError when fewer than k shards are present or a shard has the wrong size.
 */
export async function decodeShards (shards: ReadonlyArray<Uint8Array | undefined>, k: number, m: number, length: number): Promise<Uint8Array> {
  const { size, present } = planDecode(shards, k, m, length)
  const missing = Array.from({ length: k }, (_, i) => i).filter(i => shards[i] === undefined)
  if (size === 0) return new Uint8Array(0)
  if (missing.length === 0) {
    const out = new Uint8Array(length)
    for (let i = 0; i * size < length; i++) out.set((shards[i] as Uint8Array).subarray(0, Math.min(size, length - i * size)), i * size)
    return out
  }
  // Data and parity in separate allocations: the returned view's buffer holds only data shards.
  const data = uninitialized(k * size)
  const parity = uninitialized(m * size)
  for (const i of present) {
    if (i < k) data.set(shards[i] as Uint8Array, i * size)
    else parity.set(shards[i] as Uint8Array, (i - k) * size)
  }
  // Every present shard is a source: a parity shard left out would be recomputed for nothing.
  await run(k, m, flags(present), flags(missing), data, parity, size)
  return data.subarray(0, length)
}
