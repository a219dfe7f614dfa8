import { statfsSync } from 'node:fs'
import { join } from 'node:path'
import { normalizeTwinId } from '../identity/index.js'
import { loadOrCreatePeerSeed } from '../net/peer-key-file.js'
import { AdmissionStore, type ClientRow } from './admission.js'
import { StorageNodeError } from './errors.js'
import { formatInvite, inviteSecret } from './invite.js'
import { formatSize } from './units.js'

/**
 * What the operator's commands do (`twin storage-node invite|allow|deny|clients`): they open
 * the node's own database directly, so they work whether the node runs or not, and a running
 * node sees each change on the next request.
 */

/** Keys in the node's settings table, written by the running node. */
export const NODE_SETTINGS = { addresses: 'addresses', peer: 'peer', dir: 'dir', quota: 'quota', open: 'open' } as const

/** One twin as `clients` shows it. */
export interface ClientView {
  id: string
  state: ClientRow['state']
  admitted: ClientRow['how']
  quota: number
  used: number
  since: string
}

function withStore<T> (home: string, fn: (store: AdmissionStore) => T): T {
  const store = AdmissionStore.open(home)
  try {
    return fn(store)
  } finally {
    store.close()
  }
}

function shardDir (home: string, store: AdmissionStore): string {
  return store.setting(NODE_SETTINGS.dir) ?? join(home, 'shards')
}

/** A twin's own quota must fit on the disk that holds the node's shards. */
function checkQuota (home: string, store: AdmissionStore, quota: number | undefined): void {
  if (quota === undefined) return
  const dir = shardDir(home, store)
  let disk: number
  try {
    const s = statfsSync(dir)
    disk = s.blocks * s.bsize
  } catch {
    throw new StorageNodeError('STORAGE_NODE_NOT_FOUND', `cannot read the shard folder ${dir} of this storage node`)
  }
  if (quota > disk) throw new StorageNodeError('STORAGE_QUOTA_TOO_LARGE', `a quota of ${formatSize(quota)} is larger than the disk that holds ${dir} (${formatSize(disk)})`)
}

function defaultQuota (store: AdmissionStore): number {
  return Number(store.setting(NODE_SETTINGS.quota) ?? '0')
}

export interface InviteResult { token: string, peerId: string, addresses: string[], quota: number, expires: string }

/** Makes a one-time invite: a token naming the node (peer id, addresses), the quota and the expiry, signed by the node. */
export function createInvite (home: string, options: { quota?: number, expiresInMs: number }, now = Date.now()): InviteResult {
  return withStore(home, store => {
    checkQuota(home, store, options.quota)
    const peer = store.setting(NODE_SETTINGS.peer)
    const addrs = JSON.parse(store.setting(NODE_SETTINGS.addresses) ?? '[]') as string[]
    if (peer === undefined) throw new StorageNodeError('STORAGE_NODE_NOT_FOUND', `the storage node in ${home} has not started yet (start it once with \`twin storage-node --home ${home}\`)`)
    const seed = loadOrCreatePeerSeed(home, 'storage-key.json', 'twin-storage-key/1')
    const secret = inviteSecret()
    const expires = now + options.expiresInMs
    store.addInvite(secret, options.quota ?? null, expires, now)
    const token = formatInvite({ peer, addrs, quota: options.quota ?? null, expires, secret }, seed)
    return { token, peerId: peer, addresses: addrs, quota: options.quota ?? defaultQuota(store), expires: new Date(expires).toISOString() }
  })
}

/** Admits a twin, with its own quota when given. */
export function allowTwin (home: string, id: string, quota?: number): ClientView {
  const twin = normalizeTwinId(id)
  return withStore(home, store => {
    checkQuota(home, store, quota)
    return view(store.allow(twin, quota), defaultQuota(store))
  })
}

/** Refuses a twin from its next request on. */
export function denyTwin (home: string, id: string): ClientView {
  const twin = normalizeTwinId(id)
  return withStore(home, store => view(store.deny(twin), defaultQuota(store)))
}

/** Every twin the node knows, with its usage, and whether the node is open. */
export function listClients (home: string): { clients: ClientView[], defaultQuota: number, open: boolean } {
  return withStore(home, store => {
    const quota = defaultQuota(store)
    return { clients: store.clients().map(r => view(r, quota)), defaultQuota: quota, open: store.setting(NODE_SETTINGS.open) === '1' }
  })
}

function view (r: ClientRow, defaultQuota: number): ClientView {
  return { id: r.twin, state: r.state, admitted: r.how, quota: r.quota ?? defaultQuota, used: r.used, since: new Date(r.since).toISOString() }
}
