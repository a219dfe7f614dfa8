import type { Resolver } from '../net/resolver.js'
import type { TwinRecord } from '../net/record.js'
import {
  checkEnvelopeTiming, decodeEnvelope, openEnvelope, verifyEnvelopeSignature, type Body, type EnvelopeHeader
} from './envelope.js'
import { EnvelopeRejected } from './errors.js'
import type { Peers } from './peers.js'
import type { Self } from './sealer.js'

/** An envelope that passed every check: its header and its opened body. */
export interface Opened { header: EnvelopeHeader, body: Body }

/**
 * The checks of one inbound envelope, in the order of docs/PROTOCOL.md, section 11 ("Receiving");
 * the first failure throws an `EnvelopeRejected` with its reason. `onDecoded` learns the
 * envelope's id and sender as soon as they are known, so a refusal can name them.
 */
export class Opener {
  constructor (private readonly self: Self, private readonly resolver: Resolver, private readonly peers: Peers) {}

  async open (bytes: Uint8Array, now: number, onDecoded: (id: Uint8Array, from: string) => void): Promise<Opened> {
    const env = decodeEnvelope(bytes)
    onDecoded(env.id, env.from)
    checkEnvelopeTiming(env, this.self.id, now)
    const record = await this.senderRecord(env.from, env.fk)
    const keys = record.state.history[env.fk]
    if (keys === undefined) throw new EnvelopeRejected('unknown-sender', 'the sender\'s key sequence is unknown')
    verifyEnvelopeSignature(env, keys.signing)
    if (env.fk < record.state.sequence) throw new EnvelopeRejected('rotated-key', 'the envelope is signed by a key the sender has rotated away')
    if (env.tk !== this.self.sequence) throw new EnvelopeRejected('stale-recipient-key', `the envelope is sealed to key sequence ${env.tk}; this twin is at ${this.self.sequence}`)
    const body = openEnvelope(env, this.self.encryptionKey, this.self.encryptionPublic)
    const { body: _sealed, sig: _sig, ...header } = env
    return { header, body }
  }

  /** The sender's verified record: cached, or looked up when unknown or older than the key that signed. */
  private async senderRecord (from: string, fk: number): Promise<TwinRecord> {
    let record = this.resolver.cached(from)
    if (record === undefined || fk > record.state.sequence) {
      try {
        record = await this.resolver.resolve(from, { refresh: true })
      } catch {
        throw new EnvelopeRejected('unknown-sender', `the sender ${from} cannot be found to check its signature`)
      }
    }
    this.peers.learn(record)
    return record
  }
}
