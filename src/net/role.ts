import { chmodSync, mkdirSync, statSync } from 'node:fs'
import { NetError } from './errors.js'
import { acquireLock } from '../fs/index.js'
import { Cleanups } from './cleanups.js'
import { loadOrCreatePeerSeed } from './peer-key-file.js'
import { shareableAddresses } from './links.js'
import type { TwinLibp2p } from './node.js'

/**
 * A long-running role of the program around one libp2p node (relay, storage node): `start`
 * sets it up and, if that fails half-way, releases what it took; `stop` is idempotent.
 */
export abstract class NodeRole {
  node!: TwinLibp2p
  protected readonly cleanups = new Cleanups()
  /** Reserved ranges this node treats as public (`--public-range`). */
  protected publicRanges: readonly string[] = []

  async start (): Promise<void> {
    try {
      await this.setUp()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  protected abstract setUp (): Promise<void>

  /** Makes the private home folder, takes its lock, and returns the node's key seed (created on first start). */
  protected prepareHome (home: string, role: 'relay' | 'storage'): Uint8Array {
    mkdirSync(home, { recursive: true, mode: 0o700 })
    if (!statSync(home).isDirectory()) throw new NetError('HOME_INVALID', `${home} is not a folder`)
    // mkdir's mode applies only to a folder it creates; an existing one may be 0755 or 0777,
    // and it holds the node's key.
    try {
      chmodSync(home, 0o700)
    } catch (err) {
      throw new NetError('HOME_INVALID', `cannot make ${home} private (mode 0700): ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
    }
    this.cleanups.add(acquireLock(home, role))
    return loadOrCreatePeerSeed(home, `${role}-key.json`, `twin-${role}-key/1`)
  }

  async stop (): Promise<void> {
    await this.cleanups.run()
  }

  /** Where other machines can reach this node, best first (`shareableAddresses`). */
  addresses (): string[] {
    return shareableAddresses(this.node.getMultiaddrs().map(String), this.publicRanges)
  }
}
