import { z } from 'zod'
import { decodeCbor, encodeCbor, utf8 } from '../wire/index.js'
import { DecodeError } from '../errors.js'
import { openForOwner, sealForOwner, type VaultKeys } from './crypto.js'

/** One storage node as the owner needs to find it again: its peer id and the addresses known for it. */
export interface NodeLocation { peer: string, addrs: string[] }

/** Most storage nodes and addresses per node a locator carries (the twin record is at most 64 KiB). */
export const MAX_LOCATOR_NODES = 32
export const MAX_LOCATOR_ADDRS = 8

const locatorSchema = z.strictObject({
  v: z.literal(1),
  nodes: z.array(z.strictObject({
    peer: z.string().min(1).max(200),
    addrs: z.array(z.string().min(1).max(1000).startsWith('/')).max(MAX_LOCATOR_ADDRS)
  })).max(MAX_LOCATOR_NODES)
})

/** Associated data: binds the sealed list to its twin and purpose. */
const aad = (twinId: string): Uint8Array => utf8(`twin/vault-locator/v1:${twinId}`)

/**
 * The twin document's `vault` field: the owner's storage nodes, sealed under a key derived
 * from the vault key, so a restore from the phrase finds them while relays, the DHT and other
 * twins learn nothing about where the vault lives.
 */
export function sealLocator (keys: VaultKeys, twinId: string, nodes: NodeLocation[]): Uint8Array {
  const value = {
    v: 1,
    nodes: nodes.slice(0, MAX_LOCATOR_NODES).map(n => ({ peer: n.peer, addrs: n.addrs.slice(0, MAX_LOCATOR_ADDRS) }))
  }
  return sealForOwner(keys.locatorKey, aad(twinId), encodeCbor(value))
}

/** Opens a `vault` field; throws a TwinError if it is not this vault's. */
export function openLocator (keys: VaultKeys, twinId: string, sealed: Uint8Array): NodeLocation[] {
  const plain = openForOwner(keys.locatorKey, aad(twinId), sealed, 'storage-node list')
  const parsed = locatorSchema.safeParse(decodeCbor(plain, 'storage-node list'))
  if (!parsed.success) throw new DecodeError('storage-node list', parsed.error.issues[0]?.message ?? 'wrong shape')
  return parsed.data.nodes
}
