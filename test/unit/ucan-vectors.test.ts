import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createIdentity, rotateIdentity, verifyKel } from '../../src/identity/index.js'
import { sha256, toBase64url, utf8 } from '../../src/wire/index.js'
import {
  createDelegation, createInvocation, keySigner, pathPolicy, twinKeysFromKel, twinSigner, validateInvocation
} from '../../src/trust/ucan/index.js'

// Known-answer vectors for Twin's capabilities (docs/PROTOCOL.md §17), so that another
// implementation can check itself against Twin: a did:twin root grant, a did:key
// re-delegation and an invocation, all deterministic (Ed25519 signatures are). The twin is the
// one of the identity vectors (phrase "abandon x23 art", rotated once: key sequence 1).
// Regenerated only on a deliberate format change: UPDATE_VECTORS=1.

const PATH = new URL('../vectors/twin-ucan.json', import.meta.url)
const PHRASE = `${'abandon '.repeat(23)}art`
const NOW = 1_799_899_800

function build () {
  const twin = rotateIdentity(PHRASE, createIdentity(PHRASE).events)
  const owner = twinSigner(twin.state.id, twin.current.signing)
  const bob = keySigner(sha256(utf8('twin/ucan-vector/bob')))
  const carol = keySigner(sha256(utf8('twin/ucan-vector/carol')))
  const storage = keySigner(sha256(utf8('twin/ucan-vector/storage')))
  const nonce = (n: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => n * 16 + i)
  const root = createDelegation({ issuer: owner, audience: bob.did, subject: owner.did, command: '/vault/read', policy: pathPolicy('/photos'), expiration: 1_800_000_000, nonce: nonce(0) })
  const narrower = createDelegation({ issuer: bob, audience: carol.did, subject: owner.did, command: '/vault/read', policy: pathPolicy('/photos/2026'), expiration: 1_799_990_000, nonce: nonce(1) })
  const invocation = createInvocation({
    issuer: carol, subject: owner.did, audience: storage.did, command: '/vault/read', args: { path: '/photos/2026/a.jpg' },
    proofs: [root, narrower], expiration: 1_799_900_000, issuedAt: 1_799_899_700, nonce: nonce(2)
  })
  const token = (t: { bytes: Uint8Array, id: string }) => ({ cid: t.id, bytes: toBase64url(t.bytes) })
  return {
    twin,
    file: {
      description: 'Twin capability (UCAN 1.0) known-answer vectors: see docs/PROTOCOL.md §17',
      phrase: PHRASE,
      twin: owner.did,
      keySequence: twin.state.sequence,
      principals: { bob: bob.did, carol: carol.did, storage: storage.did },
      keySeeds: 'bob, carol and storage are did:key with Ed25519 seed SHA-256("twin/ucan-vector/<name>")',
      now: NOW,
      delegations: [token(root), token(narrower)],
      invocation: token(invocation)
    }
  }
}

describe('capability known-answer vectors (test/vectors/twin-ucan.json)', () => {
  const { twin, file } = build()
  if (process.env.UPDATE_VECTORS === '1') writeFileSync(PATH, JSON.stringify(file, null, 2) + '\n')
  const stored = JSON.parse(readFileSync(PATH, 'utf8'))

  it('are reproduced byte for byte from the phrase and the fixed seeds', () => {
    expect(file).toEqual(stored)
  })

  it('validate: the invocation is authorized by the chain at the vector time', async () => {
    const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64url'))
    const resolver = { resolve: async (id: string) => id === twin.state.id ? twinKeysFromKel(verifyKel(twin.events, id)) : undefined }
    const result = await validateInvocation(fromB64(stored.invocation.bytes), {
      proofs: stored.delegations.map((d: { bytes: string }) => fromB64(d.bytes)), now: stored.now, resolver, executor: stored.principals.storage
    })
    expect(result).toMatchObject({ ok: true, subject: stored.twin, issuer: stored.principals.carol, command: '/vault/read' })
  })
})
