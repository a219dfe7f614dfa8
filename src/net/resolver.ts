import type { Db } from '../db/index.js'
import { NetError } from './errors.js'
import { compareRecords, decodeRecord, recordKey, type TwinRecord } from './record.js'
import type { TwinLibp2p } from './node.js'

/** A source of twin records other than the DHT: the relays' registries. */
export interface RecordSource {
  lookup: (id: string) => Promise<Uint8Array | undefined>
}

const QUERY_TIMEOUT_MS = 5_000

/**
 * Finds a twin by its id alone: a cached record, else the DHT (records validated against the
 * key event log, highest sequence wins), else the relays' registries. No central directory.
 * Every record is verified before it is used or cached; the newest valid one is kept.
 */
export class Resolver {
  private readonly cache = new Map<string, { record: TwinRecord, bytes: Uint8Array }>()
  private readonly inflight = new Map<string, Promise<TwinRecord>>()
  private readonly s

  constructor (private readonly db: Db | undefined, private readonly node: TwinLibp2p | undefined, private readonly sources: () => RecordSource[]) {
    this.s = db === undefined
      ? undefined
      : {
          get: db.prepare('SELECT record FROM net_records WHERE id = ?'),
          put: db.prepare(`INSERT INTO net_records (id, kel_seq, doc_seq, record, fetched) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET kel_seq = excluded.kel_seq, doc_seq = excluded.doc_seq, record = excluded.record, fetched = excluded.fetched`)
        }
  }

  /** The best known record of `id`; with `refresh`, asks the network even if one is cached. */
  async resolve (id: string, options: { refresh?: boolean } = {}): Promise<TwinRecord> {
    const cached = this.cached(id)
    if (cached !== undefined && options.refresh !== true) return cached
    let p = this.inflight.get(id)
    if (p === undefined) {
      p = this.fetch(id, cached).finally(() => this.inflight.delete(id))
      this.inflight.set(id, p)
    }
    return await p
  }

  /** The cached record, from memory or the database, without touching the network. */
  cached (id: string): TwinRecord | undefined {
    const hit = this.cache.get(id)
    if (hit !== undefined) return hit.record
    const row = this.s?.get.get(id) as { record: Uint8Array } | undefined
    if (row === undefined) return undefined
    try {
      const record = decodeRecord(new Uint8Array(row.record), id)
      this.cache.set(id, { record, bytes: new Uint8Array(row.record) })
      return record
    } catch {
      return undefined
    }
  }

  /** Keeps a verified record if it is newer than the cached one; returns the best. */
  remember (bytes: Uint8Array, expectedId?: string): TwinRecord {
    const record = decodeRecord(bytes, expectedId)
    const id = record.state.id
    const current = this.cached(id)
    if (current !== undefined && compareRecords(current, record) >= 0) return current
    this.cache.set(id, { record, bytes })
    this.s?.put.run(id, record.state.sequence, record.doc.seq, bytes, Date.now())
    return record
  }

  private async fetch (id: string, cached: TwinRecord | undefined): Promise<TwinRecord> {
    const found: Uint8Array[] = []
    const tasks: Array<Promise<void>> = []
    if (this.node !== undefined) {
      const node = this.node
      tasks.push((async () => {
        const value = await node.contentRouting.get(recordKey(id), { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) })
        found.push(value)
      })())
    }
    for (const source of this.sources()) {
      tasks.push((async () => {
        const value = await source.lookup(id)
        if (value !== undefined) found.push(value)
      })())
    }
    await Promise.allSettled(tasks)
    let best = cached
    for (const bytes of found) {
      try {
        best = this.remember(bytes, id)
      } catch { /* an invalid record from the network is ignored */ }
    }
    if (best === undefined) throw new NetError('TWIN_NOT_FOUND', `cannot find twin ${id}: no record in the DHT or at the relays`)
    return best
  }

  /** Publishes this twin's record in the DHT (best effort; relays also hold it). */
  async publish (id: string, bytes: Uint8Array): Promise<boolean> {
    if (this.node === undefined) return false
    try {
      await this.node.contentRouting.put(recordKey(id), bytes, { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) })
      return true
    } catch {
      return false
    }
  }
}
