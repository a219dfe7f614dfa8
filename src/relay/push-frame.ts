import { MAX_FRAME_BYTES } from '../net/index.js'

/** Most envelopes pushed in one frame, whatever their size (keeps each acknowledgement small). */
export const PUSH_MAX_ENVELOPES = 256

/** Bytes of a CBOR head (major type and argument) for the argument `n`: RFC 8949, section 3. */
function cborHead (n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9
}

/**
 * The exact encoded size of a push frame `{ env: [envelope, ...] }` holding envelopes of these
 * sizes: a map of one entry (1 byte), the key "env" (4), the array head, and each byte string
 * with its head. Computed rather than encoded, so the relay can choose a batch before it reads
 * the envelopes from disk.
 */
export function pushFrameBytes (sizes: readonly number[]): number {
  let total = 1 + 4 + cborHead(sizes.length)
  for (const s of sizes) total += cborHead(s) + s
  return total
}

/**
 * How many of the waiting envelopes (in delivery order) go into the next push frame: as many as
 * fit within `maxFrameBytes` and `PUSH_MAX_ENVELOPES`, in order, never past the limit. The
 * twin refuses a frame over its limit, and a relay that pushed the same oversized frame again
 * would jam the mailbox for good.
 */
export function fillPushFrame (sizes: readonly number[], maxFrameBytes = MAX_FRAME_BYTES): number {
  let count = 0
  let items = 0 // bytes of the envelopes taken so far, with their heads
  for (const s of sizes) {
    if (count === PUSH_MAX_ENVELOPES || 1 + 4 + cborHead(count + 1) + items + cborHead(s) + s > maxFrameBytes) break
    items += cborHead(s) + s
    count++
  }
  return count
}
