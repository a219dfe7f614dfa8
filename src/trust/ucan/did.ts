import { ed25519DidKey, isCanonicalTwinId, parseDidKey, x25519DidKey } from '../../identity/index.js'
import { UcanError } from './errors.js'

/**
 * Principals are DIDs (UCAN spec, "Issuer & Audience"; W3C DID Core section 3.1 for the
 * syntax). Two methods can sign in Twin:
 * - `did:key` with an Ed25519 key (multicodec 0xed, base58btc `z6Mk...`), as in the fixtures;
 * - `did:twin:<id>`, a twin whose keys come from its key event log (docs/PROTOCOL.md §4).
 * Any other DID may appear as an audience or subject: it is compared, never verified.
 *
 * Inside a token every DID must be in one canonical spelling, so that comparing strings is
 * comparing principals: a did:key re-encodes to the same text, a did:twin id is lower case.
 * DID URLs (a path, query or `#fragment`) are refused: neither method needs one to pick a key.
 */
export type Principal =
  | { method: 'key', did: string, keyType: 'Ed25519' | 'X25519', publicKey: Uint8Array }
  | { method: 'twin', did: string, id: string }
  | { method: 'other', did: string }

export const MAX_DID_LENGTH = 512

// did = "did:" method-name ":" method-specific-id; idchar = ALPHA / DIGIT / "." / "-" / "_" / pct-encoded
const DID_SYNTAX = /^did:[a-z0-9]+:(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2}|:)*(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})$/

// Reading a did:key means a base58 decode and re-encode (about 40 us), and a verifier sees the
// same few principals in token after token: keep the parsed ones, bounded.
const parsed = new Map<string, Principal>()
const MAX_PARSED = 4096

/** Reads a DID from a token field or an argument; throws a `UcanError` that names `what`. */
export function parsePrincipal (value: unknown, what: string): Principal {
  const p = principalOf(value, what)
  return p.method === 'key' ? { ...p, publicKey: p.publicKey.slice() } : { ...p }
}

/** `parsePrincipal` for this module's own use: the shared, cached value, which callers must not change. */
export function principalOf (value: unknown, what: string): Principal {
  if (typeof value === 'string') {
    const hit = parsed.get(value)
    if (hit !== undefined) return hit
  }
  const principal = readPrincipal(value, what)
  if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value as string)
  parsed.set(principal.did, Object.freeze(principal))
  return principal
}

function readPrincipal (value: unknown, what: string): Principal {
  if (typeof value !== 'string') throw new UcanError(`${what} must be a DID string`)
  if (value.length > MAX_DID_LENGTH || !DID_SYNTAX.test(value)) throw new UcanError(`${what} is not a DID (did:<method>:<id>, without path, query or fragment)`)
  if (value.startsWith('did:key:')) {
    let key
    try {
      key = parseDidKey(value)
    } catch (err) {
      throw new UcanError(`${what} is a did:key that holds no Ed25519 or X25519 public key`, { cause: err })
    }
    const canonical = key.type === 'Ed25519' ? ed25519DidKey(key.publicKey) : x25519DidKey(key.publicKey)
    if (canonical !== value) throw new UcanError(`${what} is a did:key in a non-canonical spelling`)
    return { method: 'key', did: value, keyType: key.type, publicKey: key.publicKey }
  }
  if (value.startsWith('did:twin:')) {
    const id = value.slice('did:twin:'.length)
    if (!isCanonicalTwinId(id)) throw new UcanError(`${what} is a did:twin whose id is not a twin id in canonical (lower-case) form`)
    return { method: 'twin', did: value, id }
  }
  return { method: 'other', did: value }
}

/** Checks a DID argument and returns it unchanged. */
export function checkDid (value: unknown, what: string): string {
  return principalOf(value, what).did
}
