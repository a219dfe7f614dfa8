import { join } from 'node:path'
import type { Connection, Stream } from '@libp2p/interface'
import { z } from 'zod'
import { bytesSchema, decodeCbor, encodeCbor } from '../wire/index.js'
import { FrameStream, decodeRecord, type TwinLibp2p } from '../net/index.js'
import { verifyWithContext } from '../identity/index.js'
import { BackendError, FolderShardStore, type ShardAccount } from '../shards/index.js'
import { storageCodec } from './frame-codec.js'
import type { AdmissionStore } from './admission.js'

/** The storage node protocol; see docs/PROTOCOL.md, "Storage nodes". */
export const STORAGE_PROTOCOL = '/twin/storage/1.0.0'
/** Largest frame: a shard of a 4 MiB chunk with k = 1, plus framing. */
export const MAX_STORAGE_FRAME = 5 * 1024 * 1024
/** Largest frame before a twin said hello: its record (64 KiB at most) and framing. */
export const MAX_HELLO_FRAME = 72 * 1024
/**
 * Streams one connection may open to the storage protocol: a twin uses up to four at once
 * (src/storage/lanes.ts), plus room for a lane reopened before the node saw the old one end.
 */
const MAX_INBOUND_STREAMS = 8
/** Signature context of vault root pointers. */
export const ROOT_CONTEXT = 'twin/vault-root/v1'
/** Largest root pointer kept per twin: it is held outside the quota, so it is bounded here. */
export const MAX_ROOT_BYTES = 1024 * 1024

const addr = bytesSchema(32)
const requestSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('hello'), rec: bytesSchema(), inv: bytesSchema(32).optional() }),
  z.strictObject({ op: z.literal('put'), addr, data: bytesSchema() }),
  z.strictObject({ op: z.literal('get'), addr }),
  z.strictObject({ op: z.literal('del'), addr }),
  z.strictObject({ op: z.literal('audit'), addr, leaf: z.number().int().min(0).max(1 << 20) }),
  z.strictObject({ op: z.literal('list') }),
  z.strictObject({ op: z.literal('stat') }),
  z.strictObject({ op: z.literal('put-root'), root: bytesSchema() }),
  z.strictObject({ op: z.literal('get-root') })
])

// Any root version: the node checks only the owner, the sequence and the signature.
const rootSchema = z.object({ r: z.object({ id: z.string(), seq: z.number().int().min(0) }).loose(), sig: bytesSchema(64) })

/** Who a node serves: admission decisions come from its database; `quota` is the default per twin. */
export interface AdmissionPolicy { store: AdmissionStore, open: boolean, quota: number }

type Owner = { id: string, keys: Array<{ signing: Uint8Array }> }

/**
 * A storage node keeps shards for the twins its operator admitted, each owner in its own folder
 * under its quota. A twin proves who it is once per stream with its twin record, whose peer
 * must be the stream's peer, and is served only if admitted (allowed, invited, or the node is
 * open); after that every request on the stream acts for that owner only, so no twin can read,
 * write or delete another's shards, and each request checks again that the owner is still
 * admitted (a denied twin is refused at once). It never sees plaintext.
 */
export class StorageService {
  private readonly stores = new Map<string, FolderShardStore>()

  constructor (private readonly node: TwinLibp2p, private readonly dir: string, private readonly admission: AdmissionPolicy) {}

  async start (): Promise<void> {
    await this.node.handle(STORAGE_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { maxInboundStreams: MAX_INBOUND_STREAMS })
  }

  async stop (): Promise<void> {
    await this.node.unhandle(STORAGE_PROTOCOL).catch(() => {})
  }

  private storeFor (owner: string): FolderShardStore {
    let s = this.stores.get(owner)
    if (s === undefined) {
      s = new FolderShardStore(owner, join(this.dir, owner), this.account(owner))
      this.stores.set(owner, s)
    }
    return s
  }

  /** The owner's usage, kept in the node's database so it survives restarts and `clients` can show it. */
  private account (owner: string): ShardAccount {
    const { store, quota } = this.admission
    return {
      reserve: bytes => {
        const r = store.reserve(owner, bytes, quota)
        if (r.ok) return
        if (r.why === 'over-quota') throw new BackendError('over-quota', `the quota of twin ${owner} on this node is full: ${r.used} of ${r.quota} bytes used`)
        throw new BackendError(r.why, 'this twin is not admitted here')
      },
      release: bytes => { store.release(owner, bytes) },
      usage: () => {
        const row = store.client(owner)
        return { used: row?.used ?? 0, quota: row?.quota ?? quota }
      }
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    // Small frames until the peer is known: a stranger cannot make the node buffer shards.
    const frames = new FrameStream(stream, { maxFrameBytes: MAX_HELLO_FRAME, connection: connection.id, codec: storageCodec })
    let owner: Owner | undefined
    try {
      while (true) {
        const frame = await frames.read()
        if (frame === undefined) break
        const parsed = requestSchema.safeParse(frame)
        if (!parsed.success) { await frames.write({ err: 'rejected', msg: 'malformed request' }); continue }
        const req = parsed.data
        if (req.op === 'hello') {
          owner = undefined
          frames.maxFrameBytes = MAX_HELLO_FRAME
          let record
          try {
            record = decodeRecord(req.rec)
            if (record.net.peer !== connection.remotePeer.toString()) throw new Error('the twin record names another peer than this connection')
          } catch (err) {
            await frames.write({ err: 'rejected', msg: `not accepted: ${(err as Error).message}` })
            continue
          }
          const decision = this.admission.store.hello(record.state.id, req.inv, this.admission.open)
          if (!decision.ok) {
            await frames.write({ err: decision.why, msg: `twin ${record.state.id} is not admitted here (${decision.why})` })
            continue
          }
          owner = { id: record.state.id, keys: record.state.history }
          frames.maxFrameBytes = MAX_STORAGE_FRAME
          const st = await this.storeFor(owner.id).stat()
          await frames.write({ ok: true, used: st.used, quota: st.quota })
          continue
        }
        if (owner === undefined) { await frames.write({ err: 'rejected', msg: 'say hello with your twin record first' }); continue }
        if (!this.admission.store.admitted(owner.id)) {
          // Denied while the stream was open: refuse from this request on, and take only small frames again.
          frames.maxFrameBytes = MAX_HELLO_FRAME
          await frames.write({ err: 'denied', msg: `twin ${owner.id} is no longer admitted here` })
          continue
        }
        await frames.write(await this.handle(owner, req))
      }
      await frames.close()
    } catch {
      frames.abort('protocol error')
    }
  }

  private async handle (owner: Owner, req: z.infer<typeof requestSchema>): Promise<unknown> {
    const store = this.storeFor(owner.id)
    try {
      switch (req.op) {
        case 'put': await store.put(req.addr, req.data); return { ok: true }
        case 'get': { const data = await store.get(req.addr); return data === undefined ? { err: 'not-found' } : { data } }
        case 'del': await store.delete(req.addr); return { ok: true }
        case 'audit': { const a = await store.audit(req.addr, req.leaf); return a === undefined ? { err: 'not-found' } : { leaf: a.leaf, proof: a.proof } }
        case 'list': return { addrs: await store.list() }
        case 'stat': return await store.stat()
        case 'put-root': {
          if (req.root.length > MAX_ROOT_BYTES) return { err: 'rejected', msg: `a root pointer is at most ${MAX_ROOT_BYTES} bytes` }
          const parsed = rootSchema.safeParse(decodeCbor(req.root, 'root'))
          if (!parsed.success || parsed.data.r.id !== owner.id) return { err: 'rejected', msg: 'not a root of this twin' }
          const key = owner.keys[owner.keys.length - 1]?.signing
          if (key === undefined || !verifyWithContext(key, ROOT_CONTEXT, encodeCbor(parsed.data.r), parsed.data.sig)) return { err: 'rejected', msg: 'bad root signature' }
          const current = await store.getRoot()
          if (current !== undefined) {
            const c = rootSchema.safeParse(decodeCbor(current, 'root'))
            if (c.success && c.data.r.seq >= parsed.data.r.seq) return { ok: true }
          }
          await store.putRoot(req.root)
          return { ok: true }
        }
        case 'get-root': return { root: (await store.getRoot()) ?? null }
        default: return { err: 'rejected', msg: 'unknown request' }
      }
    } catch (err) {
      if (err instanceof BackendError) return { err: err.reason, msg: err.message }
      return { err: 'rejected', msg: 'the request failed' }
    }
  }
}
