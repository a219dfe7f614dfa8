import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { MessagingError } from './errors.js'
import { FrameStream, type TwinLibp2p, type TwinRecord } from '../net/index.js'
import type { Sealed } from './sealer.js'
import type { Timing } from './timing.js'

/** Twin's direct messaging protocol; see docs/PROTOCOL.md, "Delivery". */
export const MESSAGE_PROTOCOL = '/twin/msg/1.0.0'

/** Writes one frame back on the stream an envelope came in on. */
export type Reply = (frame: unknown) => void

/** What arrives on the channels this twin opened: replies to what it wrote there. */
export interface ChannelListener {
  /** An envelope (an ack, a response or an error) the other twin wrote back. */
  envelope: (bytes: Uint8Array, reply: Reply) => void
  /** The other twin refused envelope `id` (or one it could not read, `id` empty). */
  refused: (id: Uint8Array, why: string, message: string) => void
  /** The channel to `twin` closed: what was written on it and not acknowledged must be sent again. */
  closed: (twin: string) => void
}

/** One long-lived outbound stream of the direct protocol to one peer. */
export class Channel {
  constructor (readonly frames: FrameStream, readonly twin: string) {}
}

/**
 * What messaging needs of a relay: leaving an envelope in its mailbox. The daemon hands in
 * its RelayClients (src/relay), which sits above messaging, so messaging names only this.
 */
export interface RelayMailbox {
  /** `ok` with the envelope's id once the relay keeps it, else `no` with the relay's reason. */
  deposit: (envelope: Uint8Array) => Promise<{ ok: Uint8Array } | { no: Uint8Array | null, why: string, msg?: string }>
}

/**
 * The direct channels this twin opened, one per peer, dialed on first use and again after
 * they close; and the one-shot path for envelopes not kept in the outbox: direct, else left at
 * the recipient's relays.
 */
export class Channels {
  private readonly open = new Map<string, Promise<Channel>>()
  private running = false

  constructor (
    private readonly node: TwinLibp2p,
    private readonly relayClient: (address: string) => RelayMailbox,
    private readonly timing: Timing,
    private readonly listener: ChannelListener
  ) {}

  /** The open channel to the twin of `record`, dialing it if needed. */
  async get (record: TwinRecord): Promise<Channel> {
    const peer = record.net.peer
    if (peer === undefined) throw new MessagingError('UNREACHABLE', 'the twin has no network address')
    const existing = this.open.get(peer)
    if (existing !== undefined) {
      const ch = await existing.catch(() => undefined) // a failed dial is replaced below
      if (ch !== undefined && !ch.frames.closed) return ch
      if (this.open.get(peer) === existing) this.open.delete(peer)
    }
    const opening = this.dial(record, peer)
    this.open.set(peer, opening)
    opening.catch(() => { if (this.open.get(peer) === opening) this.open.delete(peer) })
    return await opening
  }

  /**
   * Sends one envelope that is not kept in the outbox (request, response, ack): direct, else
   * through relays, which get it signed.
   */
  async sendOne (record: TwinRecord, sealed: Sealed): Promise<void> {
    try {
      const ch = await this.get(record)
      await ch.frames.write({ e: sealed.bytes })
      return
    } catch {
      // Not reachable directly (no address, dial failed, stream broke): the relays are next.
    }
    for (const address of record.net.relays) {
      try {
        const r = await this.relayClient(address).deposit(sealed.forRelay())
        if ('ok' in r) return
      } catch {
        // This relay is unreachable: the next one may not be.
      }
    }
    throw new MessagingError('UNREACHABLE', `twin ${record.state.id} cannot be reached directly or through a relay`)
  }

  start (): void {
    this.running = true
  }

  /** Aborts every channel; a channel closed by stopping is not reported as closed. */
  stop (): void {
    this.running = false
    for (const p of this.open.values()) {
      p.then(c => { c.frames.abort('stopping') }, () => { /* never opened: nothing to close */ })
    }
    this.open.clear()
  }

  private async dial (record: TwinRecord, peer: string): Promise<Channel> {
    const peerId = peerIdFromString(peer)
    const addrs = record.net.addrs.map(a => {
      const ma = multiaddr(a)
      return ma.getComponents().at(-1)?.name === 'p2p' ? ma : ma.encapsulate(`/p2p/${peer}`)
    })
    const target = this.node.getConnections(peerId).length > 0 || addrs.length === 0 ? peerId : addrs
    const stream = await this.node.dialProtocol(target, MESSAGE_PROTOCOL, { signal: AbortSignal.timeout(this.timing.dialTimeoutMs), maxOutboundStreams: 1024 })
    const ch = new Channel(new FrameStream(stream), record.state.id)
    void this.readReplies(ch)
    return ch
  }

  /** Reads what the other twin writes back on a channel until it closes. */
  private async readReplies (ch: Channel): Promise<void> {
    const reply: Reply = frame => {
      ch.frames.write(frame).catch(() => { /* the channel broke: the other side's sender retries */ })
    }
    try {
      while (true) {
        const frame = await ch.frames.read() as { e?: unknown, r?: unknown, why?: unknown, msg?: unknown } | undefined
        if (frame === undefined) break
        if (frame.e instanceof Uint8Array) this.listener.envelope(frame.e, reply)
        else if (frame.r instanceof Uint8Array) this.listener.refused(frame.r, String(frame.why ?? 'refused'), String(frame.msg ?? ''))
      }
    } catch {
      // The stream broke or sent a bad frame: it is closed below and dialed again on next use.
    }
    ch.frames.abort('closed')
    if (this.running) this.listener.closed(ch.twin)
  }
}
