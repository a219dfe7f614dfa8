import { randomBytes } from 'node:crypto'
import { EnvelopeRejected, MessagingError } from './errors.js'
import { KINDS, type Kind } from './body.js'
import { MAX_CLOCK_SKEW_MS, MAX_TTL_MS, DEFAULT_TTL_MS } from './limits.js'
import { bytes, nullableBytes, oneOf, twinId, uint, type Fields } from './shape.js'

/** The fields every envelope version carries in the clear (docs/PROTOCOL.md, section 11). */
export interface HeaderFields {
  id: Uint8Array
  from: string
  fk: number
  to: string
  tk: number
  created: number
  expires: number
  kind: Kind
  cid: Uint8Array | null
  seq: number
}

/** The clear fields of an envelope of either version, as the receiver hands them on. */
export type EnvelopeHeader = HeaderFields & { v: 1 | 2 }

/** What a sender chooses for a new envelope; the rest comes from the keys and the clock. */
export interface HeaderInput {
  from: string
  fromKeySeq: number
  to: string
  toKeySeq: number
  kind: Kind
  seq?: number
  cid?: Uint8Array | null
  id?: Uint8Array
  now?: number
  ttlMs?: number
}

/** A new random 16-byte message id. */
export function newMessageId (): Uint8Array {
  return new Uint8Array(randomBytes(16))
}

/** The header fields of a new envelope; refuses a lifetime outside the limits. */
export function newHeader (input: HeaderInput): HeaderFields {
  const now = input.now ?? Date.now()
  const ttl = input.ttlMs ?? DEFAULT_TTL_MS
  if (ttl <= 0 || ttl > MAX_TTL_MS) throw new MessagingError('TTL_INVALID', `a message lives between 1 ms and ${MAX_TTL_MS / 86_400_000} days`)
  return {
    id: input.id ?? newMessageId(),
    from: input.from,
    fk: input.fromKeySeq,
    to: input.to,
    tk: input.toKeySeq,
    created: now,
    expires: now + ttl,
    kind: input.kind,
    cid: input.cid ?? null,
    seq: input.seq ?? 0
  }
}

/** Checks the header fields of decoded CBOR, in the order docs/PROTOCOL.md lists them. */
export function checkHeaderFields (f: Fields): HeaderFields {
  return {
    id: bytes(f, 'id', 16),
    from: twinId(f, 'from'),
    fk: uint(f, 'fk'),
    to: twinId(f, 'to'),
    tk: uint(f, 'tk'),
    created: uint(f, 'created'),
    expires: uint(f, 'expires'),
    kind: oneOf(f, 'kind', KINDS),
    cid: nullableBytes(f, 'cid', 16),
    seq: uint(f, 'seq')
  }
}

/** The checks that need no keys: addressed to me, not expired, not from the future, sane lifetime. */
export function checkEnvelopeTiming (env: Pick<HeaderFields, 'to' | 'created' | 'expires'>, me: string, now = Date.now()): void {
  if (env.to !== me) throw new EnvelopeRejected('wrong-recipient', 'the envelope is addressed to another twin')
  checkEnvelopeLifetime(env, now)
}

/** The timing checks alone (not expired, not from the future, sane lifetime), which relays apply too. */
export function checkEnvelopeLifetime (env: Pick<HeaderFields, 'created' | 'expires'>, now = Date.now()): void {
  if (env.expires <= now) throw new EnvelopeRejected('expired', 'the envelope has expired')
  if (env.created > now + MAX_CLOCK_SKEW_MS) throw new EnvelopeRejected('from-the-future', `the envelope was created more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes in the future`)
  if (env.expires - env.created > MAX_TTL_MS || env.expires < env.created) throw new EnvelopeRejected('ttl-too-long', 'the envelope claims a lifetime over the limit')
}
