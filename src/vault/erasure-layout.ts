/**
 * The erasure code's stored format, apart from its matrix: which (k, m) exist, the field each
 * uses, how data is cut into shards and how a shard is cut into packets. These facts decide
 * the bytes of every shard on disk, so they live here as data that the portable decoder and
 * docs/PROTOCOL.md section 15 share, not inside the native module. See docs/PROTOCOL.md section 15.
 */
import { ErasureError } from './errors.js'

/** Most data shards the code supports (the native module's MAX_K). */
export const MAX_DATA_SHARDS = 24
/** Most parity shards the code supports (the native module's MAX_M). */
export const MAX_PARITY_SHARDS = 6
/** Every shard is a multiple of this many bytes (the native module requires it). */
export const SHARD_ALIGNMENT = 8
/** All shards of one input together may not exceed this (1 GiB): the native module counts in 32 bits. */
export const MAX_SHARDS_BYTES = 2 ** 30
/** Packets are halved until one row of packet sources fits in this many bytes (see packetSize). */
const PACKET_CACHE_BYTES = 1_048_576
/** Packets are never halved below this many bytes. */
const PACKET_MIN_BYTES = 64

/** The code for one (k, m) with m >= 1: its field GF(2^w) and how its matrix was chosen. */
export interface CodeParameters {
  readonly k: number
  readonly m: number
  /** Bits per field element: 2, 4 or 8. */
  readonly w: 2 | 4 | 8
  /** The field's primitive polynomial: x^w plus the bits of `polynomial` below x^w. */
  readonly polynomial: number
  /** Cauchy column offset (m >= 3), else -1. */
  readonly x: number
  /** Cauchy row offset (m >= 3), else -1. */
  readonly y: number
  /** Ones in the parity bit matrix: a checksum of the matrix construction. */
  readonly ones: number
}

// [w, polynomial, x, y, ones] for k = 1..24 (rows) and m = 1..6 (columns). The native module
// found these by searching for the matrix with the fewest ones (fewest XORs); they are fixed
// by the stored format now and must never change for an existing (k, m).
type Row = readonly [number, number, number, number, number]
const TABLE: ReadonlyArray<readonly [Row, Row, Row, Row, Row, Row]> = [
  /* k= 1 */ [[2, 7, -1, -1, 2], [2, 7, -1, -1, 4], [2, 7, 0, 1, 6], [4, 19, 0, 1, 16], [4, 19, 0, 1, 20], [4, 19, 0, 1, 24]],
  /* k= 2 */ [[2, 7, -1, -1, 4], [2, 7, -1, -1, 9], [4, 19, 0, 4, 28], [4, 19, 0, 5, 40], [4, 19, 2, 9, 51], [4, 19, 4, 10, 62]],
  /* k= 3 */ [[2, 7, -1, -1, 6], [4, 19, -1, -1, 26], [4, 19, 0, 9, 44], [4, 19, 1, 8, 63], [4, 19, 1, 9, 82], [4, 19, 0, 9, 101]],
  /* k= 4 */ [[4, 19, -1, -1, 16], [4, 19, -1, -1, 36], [4, 19, 0, 9, 63], [4, 19, 3, 11, 89], [4, 19, 3, 11, 116], [4, 19, 11, 4, 145]],
  /* k= 5 */ [[4, 19, -1, -1, 20], [4, 19, -1, -1, 47], [4, 19, 4, 13, 82], [4, 19, 3, 12, 118], [4, 19, 0, 9, 152], [4, 19, 0, 9, 185]],
  /* k= 6 */ [[4, 19, -1, -1, 24], [4, 19, -1, -1, 58], [4, 19, 2, 12, 102], [4, 19, 2, 12, 144], [4, 19, 0, 9, 186], [4, 19, 0, 9, 231]],
  /* k= 7 */ [[4, 19, -1, -1, 28], [4, 19, -1, -1, 71], [4, 19, 1, 13, 123], [4, 19, 2, 12, 174], [4, 19, 0, 9, 226], [4, 19, 7, 0, 277]],
  /* k= 8 */ [[4, 19, -1, -1, 32], [4, 19, -1, -1, 84], [4, 19, 2, 13, 142], [4, 19, 2, 12, 205], [4, 19, 0, 9, 265], [4, 19, 0, 8, 328]],
  /* k= 9 */ [[4, 19, -1, -1, 36], [4, 19, -1, -1, 97], [4, 19, 1, 13, 162], [4, 19, 2, 12, 237], [4, 19, 0, 9, 308], [4, 19, 1, 10, 376]],
  /* k=10 */ [[4, 19, -1, -1, 40], [4, 19, -1, -1, 111], [4, 19, 1, 13, 186], [4, 19, 0, 12, 268], [4, 19, 0, 11, 347], [4, 19, 0, 10, 426]],
  /* k=11 */ [[4, 19, -1, -1, 44], [4, 19, -1, -1, 125], [4, 19, 0, 13, 211], [4, 19, 0, 12, 300], [4, 19, 0, 11, 390], [8, 135, 58, 188, 1401]],
  /* k=12 */ [[4, 19, -1, -1, 48], [4, 19, -1, -1, 139], [4, 19, 3, 0, 234], [4, 19, 0, 12, 334], [8, 113, 24, 208, 1269], [8, 135, 57, 188, 1577]],
  /* k=13 */ [[4, 19, -1, -1, 52], [4, 19, -1, -1, 155], [4, 19, 0, 13, 261], [8, 135, 59, 189, 1037], [8, 113, 27, 236, 1393], [8, 113, 27, 236, 1733]],
  /* k=14 */ [[4, 19, -1, -1, 56], [4, 19, -1, -1, 171], [8, 169, 4, 252, 777], [8, 135, 58, 189, 1121], [8, 135, 58, 189, 1508], [8, 135, 58, 188, 1880]],
  /* k=15 */ [[4, 19, -1, -1, 60], [8, 135, -1, -1, 353], [8, 113, 24, 209, 836], [8, 135, 58, 189, 1225], [8, 101, 28, 232, 1644], [8, 113, 120, 241, 2037]],
  /* k=16 */ [[8, 29, -1, -1, 128], [8, 135, -1, -1, 380], [8, 113, 22, 213, 901], [8, 113, 22, 212, 1324], [8, 101, 28, 232, 1765], [8, 101, 28, 232, 2195]],
  /* k=17 */ [[8, 29, -1, -1, 136], [8, 135, -1, -1, 407], [8, 113, 22, 213, 960], [8, 135, 58, 189, 1423], [8, 101, 27, 232, 1880], [8, 101, 27, 232, 2343]],
  /* k=18 */ [[8, 29, -1, -1, 144], [8, 135, -1, -1, 434], [8, 113, 24, 213, 1027], [8, 113, 22, 212, 1513], [8, 195, 8, 32, 2019], [8, 113, 205, 126, 2500]],
  /* k=19 */ [[8, 29, -1, -1, 152], [8, 135, -1, -1, 462], [8, 113, 22, 213, 1086], [8, 113, 23, 212, 1604], [8, 195, 7, 32, 2131], [8, 195, 3, 60, 2654]],
  /* k=20 */ [[8, 29, -1, -1, 160], [8, 135, -1, -1, 490], [8, 113, 22, 213, 1147], [8, 113, 22, 212, 1695], [8, 195, 4, 238, 2270], [8, 113, 21, 233, 2816]],
  /* k=21 */ [[8, 29, -1, -1, 168], [8, 135, -1, -1, 518], [8, 113, 21, 213, 1225], [8, 113, 21, 212, 1801], [8, 195, 3, 60, 2395], [8, 195, 3, 60, 2980]],
  /* k=22 */ [[8, 29, -1, -1, 176], [8, 135, -1, -1, 546], [8, 113, 20, 213, 1292], [8, 113, 21, 212, 1906], [8, 195, 35, 28, 2512], [8, 195, 3, 60, 3135]],
  /* k=23 */ [[8, 29, -1, -1, 184], [8, 135, -1, -1, 574], [8, 113, 19, 213, 1366], [8, 113, 19, 212, 2008], [8, 195, 3, 238, 2652], [8, 113, 205, 126, 3291]],
  /* k=24 */ [[8, 29, -1, -1, 192], [8, 135, -1, -1, 603], [8, 113, 18, 213, 1437], [8, 195, 125, 91, 2110], [8, 195, 3, 238, 2787], [8, 195, 42, 225, 3466]]
]

/** Throws an ErasureError unless 1 <= k <= 24, 0 <= m <= 6 (integers). */
export function checkCode (k: number, m: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_DATA_SHARDS) {
    throw new ErasureError('bad-parameters', `erasure code: k must be an integer from 1 to ${MAX_DATA_SHARDS}, got ${String(k)}`)
  }
  if (!Number.isInteger(m) || m < 0 || m > MAX_PARITY_SHARDS) {
    throw new ErasureError('bad-parameters', `erasure code: m must be an integer from 0 to ${MAX_PARITY_SHARDS}, got ${String(m)}`)
  }
}

/** The field and matrix parameters of the (k, m) code; m must be at least 1. */
export function codeParameters (k: number, m: number): CodeParameters {
  checkCode(k, m)
  const row = TABLE[k - 1]?.[m - 1]
  if (row === undefined) throw new ErasureError('bad-parameters', `erasure code: no parity matrix for k = ${k}, m = ${m}`)
  const [w, polynomial, x, y, ones] = row
  return { k, m, w: w as 2 | 4 | 8, polynomial, x, y, ones }
}

/**
 * Bytes in each shard for `length` bytes of data: the data is padded with zeros to a multiple of
 * k * 8, so each of the k data shards holds the same whole number of 8-byte words.
 */
export function shardSize (length: number, k: number): number {
  return Math.ceil(length / (k * SHARD_ALIGNMENT)) * SHARD_ALIGNMENT
}

/**
 * Bytes in each packet, the unit the bit matrix combines: a shard is a run of blocks of w
 * packets. The native module starts from shardSize / w and halves it (while it stays even and
 * above 64 bytes) until the k * w source packets and one target packet fit in 1 MiB of cache.
 * The packet size changes the parity bytes, so it is part of the format.
 */
export function packetSize (size: number, k: number, w: number): number {
  let packet = size / w
  while (packet > PACKET_MIN_BYTES && packet % 2 === 0 && (1 + k * w) * packet > PACKET_CACHE_BYTES) packet /= 2
  return packet
}

/** Checks an encode call's input and returns the shard size it will use. */
export function planEncode (data: Uint8Array, k: number, m: number): number {
  checkCode(k, m)
  if (!(data instanceof Uint8Array)) throw new ErasureError('bad-input', 'erasure code: data must be a Uint8Array')
  const size = shardSize(data.length, k)
  checkTotal(size, k, m)
  return size
}

/** A decode call's checked input: the shard size and the indexes of the shards present. */
export interface DecodePlan {
  readonly size: number
  readonly present: readonly number[]
}

/** Checks a decode call's input (count, types and sizes of shards, length) and finds the shards present. */
export function planDecode (shards: ReadonlyArray<Uint8Array | undefined>, k: number, m: number, length: number): DecodePlan {
  checkCode(k, m)
  if (!Array.isArray(shards) || shards.length !== k + m) {
    throw new ErasureError('bad-input', `erasure code: expected an array of ${k + m} shards (missing ones undefined)`)
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new ErasureError('bad-input', `erasure code: length must be a non-negative integer, got ${String(length)}`)
  }
  const size = shardSize(length, k)
  checkTotal(size, k, m)
  const present: number[] = []
  for (const [i, shard] of shards.entries()) {
    if (shard === undefined) continue
    if (!(shard instanceof Uint8Array)) throw new ErasureError('bad-input', `erasure code: shard ${i} is neither a Uint8Array nor undefined`)
    if (shard.length !== size) {
      throw new ErasureError('shard-size', `erasure code: shard ${i} has ${shard.length} bytes, expected ${size} for ${length} bytes of data`)
    }
    present.push(i)
  }
  if (present.length < k) {
    throw new ErasureError('too-few-shards', `erasure code: ${present.length} of ${k + m} shards present, at least ${k} needed`)
  }
  return { size, present }
}

function checkTotal (size: number, k: number, m: number): void {
  if (size * (k + m) > MAX_SHARDS_BYTES) {
    throw new ErasureError('too-large', `erasure code: shards of ${size} bytes exceed the ${MAX_SHARDS_BYTES}-byte limit for one input`)
  }
}
