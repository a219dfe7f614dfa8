import { isCanonicalTwinId } from '../identity/index.js'

/**
 * Hand-written checks of decoded CBOR on the per-envelope path, where a schema library costs
 * more than the cryptography it guards (docs/PERFORMANCE.md). Each check throws a `ShapeError`
 * naming the field, worded as the schemas these checks replaced worded it, so that a refusal
 * reads the same whichever twin version wrote it.
 */
export class ShapeError extends Error {
  constructor (readonly path: string, readonly detail: string) {
    super(`${path} ${detail}`)
    this.name = 'ShapeError'
  }
}

export type Fields = Record<string, unknown>

/** The type name a refusal reports for a value that has the wrong type. */
function typeName (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

/** A map (a plain object after decoding); its fields are checked one by one after. */
export function record (value: unknown, path = ''): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new ShapeError(path, `Invalid input: expected object, received ${value instanceof Uint8Array ? 'Uint8Array' : typeName(value)}`)
  }
  return value as Fields
}

/** Refuses keys beyond `keys`; call after the fields were checked, as schemas report extra keys last. */
export function noOtherKeys (fields: Fields, keys: readonly string[], path = ''): void {
  const extra = Object.keys(fields).filter(k => !keys.includes(k))
  if (extra.length === 1) throw new ShapeError(path, `Unrecognized key: "${extra[0] as string}"`)
  if (extra.length > 1) throw new ShapeError(path, `Unrecognized keys: ${extra.map(k => `"${k}"`).join(', ')}`)
}

export function literal<T extends number> (fields: Fields, key: string, expected: T): T {
  if (fields[key] !== expected) throw new ShapeError(key, `Invalid input: expected ${expected}`)
  return expected
}

/** A non-negative safe integer. */
export function uint (fields: Fields, key: string): number {
  const v = fields[key]
  if (typeof v !== 'number') throw new ShapeError(key, `Invalid input: expected number, received ${typeName(v)}`)
  if (!Number.isInteger(v)) throw new ShapeError(key, 'Invalid input: expected int, received number')
  if (v < 0) throw new ShapeError(key, 'Too small: expected number to be >=0')
  if (v > Number.MAX_SAFE_INTEGER) throw new ShapeError(key, `Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`)
  return v
}

/** Bytes, of exactly `length` when given. */
export function bytes (fields: Fields, key: string, length?: number): Uint8Array {
  const v = fields[key]
  if (!(v instanceof Uint8Array)) throw new ShapeError(key, 'expected bytes')
  if (length !== undefined && v.length !== length) throw new ShapeError(key, `expected ${length} bytes`)
  return v
}

export function nullableBytes (fields: Fields, key: string, length: number): Uint8Array | null {
  return fields[key] === null ? null : bytes(fields, key, length)
}

export function text (fields: Fields, key: string, max: number, min = 0): string {
  const v = fields[key]
  if (typeof v !== 'string') throw new ShapeError(key, `Invalid input: expected string, received ${typeName(v)}`)
  if (v.length > max) throw new ShapeError(key, `Too big: expected string to have <=${max} characters`)
  if (v.length < min) throw new ShapeError(key, `Too small: expected string to have >=${min} characters`)
  return v
}

export function oneOf<T extends string> (fields: Fields, key: string, options: readonly T[]): T {
  const v = fields[key]
  if (!options.includes(v as T)) throw new ShapeError(key, `Invalid option: expected one of ${options.map(o => `"${o}"`).join('|')}`)
  return v as T
}

export function array (fields: Fields, key: string, min: number, max: number): unknown[] {
  const v = fields[key]
  if (!Array.isArray(v)) throw new ShapeError(key, `Invalid input: expected array, received ${typeName(v)}`)
  if (v.length < min) throw new ShapeError(key, `Too small: expected array to have >=${min} items`)
  if (v.length > max) throw new ShapeError(key, `Too big: expected array to have <=${max} items`)
  return v
}

/** Twin ids already found canonical: a twin sees the same few correspondents again and again. */
const canonicalIds = new Set<string>()
const MAX_REMEMBERED_IDS = 4096

/** A twin id in its one canonical form, as signed structures must carry it. */
export function twinId (fields: Fields, key: string): string {
  const v = text(fields, key, 100)
  if (canonicalIds.has(v)) return v
  if (!isCanonicalTwinId(v)) {
    throw new ShapeError(key, 'a twin id inside a signed structure must be in canonical form (lower-case base32 starting with "b"); other spellings are refused, since the signature covers the exact bytes')
  }
  if (canonicalIds.size >= MAX_REMEMBERED_IDS) canonicalIds.clear()
  canonicalIds.add(v)
  return v
}
