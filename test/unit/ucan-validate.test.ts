import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createIdentity, generatePhrase, rotateIdentity, verifyKel, type NewIdentity, type SignedKeyEvent } from '../../src/identity/index.js'
import {
  MemoryReplayGuard, UcanCache, UcanError, PolicyError, checkNarrowing, evaluatePolicy, parsePolicy, isNormalizedPath, createDelegation, createInvocation, keySigner, pathPolicy,
  twinKeysFromKel, twinSigner, validateInvocation, type Delegation, type Signer, type TwinResolver, type ValidationOptions
} from '../../src/trust/ucan/index.js'

// Alice owns a vault; Bob holds a grant to /photos; Carol gets a narrower one from Bob. All
// three are twins (did:twin), checked through a resolver that stands in for the network.

const NOW = 1_800_000_000
const HOUR = 3600

class Twin {
  readonly phrase = generatePhrase()
  identity: NewIdentity = createIdentity(this.phrase)
  get id (): string { return this.identity.state.id }
  get did (): string { return `did:twin:${this.id}` }
  get signer (): Signer { return twinSigner(this.id, this.identity.current.signing) }
  rotate (): Signer {
    const old = this.signer
    this.identity = rotateIdentity(this.phrase, this.identity.events)
    return old
  }
}

const alice = new Twin()
const bob = new Twin()
const carol = new Twin()
const storageNode = keySigner(new Uint8Array(randomBytes(32)))

/** A resolver over known key event logs; `known` may lag behind `published` until a refresh. */
class FakeResolver implements TwinResolver {
  readonly published = new Map<string, SignedKeyEvent[]>()
  readonly known = new Map<string, SignedKeyEvent[]>()
  calls: Array<{ id: string, refresh: boolean }> = []
  failing = false

  publish (...twins: Twin[]): this {
    for (const t of twins) { this.published.set(t.id, t.identity.events); this.known.set(t.id, t.identity.events) }
    return this
  }

  async resolve (id: string, options: { refresh?: boolean }) {
    this.calls.push({ id, refresh: options.refresh === true })
    if (this.failing) throw new Error('network down')
    if (options.refresh === true && this.published.has(id)) this.known.set(id, this.published.get(id) as SignedKeyEvent[])
    const events = this.known.get(id)
    return events === undefined ? undefined : twinKeysFromKel(verifyKel(events, id))
  }
}

function grantPhotos (issuer: Signer = alice.signer, options: { expiration?: number | null, command?: string } = {}): Delegation {
  return createDelegation({
    issuer, audience: bob.did, subject: alice.did, command: options.command ?? '/vault/read',
    policy: pathPolicy('/photos'), expiration: options.expiration === undefined ? NOW + 24 * HOUR : options.expiration
  })
}

function bobToCarol (options: { path?: string, expiration?: number | null, command?: string, subject?: string | null } = {}): Delegation {
  return createDelegation({
    issuer: bob.signer, audience: carol.did, subject: options.subject === undefined ? alice.did : options.subject,
    command: options.command ?? '/vault/read', policy: pathPolicy(options.path ?? '/photos/2026'),
    expiration: options.expiration === undefined ? NOW + HOUR : options.expiration
  })
}

function carolReads (path: string, proofs: Delegation[], options: { signer?: Signer, command?: string, audience?: string } = {}) {
  return createInvocation({
    issuer: options.signer ?? carol.signer, subject: alice.did, audience: options.audience ?? storageNode.did,
    command: options.command ?? '/vault/read', args: { path }, proofs, expiration: NOW + 300
  })
}

function validate (inv: { bytes: Uint8Array }, proofs: Delegation[], extra: Partial<ValidationOptions> = {}) {
  return validateInvocation(inv.bytes, {
    proofs: proofs.map(p => p.bytes), now: NOW, executor: storageNode.did, resolver: new FakeResolver().publish(alice, bob, carol), ...extra
  })
}

describe('a did:twin chain alice -> bob -> carol', () => {
  it('lets carol read inside the path bob passed on, and says what was authorized', async () => {
    const chain = [grantPhotos(), bobToCarol()]
    const result = await validate(carolReads('/photos/2026/a.jpg', chain), chain)
    if (!result.ok) throw new Error(result.message)
    expect(result).toMatchObject({ issuer: carol.did, subject: alice.did, command: '/vault/read', args: { path: '/photos/2026/a.jpg' }, validUntil: NOW + 300 })
    expect(result.chain.map(d => d.id)).toEqual(chain.map(d => d.id))
  })

  it('refuses carol outside her sub-path, naming the delegation and the failed statement', async () => {
    const chain = [grantPhotos(), bobToCarol()]
    const result = await validate(carolReads('/photos/2025/b.jpg', chain), chain)
    expect(result).toMatchObject({ ok: false, reason: 'policy_violation', token: { kind: 'delegation', index: 1, cid: chain[1]?.id } })
    if (!result.ok) expect(result.message).toMatch(/: \.path is not equal to "\/photos\/2026", and \.path does not match "\/photos\/2026\/\*" \(statement \["or",/)
  })

  it('refuses a did:twin issuer when the verifier cannot look twins up, or the twin is unknown, or the network fails', async () => {
    const chain = [grantPhotos(), bobToCarol()]
    const inv = carolReads('/photos/2026/a.jpg', chain)
    expect(await validate(inv, chain, { resolver: undefined })).toMatchObject({ ok: false, reason: 'unresolvable_issuer' })
    expect(await validate(inv, chain, { resolver: new FakeResolver().publish(alice, bob) })).toMatchObject({ ok: false, reason: 'unresolvable_issuer', token: { kind: 'invocation' } })
    const down = new FakeResolver().publish(alice, bob, carol)
    down.failing = true
    const result = await validate(inv, chain, { resolver: down })
    expect(result).toMatchObject({ ok: false, reason: 'unresolvable_issuer' })
    if (!result.ok) expect(result.message).toMatch(/cannot be looked up right now/)
  })
})

describe('key rotation', () => {
  it('retires the grants a twin signed before rotating: they are refused as rotated_key until re-issued', async () => {
    const owner = new Twin()
    const root = createDelegation({ issuer: owner.signer, audience: bob.did, subject: owner.did, command: '/vault/read', policy: [], expiration: null })
    const inv = createInvocation({ issuer: bob.signer, subject: owner.did, command: '/vault/read', args: { path: '/a' }, proofs: [root], expiration: NOW + 60 })
    const cache = new UcanCache()
    const before = await validateInvocation(inv.bytes, { proofs: [root.bytes], now: NOW, resolver: new FakeResolver().publish(owner, bob), cache })
    expect(before.ok).toBe(true)

    owner.rotate()
    // Even with the signature cached from before, the old key no longer counts.
    const after = await validateInvocation(inv.bytes, { proofs: [root.bytes], now: NOW, resolver: new FakeResolver().publish(owner, bob), cache })
    expect(after).toMatchObject({ ok: false, reason: 'rotated_key', token: { kind: 'delegation', index: 0 } })
    if (!after.ok) expect(after.message).toMatch(/key sequence 0, which that twin has since rotated \(it is now at sequence 1\); it must be issued again/)

    const reissued = createDelegation({ issuer: owner.signer, audience: bob.did, subject: owner.did, command: '/vault/read', policy: [], expiration: null })
    const again = createInvocation({ issuer: bob.signer, subject: owner.did, command: '/vault/read', args: { path: '/a' }, proofs: [reissued], expiration: NOW + 60 })
    expect((await validateInvocation(again.bytes, { proofs: [reissued.bytes], now: NOW, resolver: new FakeResolver().publish(owner, bob), cache })).ok).toBe(true)
  })

  it('keeps grants to a twin valid across its rotation; only its own signatures must use the new key', async () => {
    const grantee = new Twin()
    const root = createDelegation({ issuer: alice.signer, audience: grantee.did, subject: alice.did, command: '/msg/send', policy: [], expiration: null })
    const oldSigner = grantee.rotate()
    const resolver = new FakeResolver().publish(alice, grantee)
    const fresh = createInvocation({ issuer: grantee.signer, subject: alice.did, command: '/msg/send', args: {}, proofs: [root], expiration: NOW + 60 })
    expect((await validateInvocation(fresh.bytes, { proofs: [root.bytes], now: NOW, resolver })).ok).toBe(true)
    const stale = createInvocation({ issuer: oldSigner, subject: alice.did, command: '/msg/send', args: {}, proofs: [root], expiration: NOW + 60 })
    expect(await validateInvocation(stale.bytes, { proofs: [root.bytes], now: NOW, resolver })).toMatchObject({ ok: false, reason: 'rotated_key', token: { kind: 'invocation' } })
  })

  it('asks the resolver again once when a verifier only knows an older key of the issuer', async () => {
    const owner = new Twin()
    const resolver = new FakeResolver().publish(owner, bob)
    owner.rotate()
    resolver.published.set(owner.id, owner.identity.events) // the network has the rotation; the verifier's cache does not
    const root = createDelegation({ issuer: owner.signer, audience: bob.did, subject: owner.did, command: '/vault', policy: [], expiration: null })
    const inv = createInvocation({ issuer: bob.signer, subject: owner.did, command: '/vault/read', args: {}, proofs: [root], expiration: NOW + 60 })
    const result = await validateInvocation(inv.bytes, { proofs: [root.bytes], now: NOW, resolver })
    expect(result.ok).toBe(true)
    expect(resolver.calls.filter(c => c.id === owner.id)).toEqual([{ id: owner.id, refresh: false }, { id: owner.id, refresh: true }])
  })
})

describe('narrowing', () => {
  const parent = grantPhotos()

  it('accepts a delegation that restates or narrows its proof', () => {
    expect(checkNarrowing(bobToCarol(), parent)).toEqual({ ok: true })
    expect(checkNarrowing(bobToCarol({ path: '/photos' }), parent)).toEqual({ ok: true })
    expect(checkNarrowing(bobToCarol({ path: '/photos/2026/a.jpg', command: '/vault/read/meta' }), parent)).toEqual({ ok: true })
  })

  it('refuses a wider path, command, expiry or subject, each with its own reason', () => {
    expect(checkNarrowing(bobToCarol({ path: '/' }), parent)).toMatchObject({ ok: false, reason: 'path_widened' })
    expect(checkNarrowing(bobToCarol({ path: '/photos2' }), parent)).toMatchObject({ ok: false, reason: 'path_widened' })
    expect(checkNarrowing(bobToCarol({ command: '/vault' }), parent)).toMatchObject({ ok: false, reason: 'command_widened' })
    expect(checkNarrowing(bobToCarol({ command: '/vault/write' }), parent)).toMatchObject({ ok: false, reason: 'command_widened' })
    expect(checkNarrowing(bobToCarol({ expiration: NOW + 48 * HOUR }), parent)).toMatchObject({ ok: false, reason: 'expiry_widened' })
    expect(checkNarrowing(bobToCarol({ expiration: null }), parent)).toMatchObject({ ok: false, reason: 'expiry_widened' })
    expect(checkNarrowing(bobToCarol({ subject: null }), parent)).toMatchObject({ ok: false, reason: 'subject_widened' })
    expect(checkNarrowing(bobToCarol({ subject: bob.did }), parent)).toMatchObject({ ok: false, reason: 'subject_mismatch' })
    const result = checkNarrowing(bobToCarol({ path: '/private' }), parent)
    if (!result.ok) expect(result.message).toBe('The delegation\'s paths "/private" or like "/private/*" reach outside its proof\'s "/photos" or like "/photos/*".')
  })

  it('writes path grants that cover the path and everything below it, escaping the pattern', () => {
    expect(pathPolicy('/')).toEqual([['like', '.path', '/*']])
    expect(pathPolicy('/a*b')).toEqual([['or', [['==', '.path', '/a*b'], ['like', '.path', '/a\\*b/*']]]])
    const star = parsePolicy(pathPolicy('/a*b'))
    expect(evaluatePolicy(star, { path: '/a*b/c' }).ok).toBe(true)
    expect(evaluatePolicy(star, { path: '/axb/c' }).ok).toBe(false)
    for (const good of ['/', '/a', '/photos/2026/a.jpg']) expect(isNormalizedPath(good), good).toBe(true)
    for (const bad of ['', 'a', '/a/', '//a', '/a/./b', '/a/../b', '/a\\b', '/a\u0000', 7]) expect(isNormalizedPath(bad), String(bad)).toBe(false)
  })

  it('refuses to pass on a grant that was not given to the delegator', () => {
    const fromCarol = createDelegation({ issuer: carol.signer, audience: bob.did, subject: alice.did, command: '/vault/read', policy: pathPolicy('/photos'), expiration: NOW })
    expect(checkNarrowing(fromCarol, parent)).toMatchObject({ ok: false, reason: 'broken_chain' })
  })

  it('refuses, at validation, a chain that widens the expiry, even while every token is still valid', async () => {
    const chain = [grantPhotos(), bobToCarol({ expiration: NOW + 48 * HOUR })]
    const inv = carolReads('/photos/2026/a.jpg', chain)
    const strict = await validate(inv, chain)
    expect(strict).toMatchObject({ ok: false, reason: 'expiry_widened', token: { index: 1 } })
    if (!strict.ok) expect(strict.message).toMatch(/^Delegation 1 \(bafy[a-z2-7]+\) is valid until .*, past its proof's expiry at/)
    // The spec alone lets the wider part lapse unused; Twin's default is stricter.
    expect((await validate(inv, chain, { attenuation: 'spec' })).ok).toBe(true)
  })

  it('refuses a chain whose second delegation widens the command, even for a command both cover', async () => {
    const chain = [grantPhotos(), bobToCarol({ command: '/vault' })]
    expect(await validate(carolReads('/photos/2026/a.jpg', chain), chain)).toMatchObject({ ok: false, reason: 'command_widened' })
  })
})

describe('forged, spliced and reordered chains', () => {
  it('refuses a delegation that claims alice as issuer but is signed by someone else', async () => {
    const mallory = keySigner(new Uint8Array(randomBytes(32)))
    const forged = grantPhotos({ did: alice.did, sign: mallory.sign })
    const chain = [forged, bobToCarol()]
    expect(await validate(carolReads('/photos/2026/a.jpg', chain), chain)).toMatchObject({ ok: false, reason: 'invalid_signature', token: { index: 0 } })
  })

  it('refuses a stranger presenting a valid grant issued to someone else', async () => {
    const chain = [grantPhotos()]
    expect(await validate(carolReads('/photos/a.jpg', chain), chain)).toMatchObject({ ok: false, reason: 'broken_chain', token: { kind: 'invocation' } })
  })

  it('refuses the same chain given in the wrong order', async () => {
    const chain = [grantPhotos(), bobToCarol()]
    const reordered = [chain[1] as Delegation, chain[0] as Delegation]
    const result = await validate(carolReads('/photos/2026/a.jpg', reordered), reordered)
    expect(result).toMatchObject({ ok: false, reason: 'root_not_subject', token: { index: 0 } })
  })

  it('refuses an invocation without proofs by someone other than the subject, and accepts the subject itself', async () => {
    const alone = createInvocation({ issuer: carol.signer, subject: alice.did, command: '/vault/read', args: {}, proofs: [], expiration: NOW + 60 })
    expect(await validate(alone, [], { executor: alice.did })).toMatchObject({ ok: false, reason: 'no_authority' })
    const own = createInvocation({ issuer: alice.signer, subject: alice.did, command: '/vault/read', args: {}, proofs: [], expiration: NOW + 60 })
    expect((await validate(own, [], { executor: alice.did })).ok).toBe(true)
  })

  it('refuses a proof whose bytes do not match the CID the invocation names (a lookup that lies)', async () => {
    const chain = [grantPhotos(), bobToCarol()]
    const inv = carolReads('/photos/2026/a.jpg', chain)
    const other = bobToCarol({ path: '/photos' })
    const result = await validate(inv, chain, { proofs: cid => cid === chain[1]?.id ? other.bytes : chain[0]?.bytes })
    expect(result).toMatchObject({ ok: false, reason: 'missing_proof', token: { index: 1 } })
  })
})

describe('audience, command, time, revocation and replay', () => {
  const chain = [grantPhotos(), bobToCarol()]

  it('refuses an invocation addressed to another executor, and reads the subject as the audience when none is given', async () => {
    const inv = carolReads('/photos/2026/a.jpg', chain)
    const result = await validate(inv, chain, { executor: 'did:key:z6MkmT9j6fVZqzXV8u2wVVSu49gYSRYGSQnduWXF6foAJrqz' })
    expect(result).toMatchObject({ ok: false, reason: 'wrong_executor' })
    const toSubject = createInvocation({ issuer: carol.signer, subject: alice.did, command: '/vault/read', args: { path: '/photos/2026' }, proofs: chain, expiration: NOW + 60 })
    expect((await validate(toSubject, chain, { executor: [storageNode.did, alice.did] })).ok).toBe(true)
  })

  it('lets /vault/read prove /vault/read/meta but never /vault/write or /vault/reader', async () => {
    const broad = [grantPhotos(alice.signer, { command: '/vault' }), bobToCarol({ command: '/vault/read' })]
    expect((await validate(carolReads('/photos/2026/a', broad, { command: '/vault/read/meta' }), broad)).ok).toBe(true)
    for (const command of ['/vault/write', '/vault/reader']) {
      expect(await validate(carolReads('/photos/2026/a', broad, { command }), broad)).toMatchObject({ ok: false, reason: 'command_not_covered', token: { index: 1 } })
    }
  })

  it('refuses before nbf and after exp, within the clock skew allowed', async () => {
    const later = createDelegation({ issuer: alice.signer, audience: carol.did, subject: alice.did, command: '/vault/read', expiration: NOW + HOUR, notBefore: NOW + 30 })
    const inv = createInvocation({ issuer: carol.signer, subject: alice.did, command: '/vault/read', args: {}, proofs: [later], expiration: NOW + 2 * HOUR })
    const run = (now: number, clockSkew = 0) => validate(inv, [later], { executor: alice.did, now, clockSkew })
    expect(await run(NOW)).toMatchObject({ ok: false, reason: 'not_yet_valid', token: { kind: 'delegation', index: 0 } })
    expect((await run(NOW, 60)).ok).toBe(true)
    expect((await run(NOW + HOUR)).ok).toBe(true)
    expect(await run(NOW + HOUR + 1)).toMatchObject({ ok: false, reason: 'expired', token: { kind: 'delegation', index: 0 } })
    expect((await run(NOW + HOUR + 1, 60)).ok).toBe(true)
    expect(await run(NOW + 2 * HOUR + 61, 60)).toMatchObject({ ok: false, reason: 'expired', token: { kind: 'invocation' } })
  })

  it('refuses a revoked delegation, from a set or a callback', async () => {
    const inv = carolReads('/photos/2026/a.jpg', chain)
    const result = await validate(inv, chain, { revoked: new Set([chain[0]?.id as string]) })
    expect(result).toMatchObject({ ok: false, reason: 'revoked', token: { index: 0 } })
    if (!result.ok) expect(result.message).toBe(`Delegation 0 (${chain[0]?.id as string}) has been revoked.`)
    expect(await validate(inv, chain, { revoked: async cid => cid === chain[1]?.id })).toMatchObject({ ok: false, reason: 'revoked', token: { index: 1 } })
  })

  it('accepts an invocation once: the same bytes again are a replay, a new nonce is not', async () => {
    const replay = new MemoryReplayGuard()
    const inv = carolReads('/photos/2026/a.jpg', chain)
    expect((await validate(inv, chain, { replay })).ok).toBe(true)
    expect(await validate(inv, chain, { replay })).toMatchObject({ ok: false, reason: 'replayed', token: { kind: 'invocation', cid: inv.id } })
    expect((await validate(carolReads('/photos/2026/a.jpg', chain), chain, { replay })).ok).toBe(true)
  })

  it('refuses, when the executor sets a limit, invocations that live too long for its replay memory', async () => {
    const forever = createInvocation({ issuer: carol.signer, subject: alice.did, audience: storageNode.did, command: '/vault/read', args: { path: '/photos/2026/a' }, proofs: chain, expiration: null })
    expect(await validate(forever, chain, { maxInvocationLifetime: 600 })).toMatchObject({ ok: false, reason: 'lifetime_too_long' })
    expect((await validate(forever, chain)).ok).toBe(true)
    expect((await validate(carolReads('/photos/2026/a', chain), chain, { maxInvocationLifetime: 600 })).ok).toBe(true)
    expect(await validate(carolReads('/photos/2026/a', chain), chain, { maxInvocationLifetime: 60 })).toMatchObject({ reason: 'lifetime_too_long' })
  })

  it('does not spend an invocation that was refused for another reason', async () => {
    const replay = new MemoryReplayGuard()
    const outside = carolReads('/private/x', chain)
    expect(await validate(outside, chain, { replay })).toMatchObject({ reason: 'policy_violation' })
    expect(await validate(outside, chain, { replay })).toMatchObject({ reason: 'policy_violation' })
  })
})

describe('building tokens', () => {
  it('throws a UcanError or PolicyError for bad arguments, before signing anything', () => {
    const base = { issuer: alice.signer, audience: bob.did, subject: alice.did, expiration: null }
    expect(() => createDelegation({ ...base, command: 'vault/read' })).toThrow(UcanError)
    expect(() => createDelegation({ ...base, command: '/Vault' })).toThrow(/lower case/)
    expect(() => createDelegation({ ...base, command: '/vault/' })).toThrow(/trailing/)
    expect(() => createDelegation({ ...base, audience: 'bob', command: '/vault' })).toThrow(/not a DID/)
    expect(() => createDelegation({ ...base, audience: `did:twin:${bob.id.toUpperCase()}`, command: '/vault' })).toThrow(/canonical/)
    expect(() => createDelegation({ ...base, command: '/vault', policy: [['match', '.a', 1]] })).toThrow(PolicyError)
    expect(() => createDelegation({ ...base, command: '/vault', policy: [['==', '.a', undefined]] })).toThrow(/statement 0/)
    expect(() => createDelegation({ ...base, command: '/vault', meta: { x: undefined } })).toThrow(/cannot be encoded/)
    expect(() => pathPolicy('/photos/../private')).toThrow(/normalized/)
  })

  it('round-trips every optional field of a delegation and an invocation', () => {
    const d = createDelegation({
      issuer: alice.signer, audience: bob.did, subject: null, command: '/', policy: [], expiration: NOW, notBefore: NOW - 5, meta: { note: 'x' }, nonce: new Uint8Array(12)
    })
    expect(d.payload).toEqual({ iss: alice.did, aud: bob.did, sub: null, cmd: '/', pol: [], nonce: new Uint8Array(12), meta: { note: 'x' }, nbf: NOW - 5, exp: NOW })
    const inv = createInvocation({
      issuer: bob.signer, subject: alice.did, audience: storageNode.did, command: '/msg/send', args: { n: 1.5, big: 2n ** 60n }, proofs: [d],
      expiration: null, issuedAt: NOW, meta: { trace: 't' }, cause: d.cid
    })
    expect(inv.payload).toMatchObject({ aud: storageNode.did, args: { n: 1.5, big: 2n ** 60n }, exp: null, iat: NOW, meta: { trace: 't' } })
    expect(inv.payload.cause?.equals(d.cid)).toBe(true)
    expect(inv.payload.prf[0]?.equals(d.cid)).toBe(true)
  })
})
