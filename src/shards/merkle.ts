import { createHash } from 'node:crypto'
import { equalBytes } from '../wire/index.js'

/**
 * A shard's address is the root of a SHA-256 Merkle tree over its 16 KiB leaves. A storage
 * node checks an upload against its address, and the owner can audit any leaf with a proof
 * against the address alone, without keeping or fetching the whole shard.
 *
 *   leaf hash  = SHA-256(0x00 || leaf bytes)        (the last leaf may be shorter; an empty shard has one empty leaf)
 *   inner hash = SHA-256(0x01 || left || right)     (an odd node at the end of a level moves up unchanged)
 */
export const LEAF_SIZE = 16 * 1024

export function leafCount (size: number): number {
  return Math.max(1, Math.ceil(size / LEAF_SIZE))
}

function leafHash (leaf: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(Uint8Array.of(0)).update(leaf).digest())
}

function innerHash (left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(Uint8Array.of(1)).update(left).update(right).digest())
}

function leaves (data: Uint8Array): Uint8Array[] {
  const n = leafCount(data.length)
  return Array.from({ length: n }, (_, i) => leafHash(data.subarray(i * LEAF_SIZE, Math.min(data.length, (i + 1) * LEAF_SIZE))))
}

function nextLevel (level: Uint8Array[]): Uint8Array[] {
  const up: Uint8Array[] = []
  for (let i = 0; i < level.length; i += 2) up.push(i + 1 < level.length ? innerHash(level[i] as Uint8Array, level[i + 1] as Uint8Array) : level[i] as Uint8Array)
  return up
}

/** The Merkle root (a shard's address) of `data`. */
export function merkleRoot (data: Uint8Array): Uint8Array {
  let level = leaves(data)
  while (level.length > 1) level = nextLevel(level)
  return level[0] as Uint8Array
}

/** The sibling hashes from leaf `index` up to the root. */
export function merkleProof (data: Uint8Array, index: number): Uint8Array[] {
  let level = leaves(data)
  if (!Number.isInteger(index) || index < 0 || index >= level.length) throw new RangeError(`leaf ${index} is out of range`)
  const proof: Uint8Array[] = []
  let i = index
  while (level.length > 1) {
    const sibling = i ^ 1
    if (sibling < level.length) proof.push(level[sibling] as Uint8Array)
    level = nextLevel(level)
    i >>= 1
  }
  return proof
}

/** Checks that `leaf` is leaf `index` of a shard of `size` bytes whose root is `root`. */
export function verifyMerkleProof (root: Uint8Array, size: number, index: number, leaf: Uint8Array, proof: Uint8Array[]): boolean {
  const n = leafCount(size)
  if (!Number.isInteger(index) || index < 0 || index >= n) return false
  const expectedLength = index === n - 1 ? size - index * LEAF_SIZE : LEAF_SIZE
  if (leaf.length !== Math.max(0, expectedLength)) return false
  let h = leafHash(leaf)
  let i = index
  let width = n
  let p = 0
  while (width > 1) {
    const sibling = i ^ 1
    if (sibling < width) {
      const s = proof[p++]
      if (s === undefined || s.length !== 32) return false
      h = (i & 1) === 0 ? innerHash(h, s) : innerHash(s, h)
    }
    i >>= 1
    width = Math.ceil(width / 2)
  }
  return p === proof.length && equalBytes(h, root)
}
