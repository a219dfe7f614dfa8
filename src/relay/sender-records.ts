import { compareRecords, type TwinRecord } from '../net/index.js'

/** Most sender records a relay keeps in memory; records are at most 64 KiB, most a few KiB. */
export const SENDER_RECORDS_MAX_ENTRIES = 4096
export const SENDER_RECORDS_MAX_BYTES = 16 * 1024 ** 2

export interface VerifiedRecord { record: TwinRecord, bytes: Uint8Array }

/**
 * Verified twin records of the senders a relay has seen, so it checks an envelope's signature
 * without verifying the sender's key event log again each time. Bounded in entries and in
 * bytes; the least recently used record goes first (a sender that comes back attaches its
 * record again).
 */
export class SenderRecords {
  private readonly records = new Map<string, VerifiedRecord>()
  private bytes = 0

  constructor (private readonly maxEntries = SENDER_RECORDS_MAX_ENTRIES, private readonly maxBytes = SENDER_RECORDS_MAX_BYTES) {}

  get (id: string): VerifiedRecord | undefined {
    const hit = this.records.get(id)
    if (hit !== undefined) {
      this.records.delete(id)
      this.records.set(id, hit) // most recently used last
    }
    return hit
  }

  /** Keeps a verified record unless the one held is newer; returns the one kept. */
  add (record: TwinRecord, bytes: Uint8Array): VerifiedRecord {
    const id = record.state.id
    const held = this.get(id)
    if (held !== undefined && compareRecords(held.record, record) >= 0) return held
    this.drop(id)
    const entry = { record, bytes }
    this.records.set(id, entry)
    this.bytes += bytes.length
    for (const oldest of this.records.keys()) {
      if (this.records.size <= this.maxEntries && this.bytes <= this.maxBytes) break
      if (oldest !== id) this.drop(oldest)
    }
    return entry
  }

  get size (): number {
    return this.records.size
  }

  private drop (id: string): void {
    const held = this.records.get(id)
    if (held === undefined) return
    this.records.delete(id)
    this.bytes -= held.bytes.length
  }
}
