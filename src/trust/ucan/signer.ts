import type { KeyObject } from 'node:crypto'
import { ed25519DidKey, ed25519PrivateKey, ed25519PublicKey, ed25519Sign, isCanonicalTwinId } from '../../identity/index.js'
import { assertBytes } from '../../wire/index.js'
import { UcanError } from './errors.js'

/** Who signs a token: the DID that goes into `iss`, and its Ed25519 signature (RFC 8032, pure). */
export interface Signer {
  readonly did: string
  sign: (message: Uint8Array) => Uint8Array
}

/** A `did:key` signer from a 32-byte Ed25519 seed (a device, an app, or a test principal). */
export function keySigner (seed: Uint8Array): Signer {
  assertBytes(seed, 32, 'Ed25519 private key')
  const key: KeyObject = ed25519PrivateKey(seed)
  return { did: ed25519DidKey(ed25519PublicKey(seed)), sign: message => ed25519Sign(key, message) }
}

/**
 * A `did:twin:<id>` signer from the twin's current signing seed. Verifiers accept its
 * signatures only while this key is the twin's current key (docs/PROTOCOL.md, "Capabilities").
 */
export function twinSigner (id: string, seed: Uint8Array): Signer {
  if (!isCanonicalTwinId(id)) throw new UcanError('a twin signer needs a twin id in canonical (lower-case) form')
  assertBytes(seed, 32, 'Ed25519 private key')
  const key: KeyObject = ed25519PrivateKey(seed)
  return { did: `did:twin:${id}`, sign: message => ed25519Sign(key, message) }
}
