import { z } from 'zod'
import { fromBase64url, toBase64url } from '../wire/index.js'
import { TwinError } from '../errors.js'
import { KelError } from './errors.js'
import { decodeKeyEvent, encodeKeyEvent, verifyKel, type KelState, type SignedKeyEvent } from './kel.js'
import { decodeDocument, encodeDocument, verifyDocument, type SignedDocument } from './document.js'

/** Format tag of an exported key event log file. */
export const KEL_FILE_FORMAT = 'twin-kel/1'

const fileSchema = z.strictObject({
  format: z.literal(KEL_FILE_FORMAT),
  id: z.string().max(100),
  events: z.array(z.string().max(10_000)).min(1).max(10_000),
  document: z.string().max(1_000_000).optional()
})

/** A key event log with the twin document that was current when it was written. */
export interface KelExport {
  events: SignedKeyEvent[]
  document?: SignedDocument
}

/**
 * The JSON text of an exported key event log: each event (and the document) is its canonical
 * DAG-CBOR bytes in base64url, so the file can be read by a person and checked byte for byte.
 */
export function formatKelFile (state: KelState, kel: KelExport): string {
  const value = {
    format: KEL_FILE_FORMAT,
    id: state.id,
    events: kel.events.map(e => toBase64url(encodeKeyEvent(e))),
    ...(kel.document === undefined ? {} : { document: toBase64url(encodeDocument(kel.document)) })
  }
  return JSON.stringify(value, null, 2) + '\n'
}

/** Parses and fully verifies an exported key event log (and its document, when present). */
export function parseKelFile (text: string): { state: KelState } & KelExport {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new KelError('the key event log file is not valid JSON')
  }
  const parsed = fileSchema.safeParse(json)
  if (!parsed.success) throw new KelError(`the key event log file is not a ${KEL_FILE_FORMAT} file`)
  let events: SignedKeyEvent[]
  let document: SignedDocument | undefined
  try {
    events = parsed.data.events.map((e, i) => decodeKeyEvent(fromBase64url(e, `key event ${i}`)))
    document = parsed.data.document === undefined ? undefined : decodeDocument(fromBase64url(parsed.data.document, 'twin document'))
  } catch (err) {
    if (err instanceof TwinError) throw new KelError(`the key event log file is damaged: ${err.message}`)
    throw err
  }
  const state = verifyKel(events, parsed.data.id)
  if (document !== undefined) verifyDocument(document, state)
  return { state, events, ...(document === undefined ? {} : { document }) }
}
