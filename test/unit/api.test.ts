import { EventEmitter } from 'node:events'
import { describe, expect, it, vi } from 'vitest'
import { createApi, mountVaultApi, openApi, type ApiBackend, type VaultBackend } from '../../src/api/index.js'
import { VaultError } from '../../src/vault/errors.js'
import { BackendError } from '../../src/shards/errors.js'

// The API in process, without a twin behind it: a backend that answers little, and a vault
// that knows no file.
const HOST = '127.0.0.1:4000'
const backend: ApiBackend = {
  status: () => ({ id: 'b', name: '', peerId: '', addresses: [], relays: [], connections: 0, links: [], reachability: 'unknown', observed: [], outbox: {}, inbox: 0 }),
  send: async () => { throw new Error('a bug, with details the caller must not see') },
  inbox: () => ({ messages: [] }),
  outbox: () => ({ messages: [] }),
  call: async () => null,
  events: new EventEmitter()
}
const vault: VaultBackend = {
  put: async () => { throw new VaultError('NO_STORAGE', 'the vault has no storage peer') },
  remove: () => {},
  move: () => {},
  verify: async () => ({ checked: 0, ok: 0, missing: 0, corrupt: 0 }),
  repair: async () => ({ repaired: 0, failed: 0 }),
  status: async () => ({ peers: [], files: 0, healthy: 0, degraded: 0, lost: 0, durability: 0, code: { k: 0, m: 0 }, oneMachine: true, note: '' }),
  peers: () => [],
  addPeer: async () => { throw new BackendError('denied', 'the operator of the node refused this twin') },
  removePeer: () => {},
  snapshotShards: () => [],
  snapshotPending: () => false,
  vault: {
    file: path => { throw new VaultError('NOT_FOUND', `no file ${path} in the vault`) },
    read: async function * () {},
    list: () => [],
    versions: path => { throw new VaultError('NOT_FOUND', `no file ${path} in the vault`) },
    reads: { chunks: 0, decoded: 0 }
  },
  store: { allShards: () => [], chunk: () => undefined }
}
const app = createApi(backend, { token: 'secret', hosts: () => new Set([HOST]) })
mountVaultApi(app, vault, () => {})

async function call (method: string, path: string, body?: unknown): Promise<{ status: number, text: string }> {
  const res = await app.request(`http://${HOST}${path}`, {
    method,
    headers: { host: HOST, authorization: 'Bearer secret', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: res.status, text: await res.text() }
}

describe('the local API', () => {
  it('answers a vault read of a missing path with 404 and the code NOT_FOUND', async () => {
    const r = await call('GET', '/v1/vault/file?path=/nothing-here')
    expect(r.status).toBe(404)
    expect(JSON.parse(r.text)).toEqual({ code: 'NOT_FOUND', error: 'no file /nothing-here in the vault' })
  })

  it('answers each error with the status its part lists for the code', async () => {
    expect(await call('POST', '/v1/storage/add', { address: '/ip4/1.2.3.4/tcp/1/p2p/x' })).toMatchObject({ status: 403, text: expect.stringContaining('"code":"STORAGE_DENIED"') })
    expect(await call('GET', '/v1/inbox?limit=many')).toMatchObject({ status: 400, text: expect.stringContaining('"code":"BAD_REQUEST"') })
    expect(await call('GET', '/v1/vault/file')).toMatchObject({ status: 400, text: expect.stringContaining('give ?path=') })
    expect(await call('GET', '/v1/nowhere')).toMatchObject({ status: 404, text: expect.stringContaining('"code":"NOT_FOUND"') })
    // A put has answered 200 before it fails: its last NDJSON line carries the error.
    const put = await call('POST', '/v1/vault/put', { file: '/tmp/x' })
    expect(put.status).toBe(200)
    expect(JSON.parse(put.text.trim().split('\n').at(-1) as string)).toEqual({ code: 'NO_STORAGE', error: 'the vault has no storage peer' })
  })

  it('answers an unexpected error as INTERNAL, without its details, which it logs', async () => {
    const log = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    try {
      const r = await call('POST', '/v1/messages', { to: 'bxyz', text: 'hi' })
      expect(r.status).toBe(500)
      expect(JSON.parse(r.text)).toEqual({ code: 'INTERNAL', error: 'internal error' })
      expect(String(log.mock.calls[0]?.[0])).toMatch(/^api: internal error: Error: a bug, with details/)
    } finally {
      log.mockRestore()
    }
  })

  it('documents every route it serves, the vault\'s included, with the errors each answers, and no other', () => {
    const paths = (openApi() as { paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>> }).paths
    const served = app.routes.filter(r => r.method !== 'ALL').map(r => `${r.method} ${r.path}`).sort()
    const documented = Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map(m => `${m.toUpperCase()} ${path}`)).sort()
    expect(served.filter(r => r.includes('/v1/vault/') || r.includes('/v1/storage/')).length).toBe(13)
    expect(documented).toEqual(served)
    // Each route lists its error responses by status, with the codes; the vault's own errors too.
    for (const ops of Object.values(paths)) {
      for (const op of Object.values(ops)) expect(op.responses[401]?.description).toBe('UNAUTHORIZED')
    }
    expect(paths['/v1/vault/file']?.get?.responses[404]?.description).toBe('NOT_FOUND')
    expect(paths['/v1/vault/file']?.get?.responses[502]?.description).toBe('CHUNK_LOST')
    expect(paths['/v1/storage/add']?.post?.responses[403]?.description).toBe('STORAGE_NOT_ADMITTED, STORAGE_DENIED, HOST_NOT_ALLOWED')
  })
})
