import { z } from 'zod'
import { decodeCbor, encodeCbor, equalBytes, bytesSchema } from '../wire/index.js'
import { DecodeError } from '../errors.js'
import { DocumentError } from './errors.js'
import { signWithContext, verifyWithContext } from './keys.js'
import type { KelState } from './kel.js'
import { signedTwinIdSchema } from './twin-id.js'

/** Signature context of twin documents; see docs/PROTOCOL.md. */
export const DOCUMENT_CONTEXT = 'twin/document/v1'

const bytes32 = bytesSchema(32)

// Unknown fields are kept (and covered by the signature), so a twin can read documents
// written by newer versions that add fields.
const documentSchema = z.looseObject({
  v: z.literal(1),
  id: signedTwinIdSchema,
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  kel: z.strictObject({ s: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), d: bytes32 }),
  keys: z.strictObject({ s: bytes32, e: bytes32 }),
  name: z.string().max(200),
  updated: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
})

const signedDocumentSchema = z.strictObject({
  d: documentSchema,
  sig: bytesSchema(64)
})

export type TwinDocument = z.infer<typeof documentSchema>
export interface SignedDocument { d: TwinDocument, sig: Uint8Array }

/** Maximum length of a twin's display name, in characters. */
export const MAX_NAME_LENGTH = 200

/**
 * Creates and signs the twin document for the current key state. The sequence is
 * max(previous + 1, now in ms), so a twin restored without its last document still publishes
 * a document that supersedes the old one.
 */
export function createDocument (
  state: KelState,
  signingKey: Uint8Array,
  fields: { name: string, [extra: string]: unknown },
  previousSeq = -1,
  now = Date.now()
): SignedDocument {
  const d: TwinDocument = {
    ...fields,
    v: 1,
    id: state.id,
    seq: Math.max(previousSeq + 1, now),
    kel: { s: state.sequence, d: state.head },
    keys: { s: state.keys.signing, e: state.keys.encryption },
    name: fields.name,
    updated: now
  }
  return { d, sig: signWithContext(signingKey, DOCUMENT_CONTEXT, encodeCbor(d)) }
}

export function encodeDocument (doc: SignedDocument): Uint8Array {
  return encodeCbor(doc)
}

export function decodeDocument (bytes: Uint8Array): SignedDocument {
  const parsed = signedDocumentSchema.safeParse(decodeCbor(bytes, 'twin document'))
  if (!parsed.success) throw new DecodeError('twin document', parsed.error.issues[0]?.message ?? 'wrong shape')
  return parsed.data
}

/**
 * Verifies a document against its twin's verified key event log: same twin, made at the
 * log's current sequence and head, with the current keys, and signed by the current key.
 */
export function verifyDocument (doc: SignedDocument, state: KelState): TwinDocument {
  const d = doc.d
  if (d.id !== state.id) throw new DocumentError(`the twin document is for ${d.id}, not ${state.id}`)
  if (d.kel.s !== state.sequence || !equalBytes(d.kel.d, state.head)) {
    throw new DocumentError(`the twin document was made at key sequence ${d.kel.s}; the twin is at ${state.sequence}`)
  }
  if (!equalBytes(d.keys.s, state.keys.signing) || !equalBytes(d.keys.e, state.keys.encryption)) {
    throw new DocumentError('the twin document lists keys that are not the current ones')
  }
  if (!verifyWithContext(state.keys.signing, DOCUMENT_CONTEXT, encodeCbor(d), doc.sig)) {
    throw new DocumentError('the twin document has a bad signature')
  }
  return d
}
