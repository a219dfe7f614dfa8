import { join } from 'node:path'
import { openDb, type Db } from '../db/index.js'
import { createRelayNode, peerKeyFromSeed, stopNode, NodeRole } from '../net/index.js'
import { MailboxService } from './service.js'
import { RelayStore } from './store.js'
import { checkMailboxLimits, DEFAULT_MAILBOX_LIMITS, type MailboxLimits } from './limits.js'

/**
 * A relay: a directly reachable libp2p node that is a DHT server, a circuit relay (v2) and a
 * mailbox for twins that are offline. Its peer key lives in `<home>/relay-key.json` (0600) so
 * its address survives restarts; its mailbox in `<home>/relay.db`.
 */
export class Relay extends NodeRole {
  private db!: Db
  private mailbox!: MailboxService

  constructor (readonly home: string, private readonly options: { listen: string[], announce?: string[], limits?: MailboxLimits, publicRanges?: string[] }) {
    super()
    this.publicRanges = options.publicRanges ?? []
    checkMailboxLimits(options.limits ?? DEFAULT_MAILBOX_LIMITS)
  }

  protected async setUp (): Promise<void> {
    const seed = this.prepareHome(this.home, 'relay')
    this.db = openDb(join(this.home, 'relay.db'), { create: true })
    this.cleanups.add(() => { this.db.close() })
    this.node = await createRelayNode({ privateKey: await peerKeyFromSeed(seed), listen: this.options.listen, ...(this.options.announce === undefined ? {} : { announce: this.options.announce }), publicRanges: this.publicRanges })
    this.cleanups.add(async () => { await stopNode(this.node) })
    this.mailbox = new MailboxService(this.node, new RelayStore(this.db, this.options.limits ?? DEFAULT_MAILBOX_LIMITS))
    await this.mailbox.start()
    this.cleanups.add(async () => { await this.mailbox.stop() })
  }

  waiting (): number {
    return this.mailbox.waiting()
  }
}
