import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { TwinError } from '../errors.js'
import { createServiceNode, keepConnected, peerKeyFromSeed, stopNode } from '../net/node.js'
import { NodeRole } from '../net/role.js'
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
export class StorageNode extends NodeRole {

  constructor (readonly home: string, private readonly options: { dir: string, quota: number, listen: string[], announce?: string[], bootstrap?: string[] }) {
    super()
  }

  protected async setUp (): Promise<void> {
    const dir = resolve(this.options.dir)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const seed = this.prepareHome(this.home, 'storage')
    this.node = await createServiceNode({ privateKey: await peerKeyFromSeed(seed), listen: this.options.listen, ...(this.options.announce === undefined ? {} : { announce: this.options.announce }) })
    this.cleanups.add(async () => { await stopNode(this.node) })
    const service = new StorageService(this.node, dir, this.options.quota)
    await service.start()
    this.cleanups.add(async () => { await service.stop() })
    for (const relay of this.options.bootstrap ?? []) await keepConnected(this.node, relay)
  }
}
