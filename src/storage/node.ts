import { mkdirSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createServiceNode, keepConnected, peerAddress, peerKeyFromSeed, stopNode, NodeRole } from '../net/index.js'
import { FolderShardStore } from '../shards/index.js'
import { AdmissionStore } from './admission.js'
import { NODE_SETTINGS } from './operator.js'
import { StorageService } from './service.js'

export interface StorageNodeOptions {
  /** Where shards are kept, one folder per owner twin. */
  dir: string
  /** Bytes per twin, unless the operator gave a twin its own quota. */
  quota: number
  /** Admit every twin that says hello (with the default quota), not only allowed and invited ones. */
  open?: boolean
  listen: string[]
  /** Direct addresses to publish instead of the listening ones (behind a port forward, or none that works). */
  announce?: string[]
  /** Relays to stay connected to and keep a circuit reservation on, so twins reach the node through them. */
  bootstrap?: string[]
  /** Reserved address ranges to treat as public (labs, private networks): see `--public-range`. */
  publicRanges?: string[]
}

/** How long a start waits for its circuit reservations, so that what it prints (and invites) includes them. */
const RESERVATION_WAIT_MS = 10_000
const TWIN_ID = /^b[a-z2-7]{10,100}$/

/**
 * A storage node: a libp2p node that keeps shards for the twins its operator admitted, on
 * disk under `dir`, each under its quota. Its key lives in `<home>/storage-key.json`, its
 * admission state and usage in `<home>/storage.db`.
 */
export class StorageNode extends NodeRole {
  private store!: AdmissionStore

  constructor (readonly home: string, private readonly options: StorageNodeOptions) {
    super()
    this.publicRanges = options.publicRanges ?? []
  }

  protected async setUp (): Promise<void> {
    const dir = resolve(this.options.dir)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const seed = this.prepareHome(this.home, 'storage')
    this.store = AdmissionStore.open(this.home, { create: true })
    this.cleanups.add(() => { this.store.close() })
    // Usage changes on every put: with WAL, NORMAL keeps the database consistent without an
    // fsync per shard, and the usage is counted again from disk at every start (below).
    this.store.db.pragma('synchronous = NORMAL')
    await this.countUsage(dir)
    const relays = this.options.bootstrap ?? []
    this.node = await createServiceNode({
      privateKey: await peerKeyFromSeed(seed),
      listen: this.options.listen,
      ...(this.options.announce === undefined ? {} : { announce: this.options.announce }),
      ...(relays.length > 0 ? { circuit: relays } : {}),
      ...(this.options.publicRanges === undefined ? {} : { publicRanges: this.options.publicRanges })
    })
    this.cleanups.add(async () => { await stopNode(this.node) })
    const open = this.options.open === true
    for (const [key, value] of [[NODE_SETTINGS.peer, this.node.peerId.toString()], [NODE_SETTINGS.dir, dir], [NODE_SETTINGS.quota, String(this.options.quota)], [NODE_SETTINGS.open, open ? '1' : '0']]) {
      this.store.setSetting(key as string, value as string)
    }
    const service = new StorageService(this.node, dir, { store: this.store, open, quota: this.options.quota })
    await service.start()
    this.cleanups.add(async () => { await service.stop() })
    for (const relay of relays) await keepConnected(this.node, relay)
    await this.waitForCircuits(relays.map(r => peerAddress(r).peerId.toString()), RESERVATION_WAIT_MS)
    // Where the node can be reached, for `twin storage-node invite` run from another terminal.
    this.recordAddresses()
    this.node.addEventListener('self:peer:update', this.recordAddresses)
    this.cleanups.add(() => { this.node.removeEventListener('self:peer:update', this.recordAddresses) })
  }


  private readonly recordAddresses = (): void => {
    this.store.setSetting(NODE_SETTINGS.addresses, JSON.stringify(this.addresses()))
  }

  /** Waits until there is a circuit address through each relay, or the time is up (a relay may be down: the node still starts). */
  private async waitForCircuits (relays: string[], ms: number): Promise<void> {
    const deadline = Date.now() + ms
    const missing = (): boolean => relays.some(r => !this.addresses().some(a => a.includes(`/p2p/${r}/p2p-circuit`)))
    while (Date.now() < deadline && missing()) {
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  /**
   * Counts each owner's bytes on disk into the database: a node stopped between reserving
   * room and writing a shard would otherwise keep that reservation for good. Shards of a twin
   * the database does not know were stored before admission existed: that twin stays admitted.
   */
  private async countUsage (dir: string): Promise<void> {
    const owners = readdirSync(dir).filter(e => TWIN_ID.test(e) && statSync(join(dir, e)).isDirectory())
    const seen = new Set<string>()
    for (const owner of owners) {
      const { used } = await new FolderShardStore(owner, join(dir, owner)).stat()
      this.store.setUsed(owner, used)
      seen.add(owner)
    }
    for (const c of this.store.clients()) if (!seen.has(c.twin)) this.store.setUsed(c.twin, 0)
  }
}
