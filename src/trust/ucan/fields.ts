import { CID } from 'multiformats/cid'
import { UcanError } from './errors.js'
import { describeKind, isMap, kindOf } from './ipld.js'
import { isTokenCid } from './cid.js'

/**
 * Readers for the fields of a decoded payload. Each one checks one field's type and range
 * and throws a `UcanError` naming the token and the field, so "why is this token refused"
 * has an answer. A payload may hold only the fields its spec lists: extensions belong in
 * `meta`, and a verifier that skipped a field it does not know would vouch for bytes whose
 * meaning it cannot tell (the rule Twin's own signed structures follow, docs/PROTOCOL.md §6).
 */
export class PayloadReader {
  constructor (private readonly fields: Record<string, unknown>, private readonly what: string, allowed: readonly string[]) {
    const unknown = Object.keys(fields).filter(k => !allowed.includes(k))
    if (unknown.length > 0) {
      const names = unknown.slice(0, 3).map(k => JSON.stringify(k.slice(0, 40))).join(', ')
      throw new UcanError(`${what} has ${unknown.length === 1 ? 'an unknown field' : 'unknown fields'} ${names}: extensions belong in "meta"`)
    }
  }

  private value (field: string, required: boolean): unknown {
    if (!Object.hasOwn(this.fields, field)) {
      if (required) throw new UcanError(`${this.what} has no "${field}" field, which is required`)
      return undefined
    }
    return this.fields[field]
  }

  private fail (field: string, expected: string, got: unknown): never {
    throw new UcanError(`${this.what}'s "${field}" must be ${expected}, got ${describeKind(got)}`)
  }

  string (field: string): string {
    const v = this.value(field, true)
    return typeof v === 'string' ? v : this.fail(field, 'a string', v)
  }

  bytes (field: string): Uint8Array {
    const v = this.value(field, true)
    return v instanceof Uint8Array ? v : this.fail(field, 'bytes', v)
  }

  /** A timestamp: an integer of at most 53 bits (UCAN spec, "Time Bounds"); null only if `nullable`. */
  time (field: string, required: true, nullable: true): number | null
  time (field: string, required: false, nullable: false): number | undefined
  time (field: string, required: boolean, nullable: boolean): number | null | undefined {
    const v = this.value(field, required)
    if (v === undefined) return undefined
    if (v === null && nullable) return null
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v
    return this.fail(field, `an integer between -(2^53 - 1) and 2^53 - 1${nullable ? ' or null' : ''}`, v)
  }

  /** A map with string keys (`args`, `meta`). */
  map (field: string, required: true): Record<string, unknown>
  map (field: string, required: false): Record<string, unknown> | undefined
  map (field: string, required: boolean): Record<string, unknown> | undefined {
    const v = this.value(field, required)
    if (v === undefined) return undefined
    return isMap(v) ? v : this.fail(field, 'a map', v)
  }

  list (field: string): unknown[] {
    const v = this.value(field, true)
    return Array.isArray(v) ? v : this.fail(field, 'a list', v)
  }

  /** A link to a UCAN token (CIDv1, DAG-CBOR, SHA2-256). */
  link (field: string, required: false): CID | undefined {
    const v = this.value(field, required)
    if (v === undefined) return undefined
    return asTokenLink(v, `${this.what}'s "${field}"`)
  }

  /** The raw value of a field whose type is checked elsewhere (a DID that may be null). */
  raw (field: string): unknown {
    return this.value(field, true)
  }
}

export function asTokenLink (value: unknown, what: string): CID {
  const cid = kindOf(value) === 'link' ? CID.asCID(value) : null
  if (cid === null) throw new UcanError(`${what} must be a CID link, got ${describeKind(value)}`)
  if (!isTokenCid(cid)) throw new UcanError(`${what} must be the CID of a UCAN (CIDv1, DAG-CBOR, SHA2-256)`)
  return cid
}
