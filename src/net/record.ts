import { z } from 'zod'
import { bytesSchema, decodeCbor, encodeCbor } from '../wire/index.js'
import {
  decodeDocument, decodeKeyEvent, encodeDocument, encodeKeyEvent, verifyDocument, verifyKel,
  type KelState, type SignedDocument, type SignedKeyEvent, type TwinDocument
} from '../identity/index.js'
import { DecodeError } from '../errors.js'
import { NetError } from './errors.js'

/**
 * A twin record: everything needed to find and check a twin, self-verifying from its id alone.
 * It is what the DHT stores under `/twin/<id>` and what relays hand out: the whole key event log
 * and the current signed twin document.
 */
export interface TwinRecord {
  events: SignedKeyEvent[]
  document: SignedDocument
  state: KelState
  doc: TwinDocument
  net: NetFields
}

/** The network fields a running twin adds to its document. */
export interface NetFields {
  /** libp2p peer id of the twin's node. */
  peer?: string
  /** Multiaddrs where the twin can be dialed (direct, and through relay circuits). */
  addrs: string[]
  /** Multiaddrs (ending in /p2p/<peer>) of the relays that keep the twin's mailbox. */
  relays: string[]
  /** Envelope versions the twin reads (docs/PROTOCOL.md, section 11a); `[1]` when the document does not say. */
  envelopes: number[]
}

/** Largest record accepted from the network. */
export const MAX_RECORD_BYTES = 64 * 1024

const recordSchema = z.strictObject({
  kel: z.array(bytesSchema()).min(1).max(1000),
  doc: bytesSchema()
})

const multiaddrText = z.string().min(1).max(1000).startsWith('/')
const netSchema = z.object({
  peer: z.string().min(1).max(200).optional(),
  addrs: z.array(multiaddrText).max(32).optional(),
  relays: z.array(multiaddrText).max(16).optional(),
  envelopes: z.array(z.number().int().min(1).max(1000)).min(1).max(16).optional()
})

export function encodeRecord (events: SignedKeyEvent[], document: SignedDocument): Uint8Array {
  return encodeCbor({ kel: events.map(encodeKeyEvent), doc: encodeDocument(document) })
}

/** Reads the network fields of a document, ignoring none silently: wrong types are an error. */
export function netFields (doc: TwinDocument): NetFields {
  const parsed = netSchema.safeParse(doc)
  if (!parsed.success) throw new DecodeError('twin document', `bad network fields: ${parsed.error.issues[0]?.message}`)
  return {
    ...(parsed.data.peer === undefined ? {} : { peer: parsed.data.peer }),
    addrs: parsed.data.addrs ?? [],
    relays: parsed.data.relays ?? [],
    envelopes: parsed.data.envelopes ?? [1]
  }
}

/**
 * Decodes and fully verifies a record: the log against `expectedId` (when given), the document
 * against the log. Throws a TwinError that says what failed.
 */
export function decodeRecord (bytes: Uint8Array, expectedId?: string): TwinRecord {
  if (bytes.length > MAX_RECORD_BYTES) throw new DecodeError('twin record', `over ${MAX_RECORD_BYTES} bytes`)
  const parsed = recordSchema.safeParse(decodeCbor(bytes, 'twin record'))
  if (!parsed.success) throw new DecodeError('twin record', parsed.error.issues[0]?.message ?? 'wrong shape')
  const events = parsed.data.kel.map(decodeKeyEvent)
  const document = decodeDocument(parsed.data.doc)
  const state = verifyKel(events, expectedId)
  const doc = verifyDocument(document, state)
  return { events, document, state, doc, net: netFields(doc) }
}

/** Orders two records of one twin: the longer key event log wins, then the higher document sequence. */
export function compareRecords (a: TwinRecord, b: TwinRecord): number {
  if (a.state.id !== b.state.id) throw new NetError('RECORD_MISMATCH', 'records of two different twins cannot be compared')
  return a.state.sequence - b.state.sequence || a.doc.seq - b.doc.seq
}

/** DHT key of a twin's record: UTF-8 of `/twin/<id>`. */
export function recordKey (id: string): Uint8Array {
  return new TextEncoder().encode(`/twin/${id}`)
}

/** The twin id in a DHT key, or an error for any other key. */
export function idFromRecordKey (key: Uint8Array): string {
  const text = new TextDecoder().decode(key)
  const m = /^\/twin\/(b[a-z2-7]{10,100})$/.exec(text)
  if (m === null) throw new DecodeError('DHT key', 'expected /twin/<id>')
  return m[1] as string
}

/** DHT validator: a record is stored only if it verifies for the id in its key. */
export function validateRecordForKey (key: Uint8Array, value: Uint8Array): void {
  decodeRecord(value, idFromRecordKey(key))
}

/** DHT selector: the index of the best of several records (invalid ones never win). */
export function selectRecord (key: Uint8Array, values: Uint8Array[]): number {
  const id = idFromRecordKey(key)
  let best = -1
  let bestRecord: TwinRecord | undefined
  values.forEach((v, i) => {
    try {
      const r = decodeRecord(v, id)
      if (bestRecord === undefined || compareRecords(r, bestRecord) > 0) { best = i; bestRecord = r }
    } catch { /* an invalid record is never selected */ }
  })
  return Math.max(best, 0)
}
