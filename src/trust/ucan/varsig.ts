import { UcanError } from './errors.js'

/**
 * The varsig v1 header that every UCAN envelope carries in `.1.h` (UCAN spec, "Envelope";
 * Varsig spec v1.0.0, "Format"). Twin signs and accepts one configuration, Ed25519 over
 * DAG-CBOR, whose header is these eight bytes (each field an unsigned LEB128 varint):
 *
 *   0x34       varsig multicodec prefix
 *   0x01       varsig version 1
 *   0xed 0x01  signature algorithm: EdDSA (0xed)
 *   0xed 0x01  EdDSA curve: Ed25519 (0xed)
 *   0x13       hash: SHA2-512, the hash inside Ed25519 (RFC 8032 section 5.1)
 *   0x71       payload encoding: DAG-CBOR
 *
 * The spec's fixtures carry exactly this header (base64 `NAHtAe0BE3E`).
 */
export const ED25519_DAG_CBOR_HEADER = Uint8Array.of(0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71)

/** Varsig signature algorithm prefixes (Varsig v1.0.0, "Signature Algorithm"), for naming what is refused. */
const ALGORITHMS: Record<number, string> = { 0xed: 'EdDSA', 0xec: 'ECDSA', 0x1205: 'RSASSA-PKCS #1 v1.5', 0xb1: 'BLS12-381' }
const ENCODINGS: Record<number, string> = { 0x5f: 'raw bytes', 0x71: 'DAG-CBOR', 0x0129: 'DAG-JSON', 0xe191: 'EIP-191' }

/**
 * Checks that a header is the Ed25519 + DAG-CBOR header; otherwise throws a `UcanError` that
 * names the part that differs, so "unsupported algorithm" is told apart from "damaged".
 */
export function checkVarsigHeader (header: Uint8Array): void {
  if (header.length === ED25519_DAG_CBOR_HEADER.length && header.every((b, i) => b === ED25519_DAG_CBOR_HEADER[i])) return
  const fields: number[] = []
  let offset = 0
  while (offset < header.length && fields.length < 6) {
    const read = readVarint(header, offset)
    if (read === undefined) throw new UcanError('the varsig header is damaged: a field is not a minimal unsigned varint')
    fields.push(read.value)
    offset = read.next
  }
  const [prefix, version, algorithm, curve, hash, encoding] = fields
  if (prefix !== 0x34) throw new UcanError('the signature header is not a varsig (it must start with 0x34)')
  if (version !== 0x01) throw new UcanError(`the varsig header has version ${String(version)}; only varsig v1 is supported`)
  if (algorithm !== 0xed) {
    const name = algorithm === undefined ? 'no algorithm' : ALGORITHMS[algorithm] ?? `algorithm 0x${algorithm.toString(16)}`
    throw new UcanError(`the token is signed with ${name}; Twin accepts only Ed25519 signatures`)
  }
  if (curve !== 0xed) throw new UcanError('the token is signed with an EdDSA curve other than Ed25519; Twin accepts only Ed25519')
  if (hash !== 0x13) throw new UcanError('the varsig header names a hash other than SHA2-512 for Ed25519')
  if (encoding !== 0x71) {
    const name = encoding === undefined ? 'no payload encoding' : ENCODINGS[encoding] ?? `encoding 0x${encoding.toString(16)}`
    throw new UcanError(`the varsig header names ${name}; UCAN payloads are signed as DAG-CBOR`)
  }
  throw new UcanError('the varsig header has bytes after its last field')
}

/** An unsigned LEB128 varint of at most 4 bytes, in its minimal form (multiformats unsigned-varint). */
function readVarint (bytes: Uint8Array, offset: number): { value: number, next: number } | undefined {
  let value = 0
  for (let i = 0; i < 4; i++) {
    const b = bytes[offset + i]
    if (b === undefined) return undefined
    value += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) {
      if (i > 0 && b === 0) return undefined // a trailing zero byte: not minimal
      return { value, next: offset + i + 1 }
    }
  }
  return undefined
}
