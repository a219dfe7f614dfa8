import type { PeerId } from '@libp2p/interface'
import { FrameStream } from '../net/frames.js'
import { peerAddress, type TwinLibp2p } from '../net/node.js'
import { TwinError } from '../errors.js'
import { MAILBOX_PROTOCOL } from './service.js'

export type DepositReply = { ok: Uint8Array } | { no: Uint8Array | null, why: string }

const DIAL_TIMEOUT_MS = 5_000
const REPLY_TIMEOUT_MS = 15_000

/**
 * A twin's side of one relay: deposits envelopes for others, looks up twin records, and keeps
 * a subscription open so the relay pushes envelopes for this twin as soon as they arrive
 * (no polling). Reconnects by itself while started.
 */
export class RelayClient {
  readonly peerId: PeerId
  private frames: FrameStream | undefined
  private opening: Promise<FrameStream> | undefined
  private waiting: Array<{ resolve: (v: unknown) => void, reject: (e: unknown) => void }> = []
  private subscription: { stop: boolean, frames?: FrameStream, record: Uint8Array, wake?: () => void } | undefined

  constructor (private readonly node: TwinLibp2p, readonly address: string) {
    const { ma, peerId } = peerAddress(address)
    this.peerId = peerId
    void this.node.peerStore.merge(peerId, { multiaddrs: [ma.decapsulate('/p2p')] }).catch(() => {})
  }

  /** Leaves an envelope in the relay's mailbox for its recipient. */
  async deposit (envelope: Uint8Array): Promise<DepositReply> {
    return await this.request({ op: 'put', env: envelope }) as DepositReply
  }

  /** The relay's copy of a twin's record, if it has one. */
  async lookup (id: string): Promise<Uint8Array | undefined> {
    const r = await this.request({ op: 'get', id }) as { rec?: Uint8Array | null }
    return r.rec ?? undefined
  }

  private async request (frame: unknown): Promise<unknown> {
    const frames = await this.requestStream()
    const reply = new Promise<unknown>((resolve, reject) => { this.waiting.push({ resolve, reject }) })
    try {
      await frames.write(frame)
    } catch (err) {
      this.failAll(err)
      throw err
    }
    return await withTimeout(reply, REPLY_TIMEOUT_MS, 'the relay did not answer')
  }

  private async requestStream (): Promise<FrameStream> {
    if (this.frames !== undefined && !this.frames.closed) return this.frames
    this.opening ??= (async () => {
      try {
        const stream = await this.node.dialProtocol(this.peerId, MAILBOX_PROTOCOL, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        const frames = new FrameStream(stream)
        this.frames = frames
        void this.readReplies(frames)
        return frames
      } catch (err) {
        throw new TwinError('RELAY_UNREACHABLE', `cannot reach relay ${this.peerId.toString()}: ${(err as Error).message}`)
      } finally {
        this.opening = undefined
      }
    })()
    return await this.opening
  }

  private async readReplies (frames: FrameStream): Promise<void> {
    try {
      while (true) {
        const f = await frames.read()
        if (f === undefined) break
        this.waiting.shift()?.resolve(f)
      }
      this.failAll(new TwinError('RELAY_CLOSED', 'the relay closed the stream'))
    } catch (err) {
      this.failAll(err)
    } finally {
      if (this.frames === frames) this.frames = undefined
    }
  }

  private failAll (err: unknown): void {
    const w = this.waiting
    this.waiting = []
    for (const x of w) x.reject(err)
    this.frames?.abort('failed')
    this.frames = undefined
  }

  /**
   * Keeps a subscription open: `onEnvelopes` gets each pushed batch and returns the ids to
   * acknowledge (those stored or refused for good); the relay deletes acknowledged envelopes.
   */
  subscribe (record: Uint8Array, onEnvelopes: (envelopes: Uint8Array[]) => Promise<Uint8Array[]>, onState?: (up: boolean) => void): void {
    if (this.subscription !== undefined) { this.updateRecord(record); return }
    const sub: { stop: boolean, frames?: FrameStream, record: Uint8Array, wake?: () => void } = { stop: false, record }
    this.subscription = sub
    void (async () => {
      let delay = 250
      while (!sub.stop) {
        try {
          const stream = await this.node.dialProtocol(this.peerId, MAILBOX_PROTOCOL, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
          const frames = new FrameStream(stream)
          sub.frames = frames
          await frames.write({ op: 'sub', rec: sub.record })
          const first = await frames.read() as { ok?: boolean, err?: string } | undefined
          if (first?.ok !== true) throw new Error(first?.err ?? 'subscription refused')
          onState?.(true)
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
    this.failAll(new TwinError('RELAY_CLOSED', 'stopping'))
  }
}

export async function withTimeout<T> (p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new TwinError('TIMEOUT', message)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}
