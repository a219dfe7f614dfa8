import { sha256, toHex } from '../../wire/index.js'
import { decodeDelegation, type Delegation } from './delegation.js'

/**
 * Memoized validation (UCAN spec, "Memoized Validation"): a delegation's bytes always decode
 * to the same value, and a signature that verified with a key over those bytes always will.
 * So the cache keeps, by the SHA-256 of a token's bytes (its CID's digest):
 * - the decoded and checked delegation, and
 * - the public keys its signature has verified with.
 *
 * What can change is never cached: time bounds, revocation, policies against new arguments,
 * and which key is a did:twin's current one (a verified key that is no longer current does
 * not count; see issuer.ts). A chain of three cached delegations then costs one Ed25519
 * verification (the invocation's) instead of four, plus hashing and decoding the invocation.
 *
 * Bounded by entries and by bytes held; the least recently used entries go first.
 */
export interface UcanCacheOptions {
  /** Default 10 000 delegations. */
  maxEntries?: number
  /** Default 16 MiB of token bytes. */
  maxBytes?: number
}

interface Entry {
  delegation: Delegation
  /** Hex of the public keys the signature verified with (usually one). */
  verified: string[]
}

export class UcanCache {
  private readonly entries = new Map<string, Entry>()
  private readonly maxEntries: number
  private readonly maxBytes: number
  private bytes = 0

  constructor (options: UcanCacheOptions = {}) {
    this.maxEntries = positive(options.maxEntries ?? 10_000, 'maxEntries')
    this.maxBytes = positive(options.maxBytes ?? 16 * 1024 * 1024, 'maxBytes')
  }

  /**
   * Decodes a delegation, or returns the one decoded from the same bytes before. Throws as
   * `decodeDelegation` does. `digestHex` is the bytes' SHA-256 when the caller has it already.
   */
  delegation (bytes: Uint8Array, digestHex?: string): Delegation {
    const key = digestHex ?? toHex(sha256(bytes))
    const hit = this.entries.get(key)
    if (hit !== undefined) {
      this.touch(key, hit)
      return hit.delegation
    }
    const delegation = decodeDelegation(bytes)
    this.add(key, { delegation, verified: [] })
    return delegation
  }

  /** True if this delegation's signature is known to verify with `publicKey`. */
  isVerified (delegation: Delegation, publicKey: Uint8Array): boolean {
    return this.entries.get(keyOf(delegation))?.verified.includes(toHex(publicKey)) ?? false
  }

  /** Records that the signature verified with `publicKey`. */
  markVerified (delegation: Delegation, publicKey: Uint8Array): void {
    const key = keyOf(delegation)
    let entry = this.entries.get(key)
    if (entry === undefined) {
      entry = { delegation, verified: [] }
      this.add(key, entry)
    }
    const hex = toHex(publicKey)
    if (!entry.verified.includes(hex)) entry.verified.push(hex)
  }

  get size (): number {
    return this.entries.size
  }

  clear (): void {
    this.entries.clear()
    this.bytes = 0
  }

  private touch (key: string, entry: Entry): void {
    this.entries.delete(key)
    this.entries.set(key, entry)
  }

  private add (key: string, entry: Entry): void {
    const size = entry.delegation.bytes.length
    if (size > this.maxBytes) return
    this.entries.set(key, entry)
    this.bytes += size
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const [oldest, evicted] = this.entries.entries().next().value as [string, Entry]
      this.entries.delete(oldest)
      this.bytes -= evicted.delegation.bytes.length
    }
  }
}

function keyOf (delegation: Delegation): string {
  return toHex(delegation.cid.multihash.digest)
}

function positive (n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`UcanCache ${what} must be a positive integer, got ${n}`)
  return n
}
