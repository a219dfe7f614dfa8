import type { Db } from '../db/index.js'
import { DocumentError, KelError } from './errors.js'
import { decodeKeyEvent, encodeKeyEvent, verifyKel, type KelState, type SignedKeyEvent } from './kel.js'
import { decodeDocument, encodeDocument, verifyDocument, type SignedDocument } from './document.js'
import { TwinError } from '../errors.js'

/** The identity part's tables: the key event log and the current twin document. */
export class IdentityStore {
  constructor (private readonly db: Db) {}

  /** Reads and verifies the whole key event log; a tampered row is reported, never used. */
  load (): { events: SignedKeyEvent[], state: KelState, document: SignedDocument | undefined } {
    const rows = this.db.prepare('SELECT seq, event FROM identity_kel ORDER BY seq').all() as Array<{ seq: number, event: Uint8Array }>
    if (rows.length === 0) throw new KelError('the twin\'s key event log is missing')
    let events: SignedKeyEvent[]
    try {
      events = rows.map((r, i) => {
        if (r.seq !== i) throw new KelError(`the twin's key event log has a gap at sequence ${i}`)
        return decodeKeyEvent(r.event)
      })
    } catch (err) {
      if (err instanceof TwinError) throw new KelError(`the twin's key event log is damaged: ${err.message}`)
      throw err
    }
    let state: KelState
    try {
      state = verifyKel(events)
    } catch (err) {
      throw new KelError(`the twin's key event log does not verify (damaged or tampered): ${(err as Error).message}`)
    }
    const row = this.db.prepare('SELECT document FROM identity_document WHERE one = 1').get() as { document: Uint8Array } | undefined
    let document: SignedDocument | undefined
    if (row !== undefined) {
      try {
        document = decodeDocument(row.document)
        verifyDocument(document, state)
      } catch (err) {
        throw new DocumentError(`the twin's document does not verify (damaged or tampered): ${(err as Error).message}`)
      }
    }
    return { events, state, document }
  }

  /** Appends events after the ones stored, and replaces the document, in one transaction. */
  save (events: SignedKeyEvent[], document: SignedDocument): void {
    const have = (this.db.prepare('SELECT count(*) AS n FROM identity_kel').get() as { n: number }).n
    const insert = this.db.prepare('INSERT INTO identity_kel (seq, event) VALUES (?, ?)')
    const upsert = this.db.prepare(`
      INSERT INTO identity_document (one, seq, document) VALUES (1, ?, ?)
      ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, document = excluded.document`)
    this.db.transaction(() => {
      for (let i = have; i < events.length; i++) insert.run(i, encodeKeyEvent(events[i] as SignedKeyEvent))
      upsert.run(document.d.seq, encodeDocument(document))
    }).immediate()
  }
}
