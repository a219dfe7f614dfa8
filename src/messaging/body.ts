import { decodeCbor, encodeCbor } from '../wire/index.js'
import { EnvelopeRejected } from './errors.js'
import { array, bytes, noOtherKeys, record, ShapeError, text, type Fields } from './shape.js'

export const KINDS = ['event', 'request', 'response', 'error', 'ack'] as const
export type Kind = typeof KINDS[number]

/** What is inside the sealed body, by kind. */
export type Body =
  | { verb: string, payload: unknown } // event, request
  | { payload: unknown } // response
  | { code: string, message: string } // error
  | { ids: Uint8Array[] } // ack

/** Most ids in one ack (docs/PROTOCOL.md, section 11). */
export const MAX_ACK_IDS = 1024

const VERB = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/

/** The plaintext of a sealed body: its CBOR. */
export function encodeBody (body: Body): Uint8Array {
  return encodeCbor(body)
}

/** Decodes an opened body and checks it against the envelope's kind. */
export function decodeBody (kind: Kind, plain: Uint8Array): Body {
  let value: unknown
  try {
    value = decodeCbor(plain, 'message body')
  } catch {
    throw new EnvelopeRejected('malformed', 'the sealed body is not valid CBOR')
  }
  try {
    return checkBody(kind, value)
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err
    throw new EnvelopeRejected('malformed', `the ${kind} body is not valid: ${err.detail}`)
  }
}

function checkBody (kind: Kind, value: unknown): Body {
  const f = record(value)
  switch (kind) {
    case 'event':
    case 'request': {
      const verb = checkVerbField(f)
      present(f, 'payload')
      noOtherKeys(f, ['verb', 'payload'])
      return { verb, payload: f.payload }
    }
    case 'response':
      present(f, 'payload')
      noOtherKeys(f, ['payload'])
      return { payload: f.payload }
    case 'error': {
      const code = text(f, 'code', 64)
      const message = text(f, 'message', 1000)
      noOtherKeys(f, ['code', 'message'])
      return { code, message }
    }
    case 'ack': {
      const ids = array(f, 'ids', 1, MAX_ACK_IDS)
      ids.forEach((_, i) => { bytes(ids as unknown as Fields, String(i), 16) })
      noOtherKeys(f, ['ids'])
      return { ids: ids as Uint8Array[] }
    }
  }
}

/** A field that may hold any value, null included, but must be there. */
function present (f: Fields, key: string): void {
  if (!(key in f)) throw new ShapeError(key, 'Invalid input: expected nonoptional, received undefined')
}

function checkVerbField (f: Fields): string {
  const verb = text(f, 'verb', 128, 1)
  if (!VERB.test(verb)) throw new ShapeError('verb', 'a verb looks like "chat.message"')
  return verb
}

/** True for a verb name as senders must write it ("chat.message"). */
export function isVerb (verb: unknown): verb is string {
  return typeof verb === 'string' && verb.length >= 1 && verb.length <= 128 && VERB.test(verb)
}
