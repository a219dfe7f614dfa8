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
 */
const GEAR: Uint32Array = (() => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) t[i] = createHash('sha256').update(`twin/v1/gear${i}`).digest().readUInt32BE(0)
  return t
})()

/** The top `bits` bits: with h = (h << 1) + gear[byte], they depend on the last 32 bytes. */
function maskOfBits (bits: number): number {
  return (0xFFFFFFFF << (32 - bits)) >>> 0
}

/** Finds the end of the first chunk in `buf[start..end)`; returns its length. `final` allows a short tail. */
export function cutPoint (buf: Uint8Array, start: number, end: number, o: ChunkerOptions, final: boolean): number {
  const n = end - start
  if (n <= o.minSize) return final ? n : -1
  const bits = Math.round(Math.log2(o.avgSize))
  const maskS = maskOfBits(bits + 2)
  const maskL = maskOfBits(bits - 2)
  const normal = Math.min(o.avgSize, n)
  const limit = Math.min(o.maxSize, n)
  let h = 0
  let i = o.minSize
  for (; i < normal; i++) {
    h = ((h << 1) + (GEAR[buf[start + i] as number] as number)) >>> 0
    if ((h & maskS) === 0) return i + 1
  }
  for (; i < limit; i++) {
    h = ((h << 1) + (GEAR[buf[start + i] as number] as number)) >>> 0
    if ((h & maskL) === 0) return i + 1
  }
  if (limit === o.maxSize) return limit
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
