import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { failsCleanly, mutate, mutation } from './mutations.js'
import { TwinError } from '../../src/errors.js'
import { encodeCbor } from '../../src/wire/index.js'
import {
  createDelegation, createInvocation, decodeDelegation, decodeInvocation, evaluatePolicy, keySigner, parsePolicy, parseSelector, parseTokenCid,
  select, validateInvocation
} from '../../src/trust/ucan/index.js'

// Decoders given random or mutated input throw a TwinError (a reason a person can read) and
// nothing else; validation of a mutated token is always a refusal, never an exception.

const NOW = 1_800_000_000
const [a, b] = [keySigner(new Uint8Array(randomBytes(32))), keySigner(new Uint8Array(randomBytes(32)))]
const root = createDelegation({ issuer: a, audience: b.did, subject: a.did, command: '/vault', policy: [['like', '.path', '/photos/*']], expiration: NOW + 60 })
const inv = createInvocation({ issuer: b, subject: a.did, command: '/vault/read', args: { path: '/photos/x' }, proofs: [root], expiration: NOW + 60 })

describe('UCAN decoders under random input', () => {
  it('refuse random bytes with a TwinError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), bytes => {
      expect(failsCleanly(() => decodeDelegation(bytes))).toBe(true)
      expect(failsCleanly(() => decodeInvocation(bytes))).toBe(true)
    }), { numRuns: 1000 })
  })

  it('refuse random CBOR values with a TwinError, whatever their shape', () => {
    const ipld = fc.letrec(tie => ({
      value: fc.oneof({ depthSize: 'small' },
        fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }),
        fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }))
    })).value
    fc.assert(fc.property(ipld, ipld, (x, y) => {
      for (const value of [x, [x, y], [new Uint8Array(64), { h: Uint8Array.of(0x34, 1, 0xed, 1, 0xed, 1, 0x13, 0x71), 'ucan/dlg@1.0.0': x }]]) {
        const bytes = encodeCbor(value)
        expect(failsCleanly(() => decodeDelegation(bytes))).toBe(true)
        expect(failsCleanly(() => decodeInvocation(bytes))).toBe(true)
      }
    }), { numRuns: 1000 })
  })

  it('never validate a mutated invocation or delegation, and never throw on one', async () => {
    const invocationOrProof = fc.boolean().chain(which => mutation((which ? inv : root).bytes.length).map(m => ({ which, m })))
    await fc.assert(fc.asyncProperty(invocationOrProof, async ({ which, m }) => {
      const changed = mutate((which ? inv : root).bytes, m)
      const result = which
        ? await validateInvocation(changed, { proofs: [root.bytes], now: NOW })
        : await validateInvocation(inv.bytes, { proofs: [changed], now: NOW })
      expect(result.ok).toBe(false)
    }), { numRuns: 800 })
  })

  it('read random text as a selector or a token id only through a TwinError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), text => {
      let selector
      try { selector = parseSelector(text, 'test') } catch (err) { expect(err).toBeInstanceOf(TwinError) }
      if (selector !== undefined) select(selector, { a: [1, { b: 2 }], c: 'x' })
      expect(failsCleanly(() => parseTokenCid(text))).toBe(true)
    }), { numRuns: 2000 })
  })

  it('parse selector-like text built from the grammar\'s pieces, or refuse it cleanly', () => {
    const piece = fc.constantFrom('.', '.a', '.b0', '[', ']', '[0]', '[-1]', '[]', '["k"]', '?', '[1:2]', ':', '"', 'x')
    fc.assert(fc.property(fc.array(piece, { maxLength: 8 }), pieces => {
      const text = '.' + pieces.join('')
      try {
        select(parseSelector(text, 'test'), { a: [1, 2], b0: { k: 3 } })
      } catch (err) {
        expect(err).toBeInstanceOf(TwinError)
      }
    }), { numRuns: 2000 })
  })

  it('evaluate any policy that parses without throwing, on any arguments', () => {
    const value = fc.jsonValue({ maxDepth: 3 })
    const statement = fc.letrec(tie => ({
      s: fc.oneof({ depthSize: 'small' },
        fc.tuple(fc.constantFrom('==', '!=', '<', '>=', 'like'), fc.constantFrom('.', '.a', '.a[0]', '.a[]', '.b?', '.["c"]'), value),
        fc.tuple(fc.constant('not'), tie('s')),
        fc.tuple(fc.constantFrom('and', 'or'), fc.array(tie('s'), { maxLength: 3 })),
        fc.tuple(fc.constantFrom('all', 'any'), fc.constantFrom('.', '.a', '.b'), tie('s')))
    })).s
    fc.assert(fc.property(fc.array(statement, { maxLength: 3 }), value, (policy, args) => {
      let parsed
      try { parsed = parsePolicy(policy) } catch (err) { expect(err).toBeInstanceOf(TwinError); return }
      const result = evaluatePolicy(parsed, args)
      expect(typeof result.ok).toBe('boolean')
    }), { numRuns: 2000 })
  })
})
