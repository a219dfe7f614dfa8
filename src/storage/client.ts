import type { PeerId } from '@libp2p/interface'
import { FrameStream } from '../net/frames.js'
import { RequestStream } from '../net/request-stream.js'
import { peerAddress, type TwinLibp2p } from '../net/node.js'
import { BackendError, type AuditProof, type BackendErrorCode, type ShardBackend } from '../vault/backend.js'
import { MAX_STORAGE_FRAME, STORAGE_PROTOCOL } from './service.js'

const DIAL_TIMEOUT_MS = 5_000
const REPLY_TIMEOUT_MS = 60_000

type Reply = Record<string, unknown> & { err?: string, msg?: string }

/**
 * A storage node seen from its owner twin: a ShardBackend over one long-lived stream, opened
 * with the twin's record (`hello`) and reopened after a failure. Requests are pipelined; the
 * node answers them in order.
 */
export class StorageNodeBackend implements ShardBackend {
  readonly id: string
  readonly peerId: PeerId
  private readonly requests: RequestStream

  constructor (private readonly node: TwinLibp2p, readonly address: string, private readonly record: () => Uint8Array) {
    const { ma, peerId } = peerAddress(address)
    this.peerId = peerId
    this.id = peerId.toString()
    void this.node.peerStore.merge(peerId, { multiaddrs: [ma.decapsulate('/p2p')] }).catch(() => {})
    this.requests = new RequestStream(
      async () => await this.open(),
      message => new BackendError('unreachable', `storage node ${this.id} is unreachable: ${message}`),
      REPLY_TIMEOUT_MS
    )
  }

  /** Opens a stream and says hello with the twin's record: the node then acts for this twin only. */
  private async open (): Promise<FrameStream> {
    let frames: FrameStream
    try {
      frames = new FrameStream(await this.node.dialProtocol(this.peerId, STORAGE_PROTOCOL, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }), MAX_STORAGE_FRAME)
      await frames.write({ op: 'hello', rec: this.record() })
    } catch (err) {
      throw new BackendError('unreachable', `storage node ${this.id} is unreachable: ${(err as Error).message}`)
    }
    const hello = await frames.read({ signal: AbortSignal.timeout(REPLY_TIMEOUT_MS) }).catch(() => undefined) as Reply | undefined
    if (hello?.ok !== true) {
      frames.abort('refused')
      throw new BackendError(hello === undefined ? 'unreachable' : 'rejected', `storage node ${this.id} refused this twin: ${hello?.msg ?? 'no answer'}`)
    }
    return frames
  }

  private async request (frame: unknown): Promise<Reply> {
    return await this.requests.request(frame) as Reply
  }

  private check (r: Reply): Reply {
    if (typeof r.err === 'string') throw new BackendError((['over-quota', 'rejected', 'not-found'].includes(r.err) ? r.err : 'rejected') as BackendErrorCode, `storage node ${this.id}: ${r.msg ?? r.err}`)
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
    this.requests.close()
  }
}
