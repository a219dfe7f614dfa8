import * as dagCbor from '@ipld/dag-cbor'
import { DecodeError } from '../errors.js'
import { equalBytes } from './bytes.js'

/** Encodes a value as deterministic DAG-CBOR: the bytes that Twin signs and hashes. */
export function encodeCbor (value: unknown): Uint8Array {
  return dagCbor.encode(value)
}

/**
 * Decodes DAG-CBOR and insists that the input is in canonical form, so that one value has
 * exactly one encoding and a signature over the bytes is a signature over the value.
 */
export function decodeCbor (bytes: Uint8Array, what: string): unknown {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError(what, 'expected bytes')
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new DecodeError(what, 'malformed CBOR', { cause: err })
  }
  let again: Uint8Array
  try {
    again = dagCbor.encode(value)
  } catch (err) {
    throw new DecodeError(what, 'value cannot be re-encoded', { cause: err })
  }
  if (!equalBytes(again, bytes)) throw new DecodeError(what, 'not in canonical DAG-CBOR form')
  return value
}
