import type { KeyObject } from 'node:crypto'
import type { TwinRecord } from '../net/index.js'
import type { Body, Kind } from './body.js'
import { createEnvelope } from './envelope.js'
import { createEnvelopeV2, signEnvelopeV2 } from './envelope-v2.js'
import type { Peers } from './peers.js'
import { SendSessions } from './session.js'
import type { Timing } from './timing.js'

/** The envelope versions this code reads and writes, newest last. */
export const ENVELOPE_VERSIONS: readonly number[] = [1, 2]

/** The twin's own keys, as messaging needs them. */
export interface Self {
  id: string
  sequence: number
  signingKey: KeyObject
  encryptionKey: KeyObject
  encryptionPublic: Uint8Array
  /** Envelope versions this twin reads and writes (default: all, `ENVELOPE_VERSIONS`); `[1]` behaves as a twin from before version 2. */
  envelopes?: readonly number[]
}

export interface SealOptions {
  id?: Uint8Array
  seq?: number
  cid?: Uint8Array
  ttlMs?: number
  now?: number
  /**
   * Signs the envelope now: for one kept in the outbox, which may be left at a relay on any
   * attempt. Without it, a version 2 envelope is signed only if it must go through a relay.
   */
  signed?: boolean
}

/** A sealed envelope: the bytes to write on a direct channel, and the bytes a relay will keep. */
export interface Sealed {
  id: Uint8Array
  created: number
  expires: number
  /** The envelope as written on a direct channel (a version 2 one may be unsigned). */
  bytes: Uint8Array
  /** The envelope signed by its sender, as relays require; signs it on first use. */
  forRelay: () => Uint8Array
}

/**
 * Seals envelopes from this twin to the twin of a verified record, in the newest version both
 * read: version 2 (a session per recipient, docs/PROTOCOL.md section 11a) when the recipient's
 * record advertises it, else version 1.
 */
export class Sealer {
  private readonly sessions: SendSessions
  private readonly writesV2: boolean

  constructor (private readonly self: Self, private readonly peers: Peers, private readonly timing: Timing) {
    this.sessions = new SendSessions(self, () => timing.now())
    this.writesV2 = (self.envelopes ?? ENVELOPE_VERSIONS).includes(2)
  }

  seal (record: TwinRecord, kind: Kind, body: Body, o: SealOptions = {}): Sealed {
    this.peers.learn(record)
    const header = {
      from: this.self.id,
      fromKeySeq: this.self.sequence,
      to: record.state.id,
      toKeySeq: record.state.sequence,
      kind,
      ...(o.id === undefined ? {} : { id: o.id }),
      ...(o.seq === undefined ? {} : { seq: o.seq }),
      ...(o.cid === undefined ? {} : { cid: o.cid }),
      ...(o.ttlMs === undefined ? {} : { ttlMs: o.ttlMs }),
      now: o.now ?? this.timing.now()
    }
    if (!this.writesV2 || !record.net.envelopes.includes(2)) {
      const { envelope, bytes } = createEnvelope({ ...header, signingKey: this.self.signingKey, toEncryptionKey: record.state.keys.encryption, body })
      return { id: envelope.id, created: envelope.created, expires: envelope.expires, bytes, forRelay: () => bytes }
    }
    const { session, n } = this.sessions.next(record.state.id, record.state.sequence, record.state.keys.encryption)
    const { envelope, bytes } = createEnvelopeV2({ ...header, body, session, n, ...(o.signed === true ? { signingKey: this.self.signingKey } : {}) })
    let signed = envelope.sig === null ? undefined : bytes
    return {
      id: envelope.id,
      created: envelope.created,
      expires: envelope.expires,
      bytes,
      forRelay: () => (signed ??= signEnvelopeV2(envelope, this.self.signingKey))
    }
  }

  /** Forgets the sending sessions (the twin stops): their keys are zeroed. */
  clear (): void {
    this.sessions.clear()
  }
}
