import { describe, expect, it } from 'vitest'
import { BackendError, type ShardBackend } from '../../src/shards/index.js'
import { placeShards, SHARD_RETRIES } from '../../src/vault/placement.js'

/** A peer that keeps what it is given, failing the first `failures` puts as `reason`. */
function peer (id: string, failures: number, reason: 'unreachable' | 'over-quota' = 'unreachable'): ShardBackend & { held: Map<string, Uint8Array>, puts: number } {
  const held = new Map<string, Uint8Array>()
  const p = {
    id,
    held,
    puts: 0,
    put: async (addr: Uint8Array, data: Uint8Array) => {
      p.puts++
      if (p.puts <= failures) throw new BackendError(reason, `${id}: ${reason === 'unreachable' ? 'the connection closed' : 'full'}`)
      held.set(Buffer.from(addr).toString('hex'), data)
    },
    get: async () => undefined,
    delete: async () => {},
    audit: async () => undefined,
    list: async () => [],
    stat: async () => ({ used: 0, quota: null }),
    putRoot: async () => {},
    getRoot: async () => undefined
  }
  return p
}

const request = (peers: ShardBackend[]): Parameters<typeof placeShards>[0] => ({
  shards: [Uint8Array.of(1), Uint8Array.of(2)],
  addrs: [Uint8Array.of(0xa1), Uint8Array.of(0xa2)],
  peers,
  slot: 0,
  pending: () => {},
  retryWaitMs: 1
})

describe('placing a chunk\'s shards', () => {
  it('sends a shard again, on the same peer, when its connection broke and no other peer is free', async () => {
    const a = peer('a', 0)
    const b = peer('b', 2) // its link drops twice, then holds
    const placed = await placeShards(request([a, b]))
    expect(placed.ok).toBe(true)
    expect(b.puts).toBe(3)
    expect([...b.held.values()]).toEqual([Uint8Array.of(2)])
    expect([...a.held.values()]).toEqual([Uint8Array.of(1)])
  })

  it('gives up after its retries, naming the peer, and never puts two shards of a chunk on one peer', async () => {
    const a = peer('a', 0)
    const b = peer('b', Infinity)
    const placed = await placeShards(request([a, b]))
    expect(placed.ok).toBe(false)
    if (placed.ok) return
    expect(placed.error.message).toMatch(/no storage peer took shard 2 of 2 .*b: the connection closed/)
    expect(b.puts).toBe(1 + SHARD_RETRIES)
    expect(a.held.size).toBe(1)
  })

  it('does not retry a peer that refused the shard (full): that answer will not change', async () => {
    const a = peer('a', 0)
    const b = peer('b', 1, 'over-quota')
    const placed = await placeShards(request([a, b]))
    expect(placed.ok).toBe(false)
    expect(b.puts).toBe(1)
  })
})
