import { z } from 'zod'

/** A zod schema for bytes (any Uint8Array), optionally of an exact length. */
export function bytesSchema (length?: number): z.ZodType<Uint8Array> {
  const base = z.custom<Uint8Array>(v => v instanceof Uint8Array, 'expected bytes')
  return length === undefined ? base : base.refine(b => b.length === length, `expected ${length} bytes`)
}
