import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encodeCbor } from '../../src/wire/index.js'
import { MAX_FRAME_BYTES } from '../../src/net/frames.js'
import { MAX_ENVELOPE_BYTES } from '../../src/messaging/envelope.js'
import { fillPushFrame, pushFrameBytes, PUSH_MAX_ENVELOPES } from '../../src/relay/push-frame.js'

describe('push frames', () => {
  it('computes the exact encoded size of a push frame', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 70_000 }), { maxLength: 300 }), sizes => {
      const frame = encodeCbor({ env: sizes.map(s => new Uint8Array(s)) })
      expect(pushFrameBytes(sizes)).toBe(frame.length)
    }), { numRuns: 60 })
  })

  it('fills a frame up to the limit and never past it, in order', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: MAX_ENVELOPE_BYTES }), { minLength: 1, maxLength: 400 }), sizes => {
      const n = fillPushFrame(sizes)
      expect(n).toBeGreaterThanOrEqual(1) // one envelope at its size limit always fits
      expect(n).toBeLessThanOrEqual(PUSH_MAX_ENVELOPES)
      expect(pushFrameBytes(sizes.slice(0, n))).toBeLessThanOrEqual(MAX_FRAME_BYTES)
      if (n < sizes.length && n < PUSH_MAX_ENVELOPES) expect(pushFrameBytes(sizes.slice(0, n + 1))).toBeGreaterThan(MAX_FRAME_BYTES)
    }), { numRuns: 200 })
    expect(fillPushFrame([200_000, 200_000])).toBe(1)
    expect(fillPushFrame(new Array(5).fill(62_000))).toBe(4)
    expect(fillPushFrame(new Array(1000).fill(10))).toBe(PUSH_MAX_ENVELOPES)
  })
})
