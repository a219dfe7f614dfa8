import type { KeyObject } from 'node:crypto'
import type { TwinRecord } from '../net/record.js'
import { createEnvelope, type Body, type Envelope, type Kind } from './envelope.js'
import type { Peers } from './peers.js'
import type { Timing } from './timing.js'

/** The twin's own keys, as messaging needs them. */
export interface Self {
  id: string
  sequence: number
  signingKey: KeyObject
  encryptionKey: KeyObject
  encryptionPublic: Uint8Array
}

export interface SealOptions {
  id?: Uint8Array
  seq?: number
  cid?: Uint8Array
  ttlMs?: number
  now?: number
}

/** Seals and signs envelopes from this twin to the twin of a verified record. */
export class Sealer {
  constructor (private readonly self: Self, private readonly peers: Peers, private readonly timing: Timing) {}

  seal (record: TwinRecord, kind: Kind, body: Body, o: SealOptions = {}): { bytes: Uint8Array, envelope: Envelope } {
    this.peers.learn(record)
    return createEnvelope({
      from: this.self.id,
      fromKeySeq: this.self.sequence,
      signingKey: this.self.signingKey,
      to: record.state.id,
      toKeySeq: record.state.sequence,
      toEncryptionKey: record.state.keys.encryption,
      kind,
      body,
      ...(o.id === undefined ? {} : { id: o.id }),
      ...(o.seq === undefined ? {} : { seq: o.seq }),
      ...(o.cid === undefined ? {} : { cid: o.cid }),
      ...(o.ttlMs === undefined ? {} : { ttlMs: o.ttlMs }),
      now: o.now ?? this.timing.now()
    })
  }
}
