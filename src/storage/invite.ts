import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { peerIdFromString } from '@libp2p/peer-id'
import { bytesSchema, decodeCbor, encodeCbor, fromBase64url, toBase64url } from '../wire/index.js'
import { signWithContext, verifyWithContext } from '../identity/index.js'
import { StorageNodeError } from './errors.js'

/** Text prefix of a storage-node invite. */
export const INVITE_PREFIX = 'twinnode1.'
/** Signature context of invites, made with the node's libp2p Ed25519 key; see docs/PROTOCOL.md. */
export const INVITE_CONTEXT = 'twin/storage-invite/v1'
/** Longest token accepted: the addresses (direct and through relays) dominate. */
export const MAX_INVITE_CHARS = 8192

/** What an invite tells a twin: where the node is, what it offers, until when, and the one-time secret. */
export interface Invite {
  peer: string
  addrs: string[]
  /** The twin's quota in bytes; null: the node's default. */
  quota: number | null
  /** ms since the Unix epoch. */
  expires: number
  /** 32 random bytes; the node keeps only their SHA-256, and admits the first twin that shows them. */
  secret: Uint8Array
}

const multiaddrText = z.string().min(1).max(1000).startsWith('/')
const bodySchema = z.strictObject({
  v: z.literal(1),
  peer: z.string().min(1).max(200),
  addrs: z.array(multiaddrText).max(32),
  quota: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable(),
  expires: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  secret: bytesSchema(32)
})
const tokenSchema = z.strictObject({ inv: bodySchema, sig: bytesSchema(64) })

/** A fresh one-time secret for an invite. */
export function inviteSecret (): Uint8Array {
  return new Uint8Array(randomBytes(32))
}

/** Signs an invite with the node's key seed (the Ed25519 seed of its peer id) and returns its text form. */
export function formatInvite (invite: Invite, nodeSeed: Uint8Array): string {
  const inv = { v: 1 as const, peer: invite.peer, addrs: invite.addrs, quota: invite.quota, expires: invite.expires, secret: invite.secret }
  const sig = signWithContext(nodeSeed, INVITE_CONTEXT, encodeCbor(inv))
  return INVITE_PREFIX + toBase64url(encodeCbor({ inv, sig }))
}

/** Does this text look like an invite (rather than a multiaddr)? */
export function isInvite (text: string): boolean {
  return text.trim().startsWith(INVITE_PREFIX)
}

/**
 * Reads an invite and checks its signature against the public key inside its peer id, so an
 * invite passed along through others cannot have been pointed at another node. Expiry is the
 * caller's check (the node checks it again when the invite is redeemed).
 */
export function parseInvite (text: string): Invite {
  const t = text.trim()
  if (!t.startsWith(INVITE_PREFIX)) throw new StorageNodeError('STORAGE_INVITE_INVALID', `an invite starts with ${INVITE_PREFIX}`)
  if (t.length > MAX_INVITE_CHARS) throw new StorageNodeError('STORAGE_INVITE_INVALID', `the invite is longer than ${MAX_INVITE_CHARS} characters`)
  let parsed
  try {
    parsed = tokenSchema.parse(decodeCbor(fromBase64url(t.slice(INVITE_PREFIX.length), 'invite'), 'invite'))
  } catch {
    throw new StorageNodeError('STORAGE_INVITE_INVALID', 'the invite is damaged or truncated (copy the whole token)')
  }
  const { inv, sig } = parsed
  let key: Uint8Array | undefined
  try {
    const peer = peerIdFromString(inv.peer)
    key = peer.type === 'Ed25519' ? peer.publicKey.raw : undefined
  } catch { /* reported below */ }
  if (key === undefined) throw new StorageNodeError('STORAGE_INVITE_INVALID', 'the invite does not name an Ed25519 peer id')
  if (!verifyWithContext(key, INVITE_CONTEXT, encodeCbor(inv), sig)) throw new StorageNodeError('STORAGE_INVITE_INVALID', 'the invite\'s signature is not its node\'s')
  return { peer: inv.peer, addrs: inv.addrs, quota: inv.quota, expires: inv.expires, secret: inv.secret }
}
