import type { PeerId, Stream } from '@libp2p/interface'
import { z } from 'zod'
import { RequestStream, FrameStream, peerAddress, type TwinLibp2p } from '../net/index.js'
import { bytesSchema, encodeCbor } from '../wire/index.js'
import { RelayError } from './errors.js'
import { MAILBOX_PROTOCOL, MAX_MAILBOX_REQUEST_BYTES } from './service.js'

const depositReplySchema = z.union([
  z.object({ ok: bytesSchema(16) }),
  z.object({ no: bytesSchema(16).nullable(), why: z.string().max(64), msg: z.string().max(1000).optional() })
])
export type DepositReply = z.infer<typeof depositReplySchema>

export interface RelayClientOptions {
  /** This twin's current record, attached to a deposit the relay refused as `unknown-sender`. */
  record?: () => Uint8Array
}

const DIAL_TIMEOUT_MS = 5_000
const REPLY_TIMEOUT_MS = 15_000

/**
 * A twin's side of one relay: deposits envelopes for others, looks up twin records, and keeps
 * a subscription open so the relay pushes envelopes for this twin as soon as they arrive
 * (no polling). Reconnects by itself while started.
 */
export class RelayClient {
  readonly peerId: PeerId
  private readonly requests: RequestStream
  private subscription: { stop: boolean, frames?: FrameStream, record: Uint8Array, wake?: () => void } | undefined

  constructor (private readonly node: TwinLibp2p, readonly address: string, private readonly options: RelayClientOptions = {}) {
    const { ma, peerId } = peerAddress(address)
    this.peerId = peerId
    void this.node.peerStore.merge(peerId, { multiaddrs: [ma.decapsulate('/p2p')] }).catch(() => {})
    this.requests = new RequestStream(
      async () => new FrameStream(await this.dial()),
      message => new RelayError('RELAY_UNREACHABLE', `relay ${this.peerId.toString()}: ${message}`),
      REPLY_TIMEOUT_MS
    )
  }

  private async dial (): Promise<Stream> {
    try {
      return await this.node.dialProtocol(this.peerId, MAILBOX_PROTOCOL, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
    } catch (err) {
      throw new RelayError('RELAY_UNREACHABLE', `cannot reach relay ${this.peerId.toString()}: ${(err as Error).message}`)
    }
  }

  /**
   * Leaves an envelope in the relay's mailbox for its recipient. A relay that does not know
   * this twin (or knows an older record) answers `unknown-sender`; the deposit is then made
   * once more with this twin's record attached, so the relay can check the signature.
   */
  async deposit (envelope: Uint8Array): Promise<DepositReply> {
    const first = await this.put({ op: 'put', env: envelope })
    if (!('no' in first) || first.why !== 'unknown-sender' || this.options.record === undefined) return first
    const frame = { op: 'put' as const, env: envelope, rec: this.options.record() }
    // Requests to a relay may carry a record next to an envelope at its limit; a larger one
    // (a record over its own limit) cannot be sent: the relay's answer stands.
    if (encodeCbor(frame).length > MAX_MAILBOX_REQUEST_BYTES) return first
    return await this.put(frame)
  }

  private async put (frame: { op: 'put', env: Uint8Array, rec?: Uint8Array }): Promise<DepositReply> {
    const parsed = depositReplySchema.safeParse(await this.requests.request(frame))
    if (!parsed.success) throw new RelayError('RELAY_PROTOCOL', `relay ${this.peerId.toString()} answered a deposit with something else than a deposit reply`)
    return parsed.data
  }

  /** The relay's copy of a twin's record, if it has one. */
  async lookup (id: string): Promise<Uint8Array | undefined> {
    const r = await this.requests.request({ op: 'get', id }) as { rec?: Uint8Array | null }
    return r.rec ?? undefined
  }

  /**
   * Keeps a subscription open: `onEnvelopes` gets each pushed batch and returns the ids to
   * acknowledge (those stored or refused for good); the relay deletes acknowledged envelopes.
   * `onState` learns when the subscription is up or down, and with it up, the envelope versions
   * the relay keeps (`[1]` for a relay that does not say).
   */
  subscribe (record: Uint8Array, onEnvelopes: (envelopes: Uint8Array[]) => Promise<Uint8Array[]>, onState?: (up: boolean, relay?: { envelopes: number[] }) => void): void {
    if (this.subscription !== undefined) { this.updateRecord(record); return }
    const sub: { stop: boolean, frames?: FrameStream, record: Uint8Array, wake?: () => void } = { stop: false, record }
    this.subscription = sub
    void (async () => {
      let delay = 250
      while (!sub.stop) {
        try {
          const frames = new FrameStream(await this.dial())
          sub.frames = frames
          await frames.write({ op: 'sub', rec: sub.record })
          const first = await frames.read() as { ok?: boolean, err?: string, envelopes?: unknown } | undefined
          if (first?.ok !== true) throw new Error(first?.err ?? 'subscription refused')
          const envelopes = Array.isArray(first.envelopes) ? first.envelopes.filter((v): v is number => Number.isSafeInteger(v)) : [1]
          onState?.(true, { envelopes })
          delay = 250
          while (true) {
            const f = await frames.read() as { env?: Uint8Array[] } | undefined
            if (f === undefined) break
            if (Array.isArray(f.env) && f.env.length > 0) {
              const ids = await onEnvelopes(f.env)
              if (ids.length > 0) await frames.write({ op: 'ack', ids })
            }
          }
        } catch {
          // retried below
        }
        sub.frames?.abort('reconnecting')
        sub.frames = undefined
        onState?.(false)
        if (sub.stop) break
        await new Promise<void>(resolve => {
          const t = setTimeout(resolve, delay)
          sub.wake = () => { clearTimeout(t); resolve() }
        })
        delay = Math.min(delay * 2, 5_000)
      }
    })()
  }

  /** Re-subscribes with a newer record (new addresses after a restart or reservation). */
  updateRecord (record: Uint8Array): void {
    if (this.subscription === undefined) return
    this.subscription.record = record
    this.subscription.frames?.abort('record updated')
    this.subscription.wake?.()
  }

  stop (): void {
    if (this.subscription !== undefined) {
      this.subscription.stop = true
      this.subscription.frames?.abort('stopping')
      this.subscription.wake?.()
    }
    this.requests.close()
  }
}
