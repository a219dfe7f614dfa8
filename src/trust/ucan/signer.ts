import type { KeyObject } from 'node:crypto'
import { ed25519DidKey, ed25519PrivateKey, ed25519PublicKey, ed25519Sign, isCanonicalTwinId } from '../../identity/index.js'
import { assertBytes } from '../../wire/index.js'
import { UcanError } from './errors.js'
import { ED25519_DAG_CBOR_HEADER } from './varsig.js'

/**
 * Who signs a token: the DID that goes into `iss`, and its Ed25519 signature (RFC 8032, pure).
 *
 * UCAN signatures carry no Twin context label (docs/PROTOCOL.md §2): other UCAN tools must be
 * able to check them. The signed bytes are a UCAN SigPayload, a DAG-CBOR map whose first
 * entry is the varsig header, so they start with 0xa2 0x61 0x68 0x48 0x34 ..., which no
 * context-labelled Twin message can (those start with an ASCII label). The signers below
 * refuse to sign anything else, so a twin's key cannot be made to sign other bytes this way.
 */
export interface Signer {
  readonly did: string
  sign: (message: Uint8Array) => Uint8Array
}

/** A `did:key` signer from a 32-byte Ed25519 seed (a device, an app, or a test principal). */
export function keySigner (seed: Uint8Array): Signer {
  assertBytes(seed, 32, 'Ed25519 private key')
  const key: KeyObject = ed25519PrivateKey(seed)
  return { did: ed25519DidKey(ed25519PublicKey(seed)), sign: message => ed25519Sign(key, sigPayloadOnly(message)) }
}

/**
 * A `did:twin:<id>` signer from the twin's current signing seed. Verifiers accept its
 * signatures only while this key is the twin's current key (docs/PROTOCOL.md, "Capabilities").
 */
export function twinSigner (id: string, seed: Uint8Array): Signer {
  if (!isCanonicalTwinId(id)) throw new UcanError('a twin signer needs a twin id in canonical (lower-case) form')
  assertBytes(seed, 32, 'Ed25519 private key')
  const key: KeyObject = ed25519PrivateKey(seed)
  return { did: `did:twin:${id}`, sign: message => ed25519Sign(key, sigPayloadOnly(message)) }
}

// A DAG-CBOR map of two entries (0xa2) whose first key is "h" (0x61 0x68) holding the
// 8-byte (0x48) Ed25519 varsig header: canonical key order puts "h" before "ucan/...".
const SIG_PAYLOAD_PREFIX = Uint8Array.of(0xa2, 0x61, 0x68, 0x48, ...ED25519_DAG_CBOR_HEADER)

function sigPayloadOnly (message: Uint8Array): Uint8Array {
  if (!(message instanceof Uint8Array) || message.length <= SIG_PAYLOAD_PREFIX.length || !SIG_PAYLOAD_PREFIX.every((b, i) => message[i] === b)) {
    throw new UcanError('a UCAN signer signs only UCAN signature payloads')
  }
  return message
}
