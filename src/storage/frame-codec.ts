import { DecodeError } from '../errors.js'
import { encodeCbor } from '../wire/index.js'

/**
 * How storage frames are written and read. They are canonical DAG-CBOR, like every frame of
 * Twin's protocols, but shards make them large (up to 5 MiB), and the generic codec costs
 * three passes over each shard: a copy when decoding, a re-encoding to check canonical form,
 * and the comparison. Here a shard is neither copied on the way out (its bytes are sent as
 * they are, after the CBOR head) nor on the way in (the decoded byte string is a view of the
 * frame), and canonical form is checked while reading (shortest lengths, sorted unique keys)
 * instead of by re-encoding. The bytes on the wire are exactly what `encodeCbor` writes.
 */
export const storageCodec = { encode: encodeStorageFrame, decode: decodeStorageFrame }

/** Byte strings at least this long are sent without being copied into the frame. */
const SPLICE_BYTES = 4096
const MAX_DEPTH = 8

/**
 * Encodes a frame as `encodeCbor` does; a large `data` byte string that is the map's last key in
 * canonical order (it is in every storage frame that carries a shard) is passed through, not copied.
 */
export function encodeStorageFrame (value: unknown): Uint8Array[] {
  if (typeof value !== 'object' || value === null) return [encodeCbor(value)]
  const data = (value as { data?: unknown }).data
  if (!(data instanceof Uint8Array) || data.length < SPLICE_BYTES || lastKey(Object.keys(value)) !== 'data') return [encodeCbor(value)]
  const head = encodeCbor({ ...value, data: new Uint8Array(0) })
  // The empty byte string (0x40) is the last byte of the head; a string of n bytes replaces it.
  return [head.subarray(0, head.length - 1), lengthHead(2, data.length), data]
}

/** The last key in DAG-CBOR's map order: shorter keys first, then bytewise. */
function lastKey (keys: string[]): string | undefined {
  return [...keys].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)).at(-1)
}

function lengthHead (major: number, n: number): Uint8Array {
  const m = major << 5
  if (n < 24) return Uint8Array.of(m | n)
  if (n < 0x100) return Uint8Array.of(m | 24, n)
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff)
  return Uint8Array.of(m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
}

/**
 * Decodes one frame: maps with text keys, arrays, byte strings (returned as views of `bytes`),
 * text, integers, booleans and null, the values storage frames hold. Anything else, and any
 * encoding that is not the shortest or keys out of order, is refused with a DecodeError.
 */
export function decodeStorageFrame (bytes: Uint8Array): unknown {
  const reader = new CborReader(bytes)
  const value = reader.value(0)
  if (reader.pos !== bytes.length) throw new DecodeError('frame', 'bytes after the value')
  return value
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

class CborReader {
  pos = 0
  constructor (private readonly bytes: Uint8Array) {}

  value (depth: number): unknown {
    if (depth > MAX_DEPTH) throw new DecodeError('frame', 'nested too deeply')
    const first = this.byte()
    const major = first >> 5
    const info = first & 31
    if (major === 7) {
      if (info === 20) return false
      if (info === 21) return true
      if (info === 22) return null
      throw new DecodeError('frame', 'floats and other simple values are not used here')
    }
    const n = this.argument(info)
    switch (major) {
      case 0: return n
      case 1: return -1 - n
      case 2: return this.take(n)
      case 3: return this.text(n)
      case 4: {
        const out: unknown[] = []
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1))
        return out
      }
      case 5: return this.map(n, depth)
      default: throw new DecodeError('frame', 'tags are not used here')
    }
  }

  private map (n: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    let previous: Uint8Array | undefined
    for (let i = 0; i < n; i++) {
      const head = this.byte()
      if (head >> 5 !== 3) throw new DecodeError('frame', 'a map key is not text')
      const raw = this.take(this.argument(head & 31))
      if (previous !== undefined && compareKeys(previous, raw) >= 0) throw new DecodeError('frame', 'map keys out of canonical order or repeated')
      previous = raw
      const key = this.decodeText(raw)
      if (key === '__proto__') throw new DecodeError('frame', 'a reserved map key')
      out[key] = this.value(depth + 1)
    }
    return out
  }

  /** The length or value after a head byte, refusing longer forms than needed (canonical CBOR). */
  private argument (info: number): number {
    if (info < 24) return info
    if (info === 24) return this.shortest(this.byte(), 24)
    if (info === 25) return this.shortest(this.byte() * 0x100 + this.byte(), 0x100)
    if (info === 26) return this.shortest(((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte(), 0x10000)
    if (info === 27) {
      const high = ((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte()
      const low = ((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte()
      if (high >= 0x200000) throw new DecodeError('frame', 'an integer beyond 2^53')
      return this.shortest(high * 0x100000000 + low, 0x100000000)
    }
    throw new DecodeError('frame', 'indefinite lengths are not canonical')
  }

  private shortest (n: number, min: number): number {
    if (n < min) throw new DecodeError('frame', 'a length or integer not in its shortest form')
    return n
  }

  private byte (): number {
    if (this.pos >= this.bytes.length) throw new DecodeError('frame', 'truncated')
    return this.bytes[this.pos++] as number
  }

  private take (n: number): Uint8Array {
    if (n > this.bytes.length - this.pos) throw new DecodeError('frame', 'truncated')
    // A plain Uint8Array view (not a Buffer, whatever the frame is), as the canonical decoder gives.
    const out = new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.pos, n)
    this.pos += n
    return out
  }

  private text (n: number): string {
    return this.decodeText(this.take(n))
  }

  private decodeText (raw: Uint8Array): string {
    // The generic decoder drops a leading byte-order mark and then refuses the value (a duplicate
    // key, or bytes that do not re-encode the same): text starting with one is refused here too.
    if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) throw new DecodeError('frame', 'text that starts with a byte-order mark')
    try {
      return utf8.decode(raw)
    } catch {
      throw new DecodeError('frame', 'text that is not UTF-8')
    }
  }
}

/** DAG-CBOR's key order on the encoded keys: shorter first, then bytewise. */
function compareKeys (a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length
  return Buffer.compare(a, b)
}
