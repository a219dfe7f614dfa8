import { randomBytes } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'

// Count Ed25519 verifications: the cache's whole point is to skip them.
const counter = vi.hoisted(() => ({ verifications: 0 }))
vi.mock('../../src/identity/keys.js', async importOriginal => {
  const original = await importOriginal<typeof import('../../src/identity/keys.js')>()
  return {
    ...original,
    ed25519Verify: (...args: Parameters<typeof original.ed25519Verify>) => { counter.verifications++; return original.ed25519Verify(...args) }
  }
})

const { UcanCache, createDelegation, createInvocation, keySigner, validateInvocation } = await import('../../src/trust/ucan/index.js')

const NOW = 1_800_000_000
const principal = () => keySigner(new Uint8Array(randomBytes(32)))
const [a, b, c, d] = [principal(), principal(), principal(), principal()]

function threeDelegations () {
  const root = createDelegation({ issuer: a, audience: b.did, subject: a.did, command: '/vault', policy: [['like', '.path', '/photos/*']], expiration: NOW + 3600 })
  const middle = createDelegation({ issuer: b, audience: c.did, subject: a.did, command: '/vault/read', policy: [], expiration: NOW + 1800 })
  const last = createDelegation({ issuer: c, audience: d.did, subject: a.did, command: '/vault/read', policy: [['like', '.path', '/photos/2026/*']], expiration: NOW + 600 })
  return [root, middle, last]
}

const invoke = (chain: ReturnType<typeof threeDelegations>) =>
  createInvocation({ issuer: d, subject: a.did, command: '/vault/read', args: { path: '/photos/2026/a.jpg' }, proofs: chain, expiration: NOW + 60 })

describe('the verification cache', () => {
  it('checks a chain of three delegations with four Ed25519 verifications cold and one warm', async () => {
    const chain = threeDelegations()
    const cache = new UcanCache()
    const proofs = chain.map(x => x.bytes)

    counter.verifications = 0
    expect((await validateInvocation(invoke(chain).bytes, { proofs, now: NOW, cache })).ok).toBe(true)
    expect(counter.verifications).toBe(4)

    counter.verifications = 0
    expect((await validateInvocation(invoke(chain).bytes, { proofs, now: NOW, cache })).ok).toBe(true)
    expect(counter.verifications).toBe(1)
    expect(cache.size).toBe(3)
  })

  it('still checks time, revocation and policy on every use: only decoding and signatures are memoized', async () => {
    const chain = threeDelegations()
    const cache = new UcanCache()
    const proofs = chain.map(x => x.bytes)
    expect((await validateInvocation(invoke(chain).bytes, { proofs, now: NOW, cache })).ok).toBe(true)
    expect(await validateInvocation(invoke(chain).bytes, { proofs, now: NOW + 601, cache })).toMatchObject({ ok: false, reason: 'expired' })
    expect(await validateInvocation(invoke(chain).bytes, { proofs, now: NOW, cache, revoked: new Set([chain[1]?.id as string]) })).toMatchObject({ ok: false, reason: 'revoked' })
    const outside = createInvocation({ issuer: d, subject: a.did, command: '/vault/read', args: { path: '/photos/2025/x' }, proofs: chain, expiration: NOW + 60 })
    expect(await validateInvocation(outside.bytes, { proofs, now: NOW, cache })).toMatchObject({ ok: false, reason: 'policy_violation' })
  })

  it('never memoizes a signature that failed', async () => {
    const chain = threeDelegations()
    const forged = createDelegation({ issuer: { did: b.did, sign: c.sign }, audience: c.did, subject: a.did, command: '/vault/read', policy: [], expiration: NOW + 1800 })
    const bad = [chain[0], forged, chain[2]] as ReturnType<typeof threeDelegations>
    const cache = new UcanCache()
    for (let i = 0; i < 2; i++) {
      expect(await validateInvocation(invoke(bad).bytes, { proofs: bad.map(x => x.bytes), now: NOW, cache })).toMatchObject({ ok: false, reason: 'invalid_signature', token: { index: 1 } })
    }
  })

  it('stays within its bounds, dropping the least recently used', async () => {
    const chain = threeDelegations()
    const cache = new UcanCache({ maxEntries: 2 })
    for (const x of chain) cache.delegation(x.bytes)
    expect(cache.size).toBe(2)
    const small = new UcanCache({ maxBytes: (chain[0]?.bytes.length ?? 0) + 1 })
    for (const x of chain) small.delegation(x.bytes)
    expect(small.size).toBe(1)
    expect(() => new UcanCache({ maxEntries: 0 })).toThrow(RangeError)
  })
})
