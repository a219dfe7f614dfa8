import type { Db } from '../db/index.js'
import type { TwinDocument } from '../identity/index.js'
import { VaultKeys, VaultStore, openLocator, type NodeLocation } from '../vault/index.js'

/**
 * At restore: remembers the storage nodes the twin's last document names, so that `twin start`
 * finds the vault's index on them. They are in the sealed `vault` field, which only the vault
 * key (derived from the phrase) opens; documents of earlier versions had a plain `storage`
 * list of multiaddrs, still read. Returns how many nodes it found.
 */
export function rememberStorageNodes (db: Db, vaultKey: Uint8Array, twinId: string, doc: TwinDocument): number {
  let nodes: NodeLocation[] = []
  if (doc.vault instanceof Uint8Array) {
    nodes = openLocator(new VaultKeys(vaultKey), twinId, doc.vault)
  } else if (Array.isArray(doc.storage)) {
    for (const address of doc.storage) {
      const peer = typeof address === 'string' ? address.split('/p2p/').pop() : undefined
      if (peer !== undefined && peer !== '' && !peer.includes('/')) nodes.push({ peer, addrs: [address as string] })
    }
  }
  const store = new VaultStore(db)
  for (const n of nodes) {
    store.addPeer(n.peer, n.addrs[0] ?? `/p2p/${n.peer}`, 'node')
    store.setKnownAddresses(n.peer, n.addrs)
  }
  return nodes.length
}
