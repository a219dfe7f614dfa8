import { createDocument, createIdentity, generatePhrase } from '../../src/identity/index.js'
import { createTwinNode, peerAddress, peerKeyFromSigningSeed, type TwinLibp2p } from '../../src/net/node.js'
import { encodeRecord } from '../../src/net/record.js'
import { StorageNodeBackend } from '../../src/storage/client.js'

/** A twin as a storage node sees it: its own libp2p node, its id, and its record naming that node's peer. */
export interface TwinClient { id: string, node: TwinLibp2p, record: Uint8Array, signing: Uint8Array }

/** A fresh identity with its own libp2p node (listening nowhere); `nodes` collects it so the test stops it. */
export async function twinClient (nodes: TwinLibp2p[]): Promise<TwinClient> {
  const made = createIdentity(generatePhrase())
  const node = await createTwinNode({ privateKey: await peerKeyFromSigningSeed(made.current.signing), listen: [], relays: [] })
  nodes.push(node)
  const doc = createDocument(made.state, made.current.signing, { name: 't', peer: node.peerId.toString(), addrs: [], relays: [] })
  return { id: made.state.id, node, record: encodeRecord(made.events, doc), signing: made.current.signing }
}

/** The client side of a storage node for that twin, as the vault builds it. */
export function nodeBackend (t: TwinClient, address: string, invite?: Uint8Array): StorageNodeBackend {
  return new StorageNodeBackend(t.node, {
    peer: peerAddress(address).peerId.toString(),
    owner: t.id,
    addresses: () => [address],
    relays: () => [],
    ...(invite === undefined ? {} : { invite })
  }, () => t.record)
}
