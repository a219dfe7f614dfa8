import { describe, expect, it, beforeAll, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { BackendError, type ShardBackend } from '../../src/shards/index.js'
import { LEAF_SIZE, merkleRoot, verifyMerkleProof } from '../../src/shards/merkle.js'

/**
 * The compliance suite every shard backend passes (local folder, storage node): run it with a
 * `setup` that returns a fresh, empty backend.
 */
export function backendSuite (name: string, setup: () => Promise<{ backend: ShardBackend, teardown: () => Promise<void> }>): void {
  describe(`shard backend compliance: ${name}`, () => {
    let backend: ShardBackend
    let teardown: () => Promise<void>
    beforeAll(async () => { ({ backend, teardown } = await setup()) })
    afterAll(async () => { await teardown() })
    const shard = (size: number): { data: Uint8Array, addr: Uint8Array } => {
      const data = new Uint8Array(randomBytes(size))
      return { data, addr: merkleRoot(data) }
    }

    it('stores a shard and gives back the same bytes', async () => {
      const s = shard(3 * LEAF_SIZE + 5)
      await backend.put(s.addr, s.data)
      expect(await backend.get(s.addr)).toEqual(s.data)
    })

    it('accepts the same shard twice and keeps one copy', async () => {
      const s = shard(1000)
      const before = (await backend.stat()).used
      await backend.put(s.addr, s.data)
      await backend.put(s.addr, s.data)
      expect((await backend.stat()).used - before).toBe(1000)
    })

    it('refuses a shard that does not match its address', async () => {
      const s = shard(2000)
      const other = shard(2000)
      await expect(backend.put(other.addr, s.data)).rejects.toBeInstanceOf(BackendError)
      expect(await backend.get(other.addr)).toBeUndefined()
    })

    it('answers undefined for a shard it does not have', async () => {
      expect(await backend.get(shard(10).addr)).toBeUndefined()
      expect(await backend.audit(shard(10).addr, 0)).toBeUndefined()
    })

    it('answers an audit of any leaf with a proof against the address', async () => {
      const s = shard(5 * LEAF_SIZE + 123)
      await backend.put(s.addr, s.data)
      for (const leaf of [0, 2, 5]) {
        const a = await backend.audit(s.addr, leaf)
        expect(a).toBeDefined()
        expect(verifyMerkleProof(s.addr, s.data.length, leaf, a!.leaf, a!.proof)).toBe(true)
        expect(verifyMerkleProof(s.addr, s.data.length, (leaf + 1) % 6, a!.leaf, a!.proof)).toBe(false)
      }
    })

    it('lists and deletes shards, and counts the bytes it holds', async () => {
      const s = shard(4096)
      const before = (await backend.stat()).used
      await backend.put(s.addr, s.data)
      expect((await backend.list()).some(a => Buffer.from(a).equals(Buffer.from(s.addr)))).toBe(true)
      expect((await backend.stat()).used).toBe(before + 4096)
      await backend.delete(s.addr)
      expect(await backend.get(s.addr)).toBeUndefined()
      expect((await backend.list()).some(a => Buffer.from(a).equals(Buffer.from(s.addr)))).toBe(false)
      expect((await backend.stat()).used).toBe(before)
    })

    it('stores an empty shard', async () => {
      const s = shard(0)
      await backend.put(s.addr, s.data)
      expect(await backend.get(s.addr)).toEqual(new Uint8Array(0))
    })
  })
}
