import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { FrameStream, RequestStream, whileProgressing, type Progress, type TwinLibp2p } from '../net/index.js'
import { BackendError, type AuditProof, type ShardBackend } from '../shards/index.js'
import { DownBackoff } from './backoff.js'
import { storageCodec } from './frame-codec.js'
import { Lanes } from './lanes.js'
import { MAX_STORAGE_FRAME, STORAGE_PROTOCOL } from './service.js'

/** Long enough for a stale direct address to fail and a circuit through a relay to open. */
const DIAL_TIMEOUT_MS = 10_000
const REPLY_TIMEOUT_MS = 60_000
/** Streams per storage node: enough to keep its disk and the connection busy while one request is being written. */
const LANES = 4
const P2P_CODE = 421

type Reply = Record<string, unknown> & { err?: string, msg?: string }

/** Where a storage node may be, and what to tell about it: the vault keeps this up to date. */
export interface StorageNodeTarget {
  /** The node's peer id. */
  peer: string
  /** The owner twin's id, to name it in what its operator must run. */
  owner: string
  /** Addresses known for the node (each ending in /p2p/<peer>): given when it was added, learned since. */
  addresses: () => string[]
  /** The twin's own relays: the node may keep a reservation there too. */
  relays: () => string[]
  /** An invite's one-time secret, shown with the first hello. */
  invite?: Uint8Array
  /** Called with the address of each connection that worked. */
  onConnected?: (address: string) => void
}

/**
 * A storage node seen from its owner twin: a ShardBackend over a few long-lived streams
 * (lanes), each opened with the twin's record (`hello`) and reopened after a failure. Requests
 * are pipelined on each stream; the node answers a stream's requests in order. A node whose
 * last attempt failed says it is `down` for a while (DownBackoff): the vault's reads and puts
 * go to other nodes meanwhile instead of waiting for a dial per chunk.
 *
 * The node is found by its peer id, the way twins find each other: each time a stream opens,
 * every address known for it (direct ones first), circuits through the relays it uses (they
 * are among its addresses), and circuits through the twin's own relays are offered to libp2p,
 * which dials them in that order; once connected, identify tells the twin the node's current
 * addresses. A node that restarted on another port or sits behind a NAT is therefore found
 * again as long as one relay it uses is reachable.
 */
export class StorageNodeBackend implements ShardBackend {
  readonly id: string
  readonly peerId: PeerId
  private readonly lanes: Lanes
  private readonly backoff = new DownBackoff()
  /** When bytes last came from the node on any lane: a lane waiting behind the others waits while they move. */
  private readonly progress: Progress = { last: 0 }
  private invite: Uint8Array | undefined

  constructor (private readonly node: TwinLibp2p, private readonly target: StorageNodeTarget, private readonly record: () => Uint8Array) {
    this.peerId = peerIdFromString(target.peer)
    this.id = this.peerId.toString()
    this.invite = target.invite
    this.lanes = new Lanes(() => new RequestStream(
      async () => await this.open(),
      message => new BackendError('unreachable', `storage node ${this.id} is unreachable: ${message}`),
      REPLY_TIMEOUT_MS
    ), LANES)
  }

  /** Every address to try, for the peer store: the node's own, then circuits through the twin's relays. */
  private candidates (): string[] {
    const own = this.target.addresses()
    const viaRelays = this.target.relays().map(r => `${r}/p2p-circuit/p2p/${this.id}`)
    const out: string[] = []
    for (const a of [...own, ...viaRelays]) {
      try {
        const ma = multiaddr(a)
        if (ma.getComponents().findLast(c => c.name === 'p2p')?.value !== this.id) continue
        out.push(ma.decapsulateCode(P2P_CODE).toString())
      } catch { /* a malformed remembered address is skipped */ }
    }
    return [...new Set(out)]
  }

  /** Opens a stream and says hello with the twin's record: the node then acts for this twin only. */
  private async open (): Promise<FrameStream> {
    let frames: FrameStream
    try {
      await this.node.peerStore.merge(this.peerId, { multiaddrs: this.candidates().map(a => multiaddr(a)) })
      const connection = await this.node.dial(this.peerId, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      // On a busy slow link the node's answer to the negotiation waits behind its answers on the other lanes.
      const waiting = whileProgressing(() => this.progress.last, REPLY_TIMEOUT_MS, 10 * REPLY_TIMEOUT_MS)
      try {
        frames = new FrameStream(await connection.newStream(STORAGE_PROTOCOL, { signal: waiting.signal }), { maxFrameBytes: MAX_STORAGE_FRAME, codec: storageCodec, progress: this.progress })
      } finally {
        waiting.clear()
      }
      this.target.onConnected?.(connection.remoteAddr.toString())
      await frames.write({ op: 'hello', rec: this.record(), ...(this.invite === undefined ? {} : { inv: this.invite }) })
    } catch (err) {
      throw new BackendError('unreachable', `storage node ${this.id} is unreachable: ${(err as Error).message}`)
    }
    // The answer to a hello on a new lane may queue behind the other lanes' answers on a slow link.
    const hello = await frames.readUnlessQuiet(REPLY_TIMEOUT_MS).catch(() => undefined) as Reply | undefined
    if (hello?.ok !== true) {
      frames.abort('refused')
      if (hello === undefined) throw new BackendError('unreachable', `storage node ${this.id} did not answer`)
      throw this.refusal(hello, 'hello')
    }
    this.invite = undefined // used up: the node admitted this twin
    return frames
  }

  /** A refusal in words that say what to do; the node's own text is used only for other errors. */
  private refusal (r: Reply, during: 'hello' | 'request' = 'request'): BackendError {
    const node = `storage node ${this.id}`
    const allow = `\`twin storage-node allow ${this.target.owner}\``
    switch (r.err) {
      case 'not-admitted': return new BackendError('not-admitted', `${node} has not admitted this twin: its operator must run ${allow}, or give you an invite (\`twin storage-node invite\`) to add with \`twin storage add TOKEN\``)
      case 'denied': return new BackendError('denied', `the operator of ${node} refused this twin; only they can admit it again, with ${allow}`)
      case 'invite-used': return new BackendError('not-admitted', `${node} refused the invite: another twin already used it; ask its operator for a new one`)
      case 'invite-expired': return new BackendError('not-admitted', `${node} refused the invite: it expired; ask its operator for a new one`)
      case 'invite-unknown': return new BackendError('not-admitted', `${node} does not know this invite (it was made for another node, or the node's database was reset); ask its operator for a new one`)
      case 'over-quota': case 'not-found': return new BackendError(r.err, `${node}: ${r.msg ?? r.err}`)
      default: {
        const why = typeof r.msg === 'string' ? r.msg : 'no reason given'
        return new BackendError('rejected', during === 'hello' ? `${node} refused this twin: ${why}` : `${node}: ${why}`)
      }
    }
  }

  /** True for a while after an attempt failed (see ShardBackend.down). */
  get down (): boolean {
    return this.backoff.down
  }

  /** One request on the least busy lane; its outcome tells the backoff whether the node is up. */
  private async request (frame: unknown): Promise<Reply> {
    try {
      const reply = await this.lanes.request(frame) as Reply
      this.backoff.succeeded()
      return reply
    } catch (err) {
      if (err instanceof BackendError && err.reason === 'unreachable') this.backoff.failed()
      throw err
    }
  }

  private check (r: Reply): Reply {
    if (typeof r.err === 'string') throw this.refusal(r)
    return r
  }

  async put (addr: Uint8Array, data: Uint8Array): Promise<void> {
    this.check(await this.request({ op: 'put', addr, data }))
  }

  async get (addr: Uint8Array): Promise<Uint8Array | undefined> {
    const r = await this.request({ op: 'get', addr })
    if (r.err === 'not-found') return undefined
    this.check(r)
    return r.data instanceof Uint8Array ? r.data : undefined
  }

  async delete (addr: Uint8Array): Promise<void> {
    this.check(await this.request({ op: 'del', addr }))
  }

  async audit (addr: Uint8Array, leaf: number): Promise<AuditProof | undefined> {
    const r = await this.request({ op: 'audit', addr, leaf })
    if (r.err === 'not-found') return undefined
    this.check(r)
    if (!(r.leaf instanceof Uint8Array) || !Array.isArray(r.proof)) return { leaf: new Uint8Array(0), proof: [] }
    return { leaf: r.leaf, proof: (r.proof as unknown[]).filter((p): p is Uint8Array => p instanceof Uint8Array) }
  }

  async list (): Promise<Uint8Array[]> {
    const r = this.check(await this.request({ op: 'list' }))
    return Array.isArray(r.addrs) ? (r.addrs as unknown[]).filter((a): a is Uint8Array => a instanceof Uint8Array) : []
  }

  async stat (): Promise<{ used: number, quota: number | null }> {
    const r = this.check(await this.request({ op: 'stat' }))
    return { used: Number(r.used ?? 0), quota: typeof r.quota === 'number' ? r.quota : null }
  }

  async putRoot (root: Uint8Array): Promise<void> {
    this.check(await this.request({ op: 'put-root', root }))
  }

  async getRoot (): Promise<Uint8Array | undefined> {
    const r = this.check(await this.request({ op: 'get-root' }))
    return r.root instanceof Uint8Array ? r.root : undefined
  }

  close (): void {
    this.lanes.close()
  }
}
