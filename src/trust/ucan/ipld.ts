import { CID } from 'multiformats/cid'

/**
 * The IPLD data model as @ipld/dag-cbor hands it to JavaScript: null, booleans, numbers
 * (integers beyond 2^53 arrive as bigint), strings, bytes (Uint8Array), lists (arrays), maps
 * (plain objects) and links (CID). The policy language and the payload readers reason about
 * values by these kinds (IPLD data model, https://ipld.io/docs/data-model/kinds/).
 */
export type IpldKind = 'null' | 'boolean' | 'integer' | 'float' | 'string' | 'bytes' | 'list' | 'map' | 'link'

export function kindOf (value: unknown): IpldKind | undefined {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean': return 'boolean'
    case 'string': return 'string'
    case 'bigint': return 'integer'
    case 'number': return Number.isInteger(value) ? 'integer' : Number.isFinite(value) ? 'float' : undefined
    case 'object':
      if (value instanceof Uint8Array) return 'bytes'
      if (Array.isArray(value)) return 'list'
      if (CID.asCID(value) !== null) return 'link'
      return 'map'
    default:
      return undefined
  }
}

/** True for a map (a plain object that is not bytes, a list or a link). */
export function isMap (value: unknown): value is Record<string, unknown> {
  return kindOf(value) === 'map'
}

export function isNumber (value: unknown): value is number | bigint {
  return typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value))
}

/**
 * A map's own entry. Maps decoded from CBOR are plain objects, so a key such as
 * `constructor` must not find what the prototype holds.
 */
export function ownEntry (map: Record<string, unknown>, key: string): { found: true, value: unknown } | { found: false } {
  return Object.hasOwn(map, key) ? { found: true, value: map[key] } : { found: false }
}

/**
 * Numeric comparison that ignores the integer/float distinction, as the policy language
 * requires (delegation spec, "Comparisons": `1 == 1.0 == 1.00`). Returns -1, 0 or 1.
 */
export function compareNumbers (a: number | bigint, b: number | bigint): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0
  // One bigint, one number: compare exactly, without rounding the bigint to a double.
  const [big, num, sign] = typeof a === 'bigint' ? [a, b as number, 1] : [b as bigint, a as number, -1]
  const floor = BigInt(Math.floor(num))
  if (big < floor) return -sign
  if (big > floor) return sign
  return Number.isInteger(num) ? 0 : -sign
}

/** Deep equality of two IPLD values (delegation spec, "Comparisons": `==` is a deep comparison). */
export function deepEqual (a: unknown, b: unknown): boolean {
  if (isNumber(a) && isNumber(b)) return compareNumbers(a, b) === 0
  const kind = kindOf(a)
  if (kind === undefined || kind !== kindOf(b)) return false
  switch (kind) {
    case 'null': return true
    case 'boolean':
    case 'string': return a === b
    case 'bytes': return Buffer.compare(a as Uint8Array, b as Uint8Array) === 0
    case 'link': return (CID.asCID(a) as CID).equals(CID.asCID(b))
    case 'list': {
      const x = a as unknown[]
      const y = b as unknown[]
      return x.length === y.length && x.every((v, i) => deepEqual(v, y[i]))
    }
    case 'map': {
      const x = a as Record<string, unknown>
      const y = b as Record<string, unknown>
      const keys = Object.keys(x)
      if (keys.length !== Object.keys(y).length) return false
      return keys.every(k => Object.hasOwn(y, k) && deepEqual(x[k], y[k]))
    }
    default: return false // numbers were handled above
  }
}

/** A short description of a value's kind for messages ("a string", "a map"), never the value itself. */
export function describeKind (value: unknown): string {
  const kind = kindOf(value)
  switch (kind) {
    case undefined: return 'not an IPLD value'
    case 'integer': return 'an integer'
    case 'null': return 'null'
    default: return `a ${kind}`
  }
}

/**
 * Freezes the lists and maps of a decoded value, so that a token shared through the cache
 * cannot be changed by one of its users. Bytes and links are left as they are (a typed array
 * cannot be frozen); treat them as read-only.
 */
export function freeze<T> (value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value
  // Lists, and maps as decoded (plain objects); bytes, links and class instances are left alone.
  const proto = Object.getPrototypeOf(value)
  if (Array.isArray(value) || proto === Object.prototype || proto === null) {
    for (const v of Object.values(value)) freeze(v)
    Object.freeze(value)
  }
  return value
}
