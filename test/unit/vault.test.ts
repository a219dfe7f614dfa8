import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { openDb } from '../../src/db/index.js'
import { VaultKeys } from '../../src/vault/crypto.js'
import { VaultStore } from '../../src/vault/store.js'
import { FolderShardStore } from '../../src/vault/local-store.js'
import { Vault } from '../../src/vault/vault.js'
import type { ShardBackend } from '../../src/vault/backend.js'

const dir = mkdtempSync(join(tmpdir(), 'twin-vault-unit-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

function makeVault (name: string, peers = 6): { vault: Vault, store: VaultStore, backends: Map<string, ShardBackend> } {
  const store = new VaultStore(openDb(join(dir, `${name}.db`), { create: true }))
  const backends = new Map<string, ShardBackend>()
  for (let i = 0; i < peers; i++) {
    store.addPeer(`local:${i}`, join(dir, name, `p${i}`), 'local')
    backends.set(`local:${i}`, new FolderShardStore(`local:${i}`, join(dir, name, `p${i}`)))
  }
  const signer = { id: 'btest', sign: () => new Uint8Array(64), verify: () => true }
  return { vault: new Vault(store, new VaultKeys(new Uint8Array(32).fill(3)), () => backends, signer), store, backends }
}

async function * once (data: Uint8Array): AsyncGenerator<Uint8Array> { yield data }
async function readAll (vault: Vault, path: string, version?: number): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of vault.read(vault.file(path, version))) parts.push(p)
  return Buffer.concat(parts)
}

describe('vault', () => {
  it('keeps versions, deletes and moves without losing earlier versions', async () => {
    const { vault } = makeVault('versions')
    const v1 = new Uint8Array(randomBytes(3 * 1024 * 1024))
    const v2 = new Uint8Array(randomBytes(1000))
    expect((await vault.put('/docs/a.bin', once(v1))).version).toBe(1)
    expect((await vault.put('/docs/a.bin', once(v2))).version).toBe(2)
    expect((await readAll(vault, '/docs/a.bin')).equals(Buffer.from(v2))).toBe(true)
    expect((await readAll(vault, '/docs/a.bin', 1)).equals(Buffer.from(v1))).toBe(true)
    vault.move('/docs/a.bin', '/docs/b.bin')
    expect(vault.list('/docs').map(f => f.path)).toEqual(['/docs/b.bin'])
    vault.remove('/docs/b.bin')
    expect(vault.list('/')).toEqual([])
    expect(() => vault.file('/docs/b.bin')).toThrow(/no file/)
    expect(vault.versions('/docs/a.bin').map(v => v.deleted)).toEqual([false, false, true])
    expect((await readAll(vault, '/docs/b.bin', 1)).equals(Buffer.from(v2))).toBe(true)
  })

  it('stores a repeated chunk once (dedupe inside the vault)', async () => {
    const { vault, store } = makeVault('dedupe')
    const data = new Uint8Array(randomBytes(2 * 1024 * 1024))
    await vault.put('/one', once(data))
    const shards = store.allShards().length
    await vault.put('/two', once(data))
    expect(store.allShards().length).toBe(shards)
    expect((await readAll(vault, '/two')).equals(Buffer.from(data))).toBe(true)
  })

  it('reads through lost shards, repairs them, and reports health', async () => {
    const { vault, backends } = makeVault('repair')
    const data = new Uint8Array(randomBytes(5 * 1024 * 1024))
    await vault.put('/f', once(data))
    const victim = backends.get('local:1') as FolderShardStore
    for (const addr of await victim.list()) await victim.delete(addr)
    expect((await readAll(vault, '/f')).equals(Buffer.from(data))).toBe(true)
    const check = await vault.verify()
    expect(check.missing).toBeGreaterThan(0)
    expect(vault.health()).toMatchObject({ files: 1, healthy: 0, degraded: 1, lost: 0 })
    expect(await vault.repair()).toEqual({ repaired: check.missing, failed: 0 })
    expect(await vault.verify()).toMatchObject({ missing: 0, corrupt: 0 })
    expect(vault.health()).toMatchObject({ healthy: 1, degraded: 0 })
  })

  it('audits shards by leaf and proof, and catches a node that lies', async () => {
    const { vault, backends } = makeVault('audit')
    await vault.put('/f', once(new Uint8Array(randomBytes(1024 * 1024))))
    expect(await vault.audit(1000)).toMatchObject({ failed: 0 })
    const honest = backends.get('local:2') as FolderShardStore
    backends.set('local:2', { ...honest, id: 'local:2', audit: async (addr: Uint8Array, leaf: number) => { const a = await honest.audit(addr, leaf); return a === undefined ? a : { ...a, leaf: new Uint8Array(a.leaf.length) } } } as unknown as ShardBackend)
    expect((await vault.audit(1000)).failed).toBeGreaterThan(0)
  })

  it('restores the whole index from the newest root on the peers', async () => {
    const a = makeVault('snap')
    const data = new Uint8Array(randomBytes(1024 * 1024))
    await a.vault.put('/kept', once(data))
    expect(await a.vault.snapshot()).toBe(1)
    await a.vault.put('/kept2', once(data))
    expect(await a.vault.snapshot()).toBe(2)
    // A new, empty index on the same peers and keys.
    const store = new VaultStore(openDb(join(dir, 'snap-restored.db'), { create: true }))
    for (let i = 0; i < 6; i++) store.addPeer(`local:${i}`, join(dir, 'snap', `p${i}`), 'local')
    const b = new Vault(store, new VaultKeys(new Uint8Array(32).fill(3)), () => a.backends, { id: 'btest', sign: () => new Uint8Array(64), verify: () => true })
    expect(await b.recover()).toEqual({ seq: 2, files: 2 })
    expect((await readAll(b, '/kept2')).equals(Buffer.from(data))).toBe(true)
  })
})
