import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { openDb } from '../../src/db/index.js'
import { ed25519PublicKey, signWithContext, verifyWithContext } from '../../src/identity/index.js'
import { decodeCbor, encodeCbor } from '../../src/wire/index.js'
import { ROOT_CONTEXT } from '../../src/storage/service.js'
import { openForOwner, sealForOwner, VaultKeys } from '../../src/vault/crypto.js'
import { VaultStore } from '../../src/vault/store.js'
import { FolderShardStore } from '../../src/shards/folder-store.js'
import { Vault, type RootSigner } from '../../src/vault/vault.js'
import type { ShardBackend } from '../../src/shards/backend.js'

const dir = mkdtempSync(join(tmpdir(), 'twin-vault-unit-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

/** Signs and checks roots as the twin does: Ed25519 with the vault-root context, by the twin's key. */
function rootSigner (seed: Uint8Array, id = 'btest'): RootSigner {
  const pub = ed25519PublicKey(seed)
  return {
    id,
    sign: payload => signWithContext(seed, ROOT_CONTEXT, payload),
    verify: (payload, sig) => verifyWithContext(pub, ROOT_CONTEXT, payload, sig)
  }
}
const ownerSeed = new Uint8Array(randomBytes(32))
const vaultKey = new Uint8Array(32).fill(3)

function makeVault (name: string, peers = 6): { vault: Vault, store: VaultStore, backends: Map<string, ShardBackend> } {
  const store = new VaultStore(openDb(join(dir, `${name}.db`), { create: true }))
  const backends = new Map<string, ShardBackend>()
  for (let i = 0; i < peers; i++) {
    store.addPeer(`local:${i}`, join(dir, name, `p${i}`), 'local')
    backends.set(`local:${i}`, new FolderShardStore(`local:${i}`, join(dir, name, `p${i}`)))
  }
  return { vault: new Vault(store, new VaultKeys(vaultKey), () => backends, rootSigner(ownerSeed)), store, backends }
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

  it('reads healthy chunks by their data shards alone, whatever order the shards arrive in', async () => {
    const { vault, backends } = makeVault('arrival-order')
    const data = new Uint8Array(randomBytes(4 * 1024 * 1024))
    await vault.put('/f', once(data))
    // Peer i answers after (6 - i) × 10 ms: the first data shards arrive last.
    for (const [id, honest] of [...backends]) {
      const delay = (6 - Number(id.split(':')[1])) * 10
      backends.set(id, { ...honest, id, get: async (addr: Uint8Array) => { await new Promise(resolve => setTimeout(resolve, delay)); return await (honest as FolderShardStore).get(addr) } } as unknown as ShardBackend)
    }
    expect((await readAll(vault, '/f')).equals(Buffer.from(data))).toBe(true)
    expect(vault.reads.chunks).toBeGreaterThan(1)
    expect(vault.reads.checked).toBe(0) // no chunk needed its shards checked one by one
    expect(vault.reads.decoded).toBe(0)
  })

  it('reads through a node that returns altered shards: parity replaces them, and they are marked corrupt', async () => {
    const { vault, backends, store } = makeVault('liar-read')
    const data = new Uint8Array(randomBytes(3 * 1024 * 1024))
    await vault.put('/f', once(data))
    expect((await readAll(vault, '/f')).equals(Buffer.from(data))).toBe(true)
    expect(vault.reads.decoded).toBe(0) // every data shard good: no chunk needed parity
    const honest = backends.get('local:0') as FolderShardStore
    backends.set('local:0', {
      ...honest,
      id: 'local:0',
      get: async (addr: Uint8Array) => {
        const d = await honest.get(addr)
        if (d === undefined) return d
        const bad = new Uint8Array(d)
        bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0x40
        return bad
      }
    } as unknown as ShardBackend)
    const before = vault.reads.chunks
    expect((await readAll(vault, '/f')).equals(Buffer.from(data))).toBe(true)
    const onLiar = store.allShards().filter(s => s.peer === 'local:0')
    const dataOnLiar = onLiar.filter(s => s.idx < (store.chunk(s.chunk)?.k ?? 0)).length
    expect(dataOnLiar).toBeGreaterThan(0)
    expect(vault.reads.decoded).toBe(dataOnLiar) // each chunk with a data shard there was decoded from parity
    expect(vault.reads.chunks - before).toBe(new Set(store.allShards().map(s => Buffer.from(s.chunk).toString('hex'))).size)
    // Every shard on the liar that a read looked at is now marked corrupt; none elsewhere.
    expect(store.allShards().filter(s => s.status === 'corrupt').every(s => s.peer === 'local:0')).toBe(true)
    expect(store.allShards().filter(s => s.status === 'corrupt').length).toBe(dataOnLiar)
  })

  it('audits shards by leaf and proof, and catches a node that lies', async () => {
    const { vault, backends } = makeVault('audit')
    await vault.put('/f', once(new Uint8Array(randomBytes(1024 * 1024))))
    expect(await vault.audit(1000)).toMatchObject({ failed: 0 })
    const honest = backends.get('local:2') as FolderShardStore
    backends.set('local:2', { ...honest, id: 'local:2', audit: async (addr: Uint8Array, leaf: number) => { const a = await honest.audit(addr, leaf); return a === undefined ? a : { ...a, leaf: new Uint8Array(a.leaf.length) } } } as unknown as ShardBackend)
    expect((await vault.audit(1000)).failed).toBeGreaterThan(0)
  })

  /** A new, empty index on the same peers and keys, as a restore from the phrase has it. */
  function restoredVault (name: string, from: { backends: Map<string, ShardBackend> }, signer = rootSigner(ownerSeed)): Vault {
    const store = new VaultStore(openDb(join(dir, `${name}.db`), { create: true }))
    for (let i = 0; i < 6; i++) store.addPeer(`local:${i}`, join(dir, 'unused', `p${i}`), 'local')
    return new Vault(store, new VaultKeys(vaultKey), () => from.backends, signer)
  }

  it('restores the whole index from the newest root on the peers', async () => {
    const a = makeVault('snap')
    const data = new Uint8Array(randomBytes(1024 * 1024))
    await a.vault.put('/kept', once(data))
    expect(await a.vault.snapshot()).toBe(1)
    await a.vault.put('/kept2', once(data))
    expect(await a.vault.snapshot()).toBe(2)
    const b = restoredVault('snap-restored', a)
    expect(await b.recover()).toEqual({ seq: 2, files: 2 })
    expect((await readAll(b, '/kept2')).equals(Buffer.from(data))).toBe(true)
  })

  it('ignores a root signed by another key, even with a higher sequence', async () => {
    const a = makeVault('forged')
    await a.vault.put('/mine', once(new Uint8Array(randomBytes(1000))))
    expect(await a.vault.snapshot()).toBe(1)
    // Another key signs a root for the same twin id with a higher sequence, otherwise well
    // formed (even sealed under the right key), so only the signature tells it apart.
    const genuine = await (a.backends.get('local:0') as ShardBackend).getRoot() as Uint8Array
    const { r } = decodeCbor(genuine, 'root') as { r: { id: string, seq: number, created: number, snap: Uint8Array } }
    const rootKey = new VaultKeys(vaultKey).rootKey
    const snapshot = openForOwner(rootKey, encodeCbor({ v: 2, id: r.id, seq: r.seq, created: r.created }), r.snap, 'snapshot')
    const forgedR = { v: 2, id: r.id, seq: 99, created: r.created, snap: sealForOwner(rootKey, encodeCbor({ v: 2, id: r.id, seq: 99, created: r.created }), snapshot) }
    const forged = encodeCbor({ r: forgedR, sig: signWithContext(new Uint8Array(randomBytes(32)), ROOT_CONTEXT, encodeCbor(forgedR)) })
    for (const i of [0, 1, 2]) await (a.backends.get(`local:${i}`) as ShardBackend).putRoot(forged)
    expect(await restoredVault('forged-half', a).recover()).toEqual({ seq: 1, files: 1 })
    // With only forged roots left, nothing is restored.
    for (const i of [3, 4, 5]) await (a.backends.get(`local:${i}`) as ShardBackend).putRoot(forged)
    const c = restoredVault('forged-all', a)
    expect(await c.recover()).toBeUndefined()
    expect(c.list('/')).toEqual([])
  })

  it('seals the snapshot description in the root: the peers holding shards are not named in clear', async () => {
    const a = makeVault('sealed')
    await a.vault.put('/f', once(new Uint8Array(randomBytes(5000))))
    await a.vault.snapshot()
    const root = await (a.backends.get('local:0') as ShardBackend).getRoot() as Uint8Array
    const { r } = decodeCbor(root, 'root') as { r: { v: number, snap: Uint8Array } }
    expect(r.v).toBe(2)
    expect(Buffer.from(root).includes('local:')).toBe(false)
    // The owner's key opens it, and it does name them.
    const opened = openForOwner(new VaultKeys(vaultKey).rootKey, encodeCbor({ v: 2, id: 'btest', seq: 1, created: (r as any).created }), r.snap, 'snapshot')
    expect(Buffer.from(opened).includes('local:')).toBe(true)
  })

  it('still restores from a root of version 1 (plain snapshot description)', async () => {
    const a = makeVault('legacy')
    const data = new Uint8Array(randomBytes(3000))
    await a.vault.put('/old', once(data))
    await a.vault.snapshot()
    const v2 = decodeCbor(await (a.backends.get('local:0') as ShardBackend).getRoot() as Uint8Array, 'root') as { r: { id: string, seq: number, created: number, snap: Uint8Array } }
    const snapshot = decodeCbor(openForOwner(new VaultKeys(vaultKey).rootKey, encodeCbor({ v: 2, id: v2.r.id, seq: v2.r.seq, created: v2.r.created }), v2.r.snap, 'snapshot'), 'snapshot')
    const r1 = { v: 1, id: v2.r.id, seq: 7, created: v2.r.created, snapshot }
    const v1 = encodeCbor({ r: r1, sig: signWithContext(ownerSeed, ROOT_CONTEXT, encodeCbor(r1)) })
    for (const b of a.backends.values()) await b.putRoot(v1)
    const b = restoredVault('legacy-restored', a)
    expect(await b.recover()).toEqual({ seq: 7, files: 1 })
    expect((await readAll(b, '/old')).equals(Buffer.from(data))).toBe(true)
  })
})
