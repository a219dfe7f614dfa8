import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { chunkStream, DEFAULT_CHUNKING } from '../../src/vault/chunker.js'
import { LEAF_SIZE, merkleProof, merkleRoot, verifyMerkleProof } from '../../src/shards/merkle.js'
import { moreThanFail, estimateDurability } from '../../src/vault/durability.js'
import { decryptChunk, encryptChunk, VaultKeys } from '../../src/vault/crypto.js'
import { FolderShardStore } from '../../src/shards/folder-store.js'
import { vaultPath, codeFor } from '../../src/vault/vault.js'
import { backendSuite } from './backend-suite.js'

async function * pieces (data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}
async function chunks (data: Uint8Array, piece = 65536): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const c of chunkStream(pieces(data, piece))) out.push(c)
  return out
}

describe('content-defined chunking', () => {
  it('reassembles to the input and keeps chunk sizes within bounds, whatever the read sizes', async () => {
    const data = new Uint8Array(randomBytes(9 * 1024 * 1024 + 77))
    for (const piece of [1000, 65536, 5 * 1024 * 1024]) {
      const c = await chunks(data, piece)
      expect(Buffer.concat(c).equals(Buffer.from(data))).toBe(true)
      for (const x of c.slice(0, -1)) {
        expect(x.length).toBeGreaterThanOrEqual(DEFAULT_CHUNKING.minSize)
        expect(x.length).toBeLessThanOrEqual(DEFAULT_CHUNKING.maxSize)
      }
    }
  })

  it('cuts at the same places however the stream is split', async () => {
    const data = new Uint8Array(randomBytes(6 * 1024 * 1024))
    const a = (await chunks(data, 4096)).map(c => c.length)
    const b = (await chunks(data, 1 << 20)).map(c => c.length)
    expect(a).toEqual(b)
  })

  it('keeps later chunks the same after an insertion near the start (dedupe across versions)', async () => {
    const data = new Uint8Array(randomBytes(8 * 1024 * 1024))
    const edited = Buffer.concat([data.subarray(0, 1000), Buffer.from('inserted'), data.subarray(1000)])
    const keys = new VaultKeys(new Uint8Array(32).fill(1))
    const ids = (c: Uint8Array[]): Set<string> => new Set(c.map(x => Buffer.from(keys.chunkId(x)).toString('hex')))
    const before = ids(await chunks(data))
    const after = ids(await chunks(new Uint8Array(edited)))
    const shared = [...after].filter(x => before.has(x)).length
    expect(shared).toBeGreaterThanOrEqual(before.size - 2)
  })

  it('cuts exactly where the format says (PROTOCOL.md §13): the same cuts as a plain reading of the rule', async () => {
    // The rule as written, with unsigned arithmetic and nothing tuned: the chunker must agree byte for byte.
    const gear = Array.from({ length: 256 }, (_, i) => createHash('sha256').update(`twin/v1/gear${i}`).digest().readUInt32BE(0))
    const reference = (data: Uint8Array, o: typeof DEFAULT_CHUNKING): number[] => {
      const bits = Math.round(Math.log2(o.avgSize))
      const cuts: number[] = []
      let start = 0
      while (start < data.length) {
        let h = 0
        let len = Math.min(o.maxSize, data.length - start)
        if (data.length - start > o.minSize) {
          for (let i = o.minSize; i < len; i++) {
            h = ((h << 1) + gear[data[start + i]!]!) >>> 0
            if ((h >>> (32 - (i < o.avgSize ? bits + 2 : bits - 2))) === 0) { len = i + 1; break }
          }
        }
        cuts.push(len)
        start += len
      }
      return cuts
    }
    const small = { minSize: 2048, avgSize: 8192, maxSize: 32768 }
    const big = new Uint8Array(randomBytes(12 * 1024 * 1024 + 5))
    expect((await chunks(big)).map(c => c.length)).toEqual(reference(big, DEFAULT_CHUNKING))
    // Many boundaries quickly: small parameters, and low-entropy data that reaches the maximum.
    for (const data of [new Uint8Array(randomBytes(600_000)), new Uint8Array(300_000).fill(7)]) {
      const got: number[] = []
      for await (const c of chunkStream(pieces(data, 4096), small)) got.push(c.length)
      expect(got).toEqual(reference(data, small))
    }
  })

  it('gives one empty-free stream for an empty input', async () => {
    expect(await chunks(new Uint8Array(0))).toEqual([])
  })
})

describe('shard Merkle trees', () => {
  it('proves every leaf and rejects a wrong leaf, index or size', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 9 * LEAF_SIZE }), size => {
      const data = new Uint8Array(randomBytes(size))
      const root = merkleRoot(data)
      const n = Math.max(1, Math.ceil(size / LEAF_SIZE))
      const i = size % n
      const leaf = data.subarray(i * LEAF_SIZE, Math.min(size, (i + 1) * LEAF_SIZE))
      const proof = merkleProof(data, i)
      expect(verifyMerkleProof(root, size, i, leaf, proof)).toBe(true)
      if (leaf.length > 0) {
        const bad = leaf.slice()
        bad[0] = bad[0]! ^ 1
        expect(verifyMerkleProof(root, size, i, bad, proof)).toBe(false)
      }
      if (n > 1) expect(verifyMerkleProof(root, size, (i + 1) % n, leaf, proof)).toBe(false)
    }), { numRuns: 60 })
  })
})

describe('vault crypto', () => {
  const keys = new VaultKeys(new Uint8Array(32).fill(7))
  it('names equal chunks alike and encrypts them alike (dedupe), different chunks differently', () => {
    const a = new Uint8Array(randomBytes(1000))
    const id = keys.chunkId(a)
    expect(keys.chunkId(a)).toEqual(id)
    expect(encryptChunk(keys.chunkKey(id), id, a)).toEqual(encryptChunk(keys.chunkKey(id), id, a))
    expect(decryptChunk(keys.chunkKey(id), id, encryptChunk(keys.chunkKey(id), id, a))).toEqual(a)
    const other = new VaultKeys(new Uint8Array(32).fill(8))
    expect(other.chunkId(a)).not.toEqual(id)
  })

  it('refuses a ciphertext with a flipped bit or under another chunk id', () => {
    const a = new Uint8Array(randomBytes(100))
    const id = keys.chunkId(a)
    const c = encryptChunk(keys.chunkKey(id), id, a)
    c[5] = c[5]! ^ 1
    expect(() => decryptChunk(keys.chunkKey(id), id, c)).toThrow(/altered/)
  })
})

describe('vault paths and codes', () => {
  it('accepts normal paths and refuses .., empty and control characters', () => {
    expect(vaultPath('photos/a.jpg')).toBe('/photos/a.jpg')
    expect(vaultPath('/photos/2026/a.jpg')).toBe('/photos/2026/a.jpg')
    for (const bad of ['', '  ', '/a/../b', '..', '/a//b', '/a/./b', 'a\nb', '/']) expect(() => vaultPath(bad)).toThrow()
  })

  it('uses 4 + 2 from six peers and a smaller code with fewer', () => {
    expect([6, 7, 5, 4, 3, 2, 1].map(n => codeFor(n))).toEqual([
      { k: 4, m: 2 }, { k: 4, m: 2 }, { k: 3, m: 2 }, { k: 2, m: 2 }, { k: 2, m: 1 }, { k: 1, m: 1 }, { k: 1, m: 0 }
    ])
    expect(() => codeFor(0)).toThrow(/no storage peer/)
  })
})

describe('durability estimate', () => {
  it('is higher with more parity and lower with less available peers', () => {
    const base = { peers: 6, repairIntervalHours: 0.25, oneMachine: false }
    const a = estimateDurability({ ...base, m: 2, unavailability: 0 }).nines
    const b = estimateDurability({ ...base, m: 1, unavailability: 0 }).nines
    const c = estimateDurability({ ...base, m: 2, unavailability: 0.5 }).nines
    const slow = estimateDurability({ ...base, m: 2, unavailability: 0, repairIntervalHours: 24 * 30 }).nines
    expect(a).toBeGreaterThan(b)
    expect(a).toBeGreaterThan(c)
    expect(a).toBeGreaterThan(slow)
    expect(a).toBeGreaterThan(6)
    expect(estimateDurability({ ...base, m: 2, unavailability: 0, oneMachine: true }).nines).toBeLessThan(2)
    expect(moreThanFail(1, 0, 0.1)).toBeCloseTo(0.1)
  })
})

backendSuite('local folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-folder-'))
  return { backend: new FolderShardStore('local:test', dir), teardown: async () => { rmSync(dir, { recursive: true, force: true }) } }
})
