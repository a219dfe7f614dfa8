import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { base58btc } from 'multiformats/bases/base58'
import { sha256 } from '../../wire/index.js'
import { UcanError } from './errors.js'

/**
 * A UCAN token is named by its CID (UCAN spec, "Content Identifiers"): CIDv1, multicodec
 * DAG-CBOR (0x71), multihash SHA2-256 (0x12) over the token's bytes, i.e. the whole envelope.
 *
 * Text form: Twin writes base32 (`bafyrei...`), as the spec's fixtures do and as Twin writes
 * its ids (lower case, URL- and file-name-safe). The UCAN spec names base58btc (`zdpu...`) as
 * the text form; the CID's bytes, which are what tokens carry, are the same either way, and
 * `parseTokenCid` reads both.
 */
export const DAG_CBOR = 0x71
const SHA2_256 = 0x12

/** The CID of a token's bytes. */
export function tokenCid (bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR, createDigest(SHA2_256, sha256(bytes)))
}

/** True if a link has the form a UCAN token's CID must have. */
export function isTokenCid (cid: CID): boolean {
  return cid.version === 1 && cid.code === DAG_CBOR && cid.multihash.code === SHA2_256 && cid.multihash.size === 32
}

/** Reads a token CID from its text (base32 `b...` or base58btc `z...`); throws a `UcanError` otherwise. */
export function parseTokenCid (text: string): CID {
  if (typeof text !== 'string' || text.length > 200) throw new UcanError('a token id must be a CID of at most 200 characters')
  let cid: CID
  try {
    cid = text.startsWith('z') ? CID.parse(text, base58btc) : CID.parse(text)
  } catch (err) {
    throw new UcanError('the token id is not a CID', { cause: err })
  }
  if (!isTokenCid(cid)) throw new UcanError('the token id is not the CID of a UCAN (CIDv1, DAG-CBOR, SHA2-256)')
  return cid
}

/** The canonical text of a token CID, as Twin shows and stores it (base32). */
export function cidText (cid: CID): string {
  return cid.toString()
}
