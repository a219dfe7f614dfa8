import { mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { openDb, type Db } from '../db/index.js'
import { TwinError } from '../errors.js'
import { createRelayNode, peerKeyFromSeed, stopNode, type TwinLibp2p } from '../net/node.js'
import { acquireLock } from '../twin/lock.js'
import { loadOrCreatePeerSeed } from '../net/peer-key-file.js'
import { Cleanups } from '../net/cleanups.js'
import { MailboxService } from './service.js'
import { RelayStore, type MailboxLimits, DEFAULT_MAILBOX_LIMITS } from './store.js'

/**
 * A relay: a directly reachable libp2p node that is a DHT server, a circuit relay (v2) and a
 * mailbox for twins that are offline. Its peer key lives in `<home>/relay-key.json` (0600) so
 * its address survives restarts; its mailbox in `<home>/relay.db`.
 */
export class Relay {
  node!: TwinLibp2p
  private db!: Db
  private mailbox!: MailboxService
  private readonly cleanups = new Cleanups()

  constructor (readonly home: string, private readonly options: { listen: string[], announce?: string[], limits?: MailboxLimits }) {}

  async start (): Promise<void> {
    try {
      mkdirSync(this.home, { recursive: true, mode: 0o700 })
      if (!statSync(this.home).isDirectory()) throw new TwinError('HOME_INVALID', `${this.home} is not a folder`)
      this.cleanups.add(acquireLock(this.home, 'relay'))
      const seed = loadOrCreatePeerSeed(this.home, 'relay-key.json', 'twin-relay-key/1')
      const dbPath = join(this.home, 'relay.db')
      this.db = openDb(dbPath, { create: true })
      this.cleanups.add(() => { this.db.close() })
      this.node = await createRelayNode({ privateKey: await peerKeyFromSeed(seed), listen: this.options.listen, ...(this.options.announce === undefined ? {} : { announce: this.options.announce }) })
      this.cleanups.add(async () => { await stopNode(this.node) })
      this.mailbox = new MailboxService(this.node, new RelayStore(this.db, this.options.limits ?? DEFAULT_MAILBOX_LIMITS))
      await this.mailbox.start()
      this.cleanups.add(async () => { await this.mailbox.stop() })
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    await this.cleanups.run()
  }

  addresses (): string[] {
    return this.node.getMultiaddrs().map(String)
  }

  waiting (): number {
    return this.mailbox.waiting()
  }
}
