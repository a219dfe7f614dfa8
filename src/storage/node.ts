import { mkdirSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { TwinError } from '../errors.js'
import { createServiceNode, keepConnected, peerKeyFromSeed, stopNode, type TwinLibp2p } from '../net/node.js'
import { Cleanups } from '../net/cleanups.js'
import { loadOrCreatePeerSeed } from '../net/peer-key-file.js'
import { acquireLock } from '../twin/lock.js'
import { StorageService } from './service.js'

/** Parses a size like `10GiB`, `500MiB`, `2TB` or `1048576` into bytes. */
export function parseSize (text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?\s*$/i.exec(text)
  if (m === null) throw new TwinError('OPTION_INVALID', `"${text}" is not a size (for example 10GiB, 500MiB)`)
  const units: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3, tb: 1e12, tib: 1024 ** 4 }
  return Math.floor(Number(m[1]) * (units[(m[2] ?? 'b').toLowerCase()] as number))
}

/**
 * A storage node: a libp2p node that keeps shards for the twins that use it, on disk under
 * `dir`, each owner under `quota` bytes. Its key lives in `<home>/storage-key.json`.
 */
export class StorageNode {
  node!: TwinLibp2p
  private readonly cleanups = new Cleanups()

  constructor (readonly home: string, private readonly options: { dir: string, quota: number, listen: string[], announce?: string[], bootstrap?: string[] }) {}

  async start (): Promise<void> {
    try {
      mkdirSync(this.home, { recursive: true, mode: 0o700 })
      if (!statSync(this.home).isDirectory()) throw new TwinError('HOME_INVALID', `${this.home} is not a folder`)
      const dir = resolve(this.options.dir)
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      this.cleanups.add(acquireLock(this.home, 'storage'))
      const seed = loadOrCreatePeerSeed(this.home, 'storage-key.json', 'twin-storage-key/1')
      this.node = await createServiceNode({ privateKey: await peerKeyFromSeed(seed), listen: this.options.listen, ...(this.options.announce === undefined ? {} : { announce: this.options.announce }) })
      this.cleanups.add(async () => { await stopNode(this.node) })
      const service = new StorageService(this.node, dir, this.options.quota)
      await service.start()
      this.cleanups.add(async () => { await service.stop() })
      for (const relay of this.options.bootstrap ?? []) await keepConnected(this.node, relay)
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
}
