import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { equalBytes, fromHex, toHex } from '../wire/index.js'
import type { AuditProof, ShardBackend } from './backend.js'
import { BackendError } from './errors.js'
import { LEAF_SIZE, leafCount, merkleProof, merkleRoot } from './merkle.js'

/**
 * Where a folder's bytes are counted against a quota (a storage node's per-twin account).
 * `reserve` is synchronous: nothing can run between its check and its reservation, so
 * parallel puts never add up past the quota.
 */
export interface ShardAccount {
  /** Reserves room for `bytes` more, or throws a BackendError (`over-quota`, `rejected`). */
  reserve: (bytes: number) => void
  /** Gives back bytes reserved for a write that failed, or held by a deleted shard. */
  release: (bytes: number) => void
  usage: () => { used: number, quota: number | null }
}

/**
 * Shards in a folder, one file per shard at `<dir>/<first two hex digits>/<address in hex>`,
 * written to a temporary name, fsynced and renamed, so a crash leaves a whole shard or none.
 * Used for the embedded default (folders under the twin's home) and by storage nodes for each
 * owner, with an account that enforces its quota. It does not check what it reads back: the
 * owner does.
 */
export class FolderShardStore implements ShardBackend {
  /** Bytes held, counted once from disk and then kept up to date (without an account). */
  private used: Promise<number> | undefined
  /** Writes and deletes of one address run one after another (the same shard put twice at once). */
  private readonly busy = new Map<string, Promise<unknown>>()

  constructor (readonly id: string, readonly dir: string, private readonly account?: ShardAccount) {}

  private async usedBytes (): Promise<number> {
    this.used ??= (async () => {
      let n = 0
      for (const addr of await this.list()) {
        try { n += (await stat(this.path(addr))).size } catch { /* deleted meanwhile */ }
      }
      return n
    })()
    return await this.used
  }

  private count (delta: number): void {
    if (this.used !== undefined) this.used = this.used.then(n => n + delta)
  }

  private path (addr: Uint8Array): string {
    const hex = toHex(addr)
    return join(this.dir, hex.slice(0, 2), hex)
  }

  private async serial<T> (addr: Uint8Array, fn: () => Promise<T>): Promise<T> {
    const key = toHex(addr)
    const run = (this.busy.get(key) ?? Promise.resolve()).catch(() => { /* the previous caller got its error */ }).then(fn)
    this.busy.set(key, run)
    try {
      return await run
    } finally {
      if (this.busy.get(key) === run) this.busy.delete(key)
    }
  }

  async put (addr: Uint8Array, data: Uint8Array): Promise<void> {
    if (!equalBytes(merkleRoot(data), addr)) throw new BackendError('rejected', 'the shard does not match its address')
    await this.serial(addr, async () => {
      const path = this.path(addr)
      let replacing = 0
      try {
        const existing = new Uint8Array(await readFile(path))
        if (equalBytes(merkleRoot(existing), addr)) return // content-addressed: already here, intact
        replacing = existing.length // damaged on disk: a repair writes it again
      } catch { /* new shard */ }
      const grow = Math.max(0, data.length - replacing)
      this.account?.reserve(grow)
      const tmp = `${path}.${process.pid}.tmp`
      try {
        await mkdir(join(path, '..'), { recursive: true, mode: 0o700 })
        const fh = await open(tmp, 'w', 0o600)
        try {
          await fh.writeFile(data)
          await fh.sync()
        } finally {
          await fh.close()
        }
        await rename(tmp, path)
      } catch (err) {
        await rm(tmp, { force: true })
        this.account?.release(grow)
        throw err
      }
      if (data.length < replacing) this.account?.release(replacing - data.length)
      this.count(data.length - replacing)
    })
  }

  async get (addr: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.path(addr)))
    } catch {
      return undefined
    }
  }

  async delete (addr: Uint8Array): Promise<void> {
    await this.serial(addr, async () => {
      let size: number
      try { size = (await stat(this.path(addr))).size } catch { return }
      await rm(this.path(addr), { force: true })
      this.account?.release(size)
      this.count(-size)
    })
  }

  async audit (addr: Uint8Array, leaf: number): Promise<AuditProof | undefined> {
    const data = await this.get(addr)
    if (data === undefined) return undefined
    // Answers from what is on disk, right or wrong: a damaged shard fails the owner's check.
    const index = Math.min(leaf, leafCount(data.length) - 1)
    return { leaf: data.subarray(index * LEAF_SIZE, Math.min(data.length, (index + 1) * LEAF_SIZE)), proof: merkleProof(data, index) }
  }

  async list (): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    let dirs: string[]
    try {
      dirs = await readdir(this.dir)
    } catch {
      return out
    }
    for (const d of dirs) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue
      for (const f of await readdir(join(this.dir, d))) if (/^[0-9a-f]{64}$/.test(f)) out.push(fromHex(f))
    }
    return out
  }

  async stat (): Promise<{ used: number, quota: number | null }> {
    return this.account?.usage() ?? { used: await this.usedBytes(), quota: null }
  }

  async putRoot (root: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const path = join(this.dir, 'root')
    const fh = await open(`${path}.tmp`, 'w', 0o600)
    try {
      await fh.writeFile(root)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(`${path}.tmp`, path)
  }

  async getRoot (): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(join(this.dir, 'root')))
    } catch {
      return undefined
    }
  }
}
