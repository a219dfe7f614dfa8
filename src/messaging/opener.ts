import type { Resolver, TwinRecord } from '../net/index.js'
import type { Body } from './body.js'
import {
  checkEnvelopeTiming, decodeEnvelope, openEnvelope, verifyEnvelopeSignature, type AnyEnvelope, type Envelope, type EnvelopeHeader
} from './envelope.js'
import { openWithSession, sessionOf, type EnvelopeV2 } from './envelope-v2.js'
import { EnvelopeRejected } from './errors.js'
import type { Peers } from './peers.js'
import { ENVELOPE_VERSIONS, type Self } from './sealer.js'
import { ReceiveSessions, verifySessionSignature } from './session.js'

/** An envelope that passed every check: its header and its opened body. */
export interface Opened { header: EnvelopeHeader, body: Body }

/**
 * The checks of one inbound envelope, in the order of docs/PROTOCOL.md, section 11 ("Receiving");
 * the first failure throws an `EnvelopeRejected` with its reason. `onDecoded` learns the
 * envelope's id and sender as soon as they are known, so a refusal can name them.
 *
 * A version 1 envelope is authenticated by its signature. A version 2 envelope is authenticated
 * by its session: the session signature is checked the first time a session is seen, and only
 * the sender (or this twin) can seal a body that opens with the session's key; its own signature
 * is for relays, and is not checked here.
 */
export class Opener {
  private readonly sessions = new ReceiveSessions()

  constructor (private readonly self: Self, private readonly resolver: Resolver, private readonly peers: Peers) {}

  async open (bytes: Uint8Array, now: number, onDecoded: (id: Uint8Array, from: string) => void): Promise<Opened> {
    const env = decodeEnvelope(bytes)
    onDecoded(env.id, env.from)
    // A twin that reads only version 1 refuses version 2 as a twin from before it did.
    if (env.v === 2 && !(this.self.envelopes ?? ENVELOPE_VERSIONS).includes(2)) throw new EnvelopeRejected('malformed', 'envelope is not valid: v Invalid input: expected 1')
    checkEnvelopeTiming(env, this.self.id, now)
    const record = await this.senderRecord(env.from, env.fk)
    const keys = record.state.history[env.fk]
    if (keys === undefined) throw new EnvelopeRejected('unknown-sender', 'the sender\'s key sequence is unknown')
    const body = env.v === 1 ? this.openV1(env, record, keys.signing) : this.openV2(env, record, keys.signing)
    return { header: headerOf(env), body }
  }

  /** Forgets every session (the twin stops): their keys are zeroed. */
  clear (): void {
    this.sessions.clear()
  }

  private openV1 (env: Envelope, record: TwinRecord, signingKey: Uint8Array): Body {
    verifyEnvelopeSignature(env, signingKey)
    this.checkKeySequences(env, record)
    return openEnvelope(env, this.self.encryptionKey, this.self.encryptionPublic)
  }

  private openV2 (env: EnvelopeV2, record: TwinRecord, signingKey: Uint8Array): Body {
    const init = sessionOf(env)
    let session = this.sessions.get(init)
    if (session === undefined && !verifySessionSignature(init, env.es, signingKey)) {
      throw new EnvelopeRejected('bad-signature', 'the envelope\'s session signature does not verify')
    }
    this.checkKeySequences(env, record)
    if (session === undefined) {
      try {
        session = this.sessions.add(init, this.self.encryptionKey, this.self.encryptionPublic)
      } catch {
        throw new EnvelopeRejected('undecryptable', 'the envelope cannot be opened with this twin\'s key') // a low-order ephemeral key
      }
    }
    const body = openWithSession(env, session.keys)
    // Events may be sent again (same bytes) until acknowledged: the store drops duplicates by id.
    // Anything else is sent once, so its counter must be new.
    if (env.kind !== 'event' && !session.window.accept(env.n)) {
      throw new EnvelopeRejected('replay', `envelope ${env.n} of this session was received before, or is too old to tell`)
    }
    return body
  }

  private checkKeySequences (env: AnyEnvelope, record: TwinRecord): void {
    if (env.fk < record.state.sequence) throw new EnvelopeRejected('rotated-key', 'the envelope is signed by a key the sender has rotated away')
    if (env.tk !== this.self.sequence) throw new EnvelopeRejected('stale-recipient-key', `the envelope is sealed to key sequence ${env.tk}; this twin is at ${this.self.sequence}`)
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

function headerOf (env: AnyEnvelope): EnvelopeHeader {
  return { v: env.v, id: env.id, from: env.from, fk: env.fk, to: env.to, tk: env.tk, created: env.created, expires: env.expires, kind: env.kind, cid: env.cid, seq: env.seq }
}
