import { z } from 'zod'
import { create as createDigest } from 'multiformats/hashes/digest'
import { decode as decodeMultihash } from 'multiformats/hashes/digest'
import { DecodeError } from '../errors.js'
import { fromBase32, toBase32 } from '../wire/index.js'

const SHA2_256 = 0x12

/**
 * A twin id is the SHA-256 digest of the twin's inception event, as a multihash in multibase
 * base32 (lower case, `b` prefix): URL-safe, case-insensitive, self-certifying.
 */
export function twinIdFromDigest (inceptionDigest: Uint8Array): string {
  return toBase32(createDigest(SHA2_256, inceptionDigest).bytes)
}

/** The inception digest inside a twin id; throws a `DecodeError` for anything that is not one. */
export function parseTwinId (id: string): Uint8Array {
  if (typeof id !== 'string' || id.length > 100) throw new DecodeError('twin id', 'expected text of at most 100 characters')
  const lower = id.toLowerCase()
  if (!lower.startsWith('b')) throw new DecodeError('twin id', 'expected base32 text starting with "b"')
  const bytes = fromBase32(lower, 'twin id')
  let mh
  try {
    mh = decodeMultihash(bytes)
  } catch (err) {
    throw new DecodeError('twin id', 'not a multihash', { cause: err })
  }
  if (mh.code !== SHA2_256 || mh.digest.length !== 32) throw new DecodeError('twin id', 'not a SHA-256 multihash')
  return mh.digest
}

/** Accepts `did:twin:<id>` or a bare id and returns the canonical bare id. */
export function normalizeTwinId (input: string): string {
  const id = input.startsWith('did:twin:') ? input.slice('did:twin:'.length) : input
  return twinIdFromDigest(parseTwinId(id))
}

export function twinDid (id: string): string {
  return `did:twin:${id}`
}

/** True if `id` is a twin id in its one canonical form: lower case, as `twinIdFromDigest` writes it. */
export function isCanonicalTwinId (id: string): boolean {
  try {
    return twinIdFromDigest(parseTwinId(id)) === id
  } catch {
    return false // not a twin id at all
  }
}

/**
 * A twin id inside a signed structure (key event, document, content signature, envelope). Users
 * may type ids in any case, but signed bytes must have one form: another spelling of the same
 * id would be other bytes, so readers refuse it rather than normalize signed content.
 */
export const signedTwinIdSchema = z.string().max(100).refine(isCanonicalTwinId,
  'a twin id inside a signed structure must be in canonical form (lower-case base32 starting with "b"); other spellings are refused, since the signature covers the exact bytes')
