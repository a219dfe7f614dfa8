import { Readable } from 'node:stream'
import type { Hono } from 'hono'
import { stream } from 'hono/streaming'
import type { z } from 'zod'
import type { ChunkRow, FileVersion, Progress, PutResult, ShardRow } from '../vault/index.js'
import { toHex } from '../wire/index.js'
import { ApiError } from './errors.js'
import { body, errorAnswer } from './http.js'
import {
  addPeerSchema, fileQuerySchema, mvSchema, pathSchema, putSchema, removePeerSchema,
  type addedPeerSchema, type entrySchema, type lsResultSchema, type movedSchema, type peersResultSchema, type removedSchema,
  type repairResultSchema, type shardsResultSchema, type storageStatusSchema, type verifyResultSchema, type versionsResultSchema
} from './schemas.js'

/**
 * What the vault routes need from the running twin: its VaultService, which the daemon passes
 * in (the API sits below the twin that composes it, so it names only what it calls). Results
 * are typed by the schemas the OpenAPI document shows.
 */
export interface VaultBackend {
  /** Stores a file or a folder from this machine's disk. */
  put: (file: string, as: string | undefined, onProgress: (p: Progress & { path: string }) => void) => Promise<PutResult[]>
  remove: (path: string) => void
  move: (from: string, to: string) => void
  verify: () => Promise<z.infer<typeof verifyResultSchema>>
  repair: () => Promise<z.infer<typeof repairResultSchema>>
  status: () => Promise<z.infer<typeof storageStatusSchema>>
  peers: () => Array<{ id: string, address: string, kind: string }>
  /** Adds a storage node from an invite or a multiaddr. */
  addPeer: (input: string) => Promise<z.infer<typeof addedPeerSchema>>
  removePeer: (id: string) => void
  snapshotShards: () => Array<{ addr: string, peer: string }>
  snapshotPending: () => boolean
  /** The index and the reads: which file a path names, its bytes, listings. */
  vault: {
    file: (path: string, version?: number) => FileVersion
    read: (file: FileVersion) => AsyncGenerator<Uint8Array>
    list: (prefix: string) => FileVersion[]
    versions: (path: string) => FileVersion[]
    readonly reads: { chunks: number, decoded: number }
  }
  store: {
    allShards: () => ShardRow[]
    chunk: (id: Uint8Array) => ChunkRow | undefined
  }
}

export function entry (f: FileVersion): z.infer<typeof entrySchema> {
  return { path: f.path, size: f.size, modified: new Date(f.modified).toISOString(), version: f.version, hash: toHex(f.hash) }
}

/**
 * The vault's routes. `POST /v1/vault/put` answers with newline-delimited JSON: progress lines
 * `{ "progress": { path, done, total } }` while it works, then `{ "result": ... }` or
 * `{ "error", "code" }`. `GET /v1/vault/file` answers with the file's bytes. Each route is in
 * the OpenAPI document (src/api/openapi.ts), with the errors it answers.
 */
export function mountVaultApi (app: Hono, vault: VaultBackend, onStorageChange: () => void): void {
  app.post('/v1/vault/put', async c => {
    const req = await body(c, putSchema)
    return stream(c, async s => {
      let last = 0
      try {
        const results = await vault.put(req.file, req.as, p => {
          const now = Date.now()
          if (now - last < 100 && p.done !== p.total) return
          last = now
          void s.write(JSON.stringify({ progress: p }) + '\n')
        })
        await s.write(JSON.stringify({ result: results }) + '\n')
      } catch (err) {
        await s.write(JSON.stringify(errorAnswer(err).body) + '\n')
      }
    })
  })
  app.get('/v1/vault/file', async c => {
    const q = fileQuerySchema.safeParse(c.req.query())
    if (!q.success) throw new ApiError('BAD_REQUEST', 'give ?path= and optionally &version=')
    const file = vault.vault.file(q.data.path, q.data.version)
    const iterator = vault.vault.read(file)
    // Read the first chunk before answering, so a file that cannot be read gets an error status.
    const first = await iterator.next()
    async function * rest (): AsyncGenerator<Uint8Array> {
      if (first.done !== true) yield first.value
      try {
        yield * iterator
      } catch (err) {
        // The status line went out with the first chunk: the client sees the answer cut short,
        // and the reason is in the twin's own output.
        process.stderr.write(`twin: reading ${file.path} failed after it started: ${(err as Error).message}\n`)
        throw err
      }
    }
    const body = Readable.toWeb(Readable.from(rest())) as unknown as ReadableStream
    return new Response(body, { headers: { 'content-type': 'application/octet-stream', 'x-twin-size': String(file.size), 'x-twin-version': String(file.version) } })
  })
  app.get('/v1/vault/ls', c => c.json({ entries: vault.vault.list(c.req.query('path') ?? '/').map(entry) } satisfies z.infer<typeof lsResultSchema>))
  app.get('/v1/vault/versions', c => c.json({
    versions: vault.vault.versions(c.req.query('path') ?? '').map(f => ({ ...entry(f), deleted: f.deleted }))
  } satisfies z.infer<typeof versionsResultSchema>))
  app.post('/v1/vault/rm', async c => { const b = await body(c, pathSchema); vault.remove(b.path); return c.json({ removed: b.path } satisfies z.infer<typeof removedSchema>) })
  app.post('/v1/vault/mv', async c => { const b = await body(c, mvSchema); vault.move(b.from, b.to); return c.json({ from: b.from, to: b.to } satisfies z.infer<typeof movedSchema>) })
  // Where every shard lives: the index's shards and the latest index snapshot's, whether a
  // snapshot is still to be written, and how many chunk reads needed parity (for operators and tests).
  app.get('/v1/vault/shards', c => c.json({
    shards: vault.store.allShards().map(x => ({ chunk: toHex(x.chunk), idx: x.idx, addr: toHex(x.addr), peer: x.peer, status: x.status, size: vault.store.chunk(x.chunk)?.shardSize })),
    snapshot: vault.snapshotShards(),
    snapshotPending: vault.snapshotPending(),
    reads: vault.vault.reads
  } satisfies z.infer<typeof shardsResultSchema>))
  app.post('/v1/vault/verify', async c => c.json(await vault.verify()))
  app.post('/v1/vault/repair', async c => c.json(await vault.repair()))
  app.get('/v1/storage/status', async c => c.json(await vault.status()))
  app.get('/v1/storage/ls', c => c.json({ peers: vault.peers().map(p => ({ id: p.id, address: p.address, kind: p.kind })) } satisfies z.infer<typeof peersResultSchema>))
  app.post('/v1/storage/add', async c => { const r = await vault.addPeer((await body(c, addPeerSchema)).address); onStorageChange(); return c.json(r) })
  app.post('/v1/storage/remove', async c => { const b = await body(c, removePeerSchema); vault.removePeer(b.id); onStorageChange(); return c.json({ removed: b.id } satisfies z.infer<typeof removedSchema>) })
}
