/**
 * A pure TypeScript implementation of the vault's erasure code: the same field, matrix, padding
 * and packet layout as the native encoder, so it writes byte-identical parity and reads the
 * shards the native encoder wrote. It exists so that stored data outlives any one native
 * module, and so tests can check the native module against the documented format. It is
 * synchronous and several times slower than the native module.
 */
import { bitMatrix, code, decodingMatrix } from './erasure-matrix.js'
import { packetSize, planDecode, planEncode } from './erasure-layout.js'

/** Splits `data` into k data shards and computes m parity shards (k + m arrays of equal size). */
export function encodeShardsPortable (data: Uint8Array, k: number, m: number): Uint8Array[] {
  const size = planEncode(data, k, m)
  const region = new Uint8Array((k + m) * size)
  region.set(data)
  const shards = Array.from({ length: k + m }, (_, i) => region.subarray(i * size, (i + 1) * size))
  if (m === 0 || size === 0) return shards
  const c = code(k, m)
  const sources = shards.slice(0, k)
  for (let r = 0; r < m; r++) {
    const rows = c.bits.subarray(r * c.params.w * k * c.params.w, (r + 1) * c.params.w * k * c.params.w)
    applyBits(rows, c.params.w, k, sources, shards[k + r] as Uint8Array, size)
  }
  return shards
}

/**
 * Rebuilds `length` bytes of data from any k of its k + m shards (missing shards undefined).
 * Throws an ErasureError when fewer than k shards are present or a shard has the wrong size.
 */
export function decodeShardsPortable (shards: ReadonlyArray<Uint8Array | undefined>, k: number, m: number, length: number): Uint8Array {
  const { size, present } = planDecode(shards, k, m, length)
  const out = new Uint8Array(k * size)
  const wanted: number[] = []
  for (let i = 0; i < k; i++) {
    const shard = shards[i]
    if (shard === undefined) wanted.push(i)
    else out.set(shard, i * size)
  }
  if (wanted.length > 0) {
    const c = code(k, m)
    const w = c.params.w
    const sources = present.slice(0, k)
    const rows = bitMatrix(c.field, decodingMatrix(c, sources, wanted), wanted.length, k)
    // Word-aligned sources let applyBits XOR 32 bits at a time; copying a stray one is cheaper.
    const inputs = sources.map(s => {
      const shard = shards[s] as Uint8Array
      return shard.byteOffset % 4 === 0 ? shard : shard.slice()
    })
    for (const [row, d] of wanted.entries()) {
      const target = out.subarray(d * size, (d + 1) * size)
      applyBits(rows.subarray(row * w * k * w, (row + 1) * w * k * w), w, k, inputs, target, size)
    }
  }
  return out.subarray(0, length)
}

/**
 * Computes one shard from k sources with a w x (k*w) bit matrix, packet by packet: in each block
 * of w packets, target packet t is the XOR of every source packet (s, q) whose bit in row t,
 * column s*w + q is one. The same loop serves encoding (parity rows) and decoding (rows of the
 * inverse).
 */
function applyBits (rows: Uint8Array, w: number, k: number, sources: readonly Uint8Array[], target: Uint8Array, size: number): void {
  const packet = packetSize(size, k, w)
  const width = k * w
  // For each target packet, the (source, packet) pairs to XOR, as [source index, packet index].
  const terms: Array<Array<[number, number]>> = []
  for (let t = 0; t < w; t++) {
    const list: Array<[number, number]> = []
    for (let col = 0; col < width; col++) {
      if (rows[t * width + col] === 1) list.push([Math.floor(col / w), col % w])
    }
    terms.push(list)
  }
  const words = packet % 4 === 0 && target.byteOffset % 4 === 0 && sources.every(s => s.byteOffset % 4 === 0)
  const view = words ? (b: Uint8Array) => new Int32Array(b.buffer, b.byteOffset, b.length >> 2) : undefined
  const out32 = view?.(target)
  const in32 = view === undefined ? undefined : sources.map(view)
  for (let block = 0; block < size; block += w * packet) {
    for (let t = 0; t < w; t++) {
      const at = block + t * packet
      target.fill(0, at, at + packet)
      for (const [s, q] of terms[t] as Array<[number, number]>) {
        const from = block + q * packet
        if (out32 !== undefined && in32 !== undefined) {
          xorWords(in32[s] as Int32Array, from >> 2, out32, at >> 2, packet >> 2)
        } else {
          xorBytes(sources[s] as Uint8Array, from, target, at, packet)
        }
      }
    }
  }
}

function xorWords (src: Int32Array, from: number, dst: Int32Array, to: number, n: number): void {
  for (let i = 0; i < n; i++) dst[to + i] = (dst[to + i] as number) ^ (src[from + i] as number)
}

function xorBytes (src: Uint8Array, from: number, dst: Uint8Array, to: number, n: number): void {
  for (let i = 0; i < n; i++) dst[to + i] = (dst[to + i] as number) ^ (src[from + i] as number)
}
