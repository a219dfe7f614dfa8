import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  DELEGATION_TAG, ED25519_DAG_CBOR_HEADER, UcanCache, createDelegation, decodeDelegation, decodeInvocation, evaluatePolicy,
  keySigner, parsePolicy, tokenCid, validateInvocation, type DenialReason
} from '../../src/trust/ucan/index.js'

// The UCAN working group's 1.0.0 fixtures, read from where the project keeps them
// (../shared/fixtures/ucan-1.0.0/ from the project root), never copied into the repository.
const FIXTURES = new URL('../../../shared/fixtures/ucan-1.0.0/', import.meta.url)
const fixture = (name: string): any => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'))

const b64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'))
/** DAG-JSON bytes: `{ "/": { "bytes": base64 } }`. */
const dagJsonBytes = (value: { '/': { bytes: string } }): Uint8Array => b64(value['/'].bytes)

/** The fixtures' error names, and the reason codes that Twin gives for them. */
const FIXTURE_ERRORS: Record<string, DenialReason[]> = {
  InvalidClaim: ['no_authority', 'invalid_powerline'],
  UnavailableProof: ['missing_proof'],
  Expired: ['expired'],
  TooEarly: ['not_yet_valid'],
  InvalidAudience: ['broken_chain'],
  InvalidSubject: ['subject_mismatch'],
  InvalidSignature: ['invalid_signature'],
  MatchError: ['policy_violation']
}

describe('UCAN 1.0 delegation fixtures', () => {
  const file = fixture('delegation.json')
  // "base64pad(varint(0x1300) + privateKey)": 0x80 0x26 is the varint of ed25519-priv.
  const signers = Object.fromEntries(Object.entries(file.principals as Record<string, string>).map(([name, text]) => {
    const bytes = b64(text)
    expect([...bytes.subarray(0, 2)]).toEqual([0x80, 0x26])
    return [name, keySigner(bytes.subarray(2))]
  }))

  for (const v of file.valid) {
    it(`${v.name as string}: decodes to the fixture's payload, signature and CID`, () => {
      const d = decodeDelegation(b64(v.token))
      expect(d.id).toBe(v.cid)
      expect(tokenCid(b64(v.token)).toString()).toBe(v.cid)
      expect(d.signature).toEqual(b64(v.envelope.signature))
      expect([v.envelope.alg, v.envelope.enc, v.envelope.spec, v.envelope.version]).toEqual(['Ed25519', 'DAG-CBOR', 'dlg', '1.0.0'])
      expect(DELEGATION_TAG).toBe(`ucan/${v.envelope.spec as string}@${v.envelope.version as string}`)
      const { nonce, ...rest } = v.envelope.payload
      expect(d.payload).toEqual({ ...rest, nonce: b64(nonce) })
      expect(d.signed.subarray(0, 12)).toEqual(Uint8Array.from([0xa2, 0x61, 0x68, 0x48, ...ED25519_DAG_CBOR_HEADER]))
    })

    it(`${v.name as string}: signing the same payload with the issuer's fixture key gives the same bytes`, () => {
      const p = v.envelope.payload
      const issuer = Object.values(signers).find(s => s.did === p.iss)
      expect(issuer).toBeDefined()
      const made = createDelegation({
        issuer: issuer as ReturnType<typeof keySigner>, audience: p.aud, subject: p.sub, command: p.cmd, policy: p.pol, expiration: p.exp, nonce: b64(p.nonce)
      })
      expect(Buffer.from(made.bytes).toString('base64')).toBe(v.token)
      expect(made.id).toBe(v.cid)
    })
  }
})

describe('UCAN 1.0 invocation fixtures', () => {
  const file = fixture('invocation.json')

  for (const cached of [false, true]) {
    const cache = cached ? new UcanCache() : undefined
    const mode = cached ? ' (cached)' : ''

    for (const v of file.valid) {
      it(`${v.name as string}: is accepted${mode}`, async () => {
        const proofs = (v.proofs as any[]).map(dagJsonBytes)
        const result = await validateInvocation(dagJsonBytes(v.invocation), { proofs, now: v.time, cache })
        if (!result.ok) throw new Error(`refused: ${result.reason}: ${result.message}`)
        // Same CIDs: the chain is the proofs given, in the order the invocation names them.
        expect(result.chain.map(d => d.id)).toEqual(result.invocation.payload.prf.map(c => c.toString()))
        expect(result.chain.map(d => d.id)).toEqual(proofs.map(p => tokenCid(p).toString()))
      })
    }

    for (const v of file.invalid) {
      it(`${v.name as string}: is refused as ${v.error.name as string}${mode}`, async () => {
        const expected = FIXTURE_ERRORS[v.error.name]
        expect(expected, `no reason code mapped for ${v.error.name as string}`).toBeDefined()
        const result = await validateInvocation(dagJsonBytes(v.invocation), { proofs: (v.proofs as any[]).map(dagJsonBytes), now: v.time, cache })
        expect(result.ok).toBe(false)
        if (result.ok) return
        expect(expected).toContain(result.reason)
        expect(result.message).toMatch(/^[A-Z].*\.$/)
      })
    }
  }

  it('every fixture invocation decodes (the refusals are about authority, not format)', () => {
    for (const v of [...file.valid, ...file.invalid]) expect(() => decodeInvocation(dagJsonBytes(v.invocation))).not.toThrow()
  })
})

describe('UCAN 1.0 policy fixtures (policy.fixed.json)', () => {
  const file = fixture('policy.fixed.json')

  for (const [g, group] of (file.valid as any[]).entries()) {
    for (const [i, policy] of (group.policies as unknown[][]).entries()) {
      it(`valid group ${g}, policy ${i}: holds on its arguments`, () => {
        const result = evaluatePolicy(parsePolicy(policy), group.args)
        expect(result).toEqual({ ok: true })
      })
    }
  }

  for (const [g, group] of (file.invalid as any[]).entries()) {
    for (const [i, policy] of (group.policies as unknown[][]).entries()) {
      it(`invalid group ${g}, policy ${i}: does not hold, and says which statement failed`, () => {
        const result = evaluatePolicy(parsePolicy(policy), group.args)
        expect(result.ok).toBe(false)
        if (!result.ok) expect(policy).toContainEqual(result.statement)
      })
    }
  }
})
