import { createHash } from 'node:crypto'

/**
 * Content-defined chunking after FastCDC (Xia et al., USENIX ATC 2016): a rolling "gear" hash
 * over the bytes; a chunk ends where the hash matches a mask, so an insertion early in a file
 * moves only the chunk boundaries near it and later chunks keep their ids (dedupe across
 * versions). Normalized chunking: a stricter mask before the average size and a looser one
 * after it keeps sizes close to the average.
 */
export interface ChunkerOptions {
  minSize: number
  avgSize: number
  maxSize: number
}

/** Twin's parameters: chunks of 256 KiB to 4 MiB, about 1 MiB on average. Part of the format. */
export const DEFAULT_CHUNKING: ChunkerOptions = { minSize: 256 * 1024, avgSize: 1024 * 1024, maxSize: 4 * 1024 * 1024 }

/**
 * The gear table: 256 pseudo-random 32-bit values, fixed forever because chunk boundaries (and
 * so dedupe) depend on it: value i is the first 4 bytes (big-endian) of SHA-256("twin/v1/gear" || i).
 * Kept as signed 32-bit integers: the same bits, and the hash loop then stays in V8's integer
 * arithmetic (with unsigned values it spilled into doubles and ran at about a sixth of the speed).
 */
const GEAR: Int32Array = (() => {
  const t = new Int32Array(256)
  for (let i = 0; i < 256; i++) t[i] = createHash('sha256').update(`twin/v1/gear${i}`).digest().readInt32BE(0)
  return t
})()

/** The top `bits` bits of a 32-bit value, as a signed 32-bit mask: with h = (h << 1) + gear[byte], they depend on the last 32 bytes. */
function maskOfBits (bits: number): number {
  return (0xFFFFFFFF << (32 - bits)) | 0
}

/** The hash state after the last `scan` that found no cut (a scan that continues where another stopped starts from it). */
let carried = 0

/**
 * Rolls the gear hash over `buf[from..to)` starting from `h`; returns the index just after the
 * first byte where `h & mask` is zero, or -1 (and leaves the state in `carried`). One small
 * function with one shape of arguments, so V8 compiles it once and keeps it compiled.
 */
function scan (buf: Uint8Array, from: number, to: number, mask: number, h: number): number {
  for (let i = from; i < to; i++) {
    h = ((h << 1) + (GEAR[buf[i] as number] as number)) | 0
    if ((h & mask) === 0) return i + 1
  }
  carried = h
  return -1
}

/** Finds the end of the first chunk in `buf[start..end)`; returns its length. `final` allows a short tail. */
export function cutPoint (buf: Uint8Array, start: number, end: number, o: ChunkerOptions, final: boolean): number {
  const n = end - start
  if (n <= o.minSize) return final ? n : -1
  const bits = Math.round(Math.log2(o.avgSize))
  const normal = start + Math.min(o.avgSize, n)
  const limit = start + Math.min(o.maxSize, n)
  // Before the average a stricter mask (more bits must be zero), after it a looser one.
  let cut = scan(buf, start + o.minSize, normal, maskOfBits(bits + 2), 0)
  if (cut < 0) cut = scan(buf, normal, limit, maskOfBits(bits - 2), carried)
  if (cut >= 0) return cut - start
  if (limit - start === o.maxSize) return o.maxSize
  return final ? n : -1
}

/**
 * Splits a stream of bytes into content-defined chunks, holding at most about two maximum
 * chunks in memory whatever the stream's length.
 */
export async function * chunkStream (source: AsyncIterable<Uint8Array>, o: ChunkerOptions = DEFAULT_CHUNKING): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(2 * o.maxSize)
  let len = 0
  for await (const piece of source) {
    let offset = 0
    while (offset < piece.length) {
      const take = Math.min(piece.length - offset, buf.length - len)
      buf.set(piece.subarray(offset, offset + take), len)
      len += take
      offset += take
      // Emit every chunk that can be cut without knowing what comes next.
      let start = 0
      while (len - start >= o.maxSize) {
        const cut = cutPoint(buf, start, len, o, false)
        if (cut <= 0) break
        yield buf.slice(start, start + cut)
        start += cut
      }
      if (start > 0) {
        buf.copyWithin(0, start, len)
        len -= start
      }
      if (len === buf.length) {
        const grown = new Uint8Array(buf.length * 2)
        grown.set(buf.subarray(0, len))
        buf = grown
      }
    }
  }
  let start = 0
  while (start < len) {
    const cut = cutPoint(buf, start, len, o, true)
    yield buf.slice(start, start + cut)
    start += cut
  }
}
