import fc from 'fast-check'
import { TwinError } from '../../src/errors.js'

// Shared by the property tests of decoders: mutated input, and what a clean refusal is.

/** True when `fn` throws a TwinError (a reason a person can read); any other exception is rethrown. */
export function failsCleanly (fn: () => unknown): boolean {
  try {
    fn()
    return false
  } catch (err) {
    if (err instanceof TwinError) return true
    throw err
  }
}

export interface Mutation { kind: 'flip' | 'cut' | 'append', at: number, bit: number }

/** Flips one bit, or cuts, or appends to a byte string of `length` bytes. */
export const mutation = (length: number): fc.Arbitrary<Mutation> => fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat({ max: Math.max(0, length - 1) }), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat({ max: Math.max(0, length - 1) }), bit: fc.constant(0) }),
  fc.record({ kind: fc.constant('append' as const), at: fc.nat({ max: 255 }), bit: fc.constant(0) })
)

export function mutate (bytes: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === 'cut') return bytes.slice(0, m.at)
  if (m.kind === 'append') return Uint8Array.from([...bytes, m.at])
  const out = bytes.slice()
  out[m.at] = (out[m.at] as number) ^ (1 << m.bit)
  return out
}
