import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { peerKeyFromSeed } from '../../src/net/node.js'
import { AdmissionStore } from '../../src/storage/admission.js'
import { formatInvite, inviteSecret, parseInvite, INVITE_PREFIX } from '../../src/storage/invite.js'
import { parseDuration, parseSize } from '../../src/storage/units.js'
import { VaultKeys } from '../../src/vault/crypto.js'
import { openLocator, sealLocator } from '../../src/vault/locator.js'
import { fromBase64url, toBase64url, decodeCbor, encodeCbor } from '../../src/wire/index.js'

const dir = mkdtempSync(join(tmpdir(), 'twin-admission-unit-'))
const opened: AdmissionStore[] = []
afterAll(() => {
  for (const s of opened) s.close()
  rmSync(dir, { recursive: true, force: true })
})
let homes = 0
const freshStore = (): AdmissionStore => {
  const home = join(dir, String(homes++))
  mkdirSync(home)
  const store = AdmissionStore.open(home, { create: true })
  opened.push(store)
  return store
}
const alice = 'bciqfeywnmq54s4rs5xpohucmhkwfcdtnt2wntwyfrtpmzls5zmfryby'
const bob = 'bciqbed3k6ya5i3qqwljochwxdrk5exzqilbckapedujenz5b5hj5r3a'

async function nodeKey (): Promise<{ seed: Uint8Array, peer: string }> {
  const seed = new Uint8Array(randomBytes(32))
  return { seed, peer: peerIdFromPrivateKey(await peerKeyFromSeed(seed)).toString() }
}

describe('storage-node invites', () => {
  it('round-trip, signed by the key inside the node\'s peer id', async () => {
    const { seed, peer } = await nodeKey()
    const secret = inviteSecret()
    const token = formatInvite({ peer, addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${peer}`], quota: 1024, expires: 123, secret }, seed)
    expect(token.startsWith(INVITE_PREFIX)).toBe(true)
    expect(parseInvite(token)).toEqual({ peer, addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${peer}`], quota: 1024, expires: 123, secret })
  })

  it('are refused when altered, signed by another key, or cut short', async () => {
    const { seed, peer } = await nodeKey()
    const other = await nodeKey()
    const good = formatInvite({ peer, addrs: [], quota: null, expires: 1, secret: inviteSecret() }, seed)
    const value = decodeCbor(fromBase64url(good.slice(INVITE_PREFIX.length), 'invite'), 'invite') as { inv: Record<string, unknown>, sig: Uint8Array }
    const altered = INVITE_PREFIX + toBase64url(encodeCbor({ inv: { ...value.inv, addrs: ['/ip4/6.6.6.6/tcp/1'] }, sig: value.sig }))
    expect(() => parseInvite(altered)).toThrow(/signature/)
    // Another node's key cannot make an invite in this node's name.
    expect(() => parseInvite(formatInvite({ peer, addrs: [], quota: null, expires: 1, secret: inviteSecret() }, other.seed))).toThrow(/signature/)
    expect(() => parseInvite(good.slice(0, -10))).toThrow(/damaged or truncated/)
    expect(() => parseInvite('/ip4/127.0.0.1/tcp/1')).toThrow(/starts with twinnode1/)
  })
})

describe('sizes and durations', () => {
  it('reads sizes and durations people write, and refuses others', () => {
    expect(parseSize('1MiB')).toBe(1048576)
    expect(parseSize('10GiB')).toBe(10 * 1024 ** 3)
    expect(parseSize('2000')).toBe(2000)
    expect(parseDuration('7d')).toBe(7 * 86_400_000)
    expect(parseDuration('30m')).toBe(1_800_000)
    for (const bad of ['', 'ten', '5 parsecs', '-1MiB']) expect(() => parseSize(bad)).toThrow(/not a size/)
    for (const bad of ['', '0s', '3w', '400d', '1.5h']) expect(() => parseDuration(bad)).toThrow(/not a duration/)
  })
})

describe('admission store', () => {
  it('refuses an unknown twin, admits an allowed one, and refuses it again once denied', () => {
    const s = freshStore()
    expect(s.hello(alice, undefined, false)).toEqual({ ok: false, why: 'not-admitted' })
    s.allow(alice, undefined)
    expect(s.hello(alice, undefined, false)).toEqual({ ok: true })
    s.deny(alice)
    expect(s.hello(alice, undefined, false)).toEqual({ ok: false, why: 'denied' })
    expect(s.admitted(alice)).toBe(false)
    // A denied twin stays refused on an open node too.
    expect(s.hello(alice, undefined, true)).toEqual({ ok: false, why: 'denied' })
    expect(s.hello(bob, undefined, true)).toEqual({ ok: true })
    expect(s.client(bob)?.how).toBe('open')
  })

  it('admits the first twin that shows an invite\'s secret, once, before its expiry', () => {
    const s = freshStore()
    const secret = inviteSecret()
    s.addInvite(secret, 5000, 2_000, 1_000)
    expect(s.hello(alice, secret, false, 1_500)).toEqual({ ok: true })
    expect(s.client(alice)).toMatchObject({ state: 'admitted', how: 'invite', quota: 5000 })
    expect(s.hello(bob, secret, false, 1_500)).toEqual({ ok: false, why: 'invite-used' })
    const late = inviteSecret()
    s.addInvite(late, null, 2_000, 1_000)
    expect(s.hello(bob, late, false, 2_000)).toEqual({ ok: false, why: 'invite-expired' })
    expect(s.hello(bob, inviteSecret(), false, 1_500)).toEqual({ ok: false, why: 'invite-unknown' })
  })

  it('never reserves past a twin\'s quota, and gives back what it releases', () => {
    const s = freshStore()
    s.allow(alice, 1000)
    const results = Array.from({ length: 10 }, () => s.reserve(alice, 300, 10_000).ok)
    expect(results.filter(Boolean)).toHaveLength(3)
    expect(s.client(alice)?.used).toBe(900)
    expect(s.reserve(alice, 300, 10_000)).toEqual({ ok: false, why: 'over-quota', used: 900, quota: 1000 })
    s.release(alice, 600)
    expect(s.reserve(alice, 400, 10_000).ok).toBe(true)
    // Without a quota of its own, the node's default applies; unknown and denied twins get nothing.
    s.allow(bob, undefined)
    expect(s.reserve(bob, 2000, 1500).ok).toBe(false)
    expect(s.reserve(bob, 1000, 1500).ok).toBe(true)
    s.deny(bob)
    expect(s.reserve(bob, 1, 1500)).toMatchObject({ ok: false, why: 'denied' })
    expect(s.reserve('bnobody', 1, 1500)).toMatchObject({ ok: false, why: 'not-admitted' })
  })
})

describe('storage-node locator', () => {
  it('opens only with the vault key and for the twin it was sealed for', () => {
    const keys = new VaultKeys(new Uint8Array(32).fill(9))
    const nodes = [{ peer: '12D3KooWA', addrs: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWA'] }]
    const sealed = sealLocator(keys, alice, nodes)
    expect(openLocator(keys, alice, sealed)).toEqual(nodes)
    expect(Buffer.from(sealed).includes('12D3KooWA')).toBe(false)
    expect(() => openLocator(keys, bob, sealed)).toThrow(/does not open/)
    expect(() => openLocator(new VaultKeys(new Uint8Array(32).fill(8)), alice, sealed)).toThrow(/does not open/)
  })
})
