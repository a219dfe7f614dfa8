/**
 * The head of a CBOR byte string (major type 2) in its shortest form, RFC 8949 sections 3 and
 * 4.2.1, for the few fixed layouts that are written and read by hand so that large byte strings
 * are not copied through the generic codec (an envelope inside a frame, a body inside an envelope).
 */
export function byteStringHead (length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0 || length > 0xffffffff) throw new RangeError(`byte string length out of range: ${length}`)
  if (length < 24) return Uint8Array.of(0x40 + length)
  if (length < 0x100) return Uint8Array.of(0x58, length)
  if (length < 0x10000) return Uint8Array.of(0x59, length >> 8, length & 0xff)
  return Uint8Array.of(0x5a, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff)
}

/**
 * Reads a byte string head at `at`: its length and where its bytes start, or undefined when the
 * item there is not a byte string with a definite length in shortest form, or is truncated.
 */
export function readByteStringHead (bytes: Uint8Array, at: number): { length: number, start: number } | undefined {
  const first = bytes[at]
  if (first === undefined || first >> 5 !== 2) return undefined
  const info = first & 0x1f
  if (info < 24) return fits(bytes, info, at + 1)
  if (info > 26) return undefined
  const size = 1 << (info - 24)
  if (at + 1 + size > bytes.length) return undefined
  let length = 0
  for (let i = 0; i < size; i++) length = length * 256 + (bytes[at + 1 + i] as number)
  if (length < (info === 24 ? 24 : info === 25 ? 0x100 : 0x10000)) return undefined // not the shortest form
  return fits(bytes, length, at + 1 + size)
}

function fits (bytes: Uint8Array, length: number, start: number): { length: number, start: number } | undefined {
  return start + length <= bytes.length ? { length, start } : undefined
}
