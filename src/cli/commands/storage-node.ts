import { resolveHome } from '../../twin/home.js'
import { emit } from '../output.js'
import { formatSize, parseDuration, parseSize } from '../../storage/units.js'
import type { CommonOptions } from './identity.js'

/** Default per-twin quota of a storage node. */
const DEFAULT_QUOTA = '10GiB'
/** Default lifetime of an invite: long enough to pass it on, short enough not to lie around. */
const DEFAULT_INVITE_LIFETIME = '7d'

export async function run (opts: CommonOptions & { dir?: string, quota?: string, open?: boolean, listen?: string[], announce?: string[], bootstrap?: string[], publicRange?: string[] }): Promise<void> {
  const { keepRunningOnStrayErrors, checkPublicRanges } = await import('./network.js')
  keepRunningOnStrayErrors()
  const publicRanges = await checkPublicRanges(opts.publicRange)
  const { StorageNode } = await import('../../storage/index.js')
  const home = resolveHome(opts.home)
  const quota = parseSize(opts.quota ?? DEFAULT_QUOTA, 'quota')
  const node = new StorageNode(home, {
    dir: opts.dir ?? `${home}/shards`,
    quota,
    open: opts.open === true,
    listen: opts.listen ?? ['/ip4/0.0.0.0/tcp/0'],
    ...(opts.announce === undefined ? {} : { announce: opts.announce }),
    ...(opts.bootstrap === undefined ? {} : { bootstrap: opts.bootstrap }),
    publicRanges
  })
  await node.start()
  const { reportOnSignal } = await import('../../net/index.js')
  reportOnSignal('storage-node', () => node.node)
  const addresses = node.addresses()
  const peerId = node.node.peerId.toString()
  emit(opts.json, { peerId, addresses, open: opts.open === true, quota }, () => [
    `storage node ${peerId} is running, at ${addresses.join(' ') || '(no address yet)'}`,
    opts.open === true
      ? `It is open: every twin that asks gets ${formatSize(quota)}.`
      : `It serves only the twins you admit (${formatSize(quota)} each unless you say otherwise): give a twin an invite with\n` +
        `  twin storage-node invite --home ${home}\nor admit one you know with\n  twin storage-node allow TWIN_ID --home ${home}`,
    'Ctrl-C stops it.'
  ].join('\n'))
  await new Promise<void>(resolve => { process.once('SIGINT', () => { resolve() }); process.once('SIGTERM', () => { resolve() }) })
  await node.stop()
}

export async function invite (opts: CommonOptions & { quota?: string, expires?: string }): Promise<void> {
  const { createInvite } = await import('../../storage/operator.js')
  const home = resolveHome(opts.home)
  const r = createInvite(home, {
    ...(opts.quota === undefined ? {} : { quota: parseSize(opts.quota, 'quota') }),
    expiresInMs: parseDuration(opts.expires ?? DEFAULT_INVITE_LIFETIME)
  })
  emit(opts.json, r, () => [
    r.token,
    '',
    `One twin can use this invite, until ${r.expires}, with a quota of ${formatSize(r.quota)}: its owner runs`,
    '  twin storage add TOKEN'
  ].join('\n'))
}

export async function allow (id: string, opts: CommonOptions & { quota?: string }): Promise<void> {
  const { allowTwin } = await import('../../storage/operator.js')
  const c = allowTwin(resolveHome(opts.home), id, opts.quota === undefined ? undefined : parseSize(opts.quota, 'quota'))
  emit(opts.json, c, () => `admitted twin ${c.id} with a quota of ${formatSize(c.quota)} (it uses ${formatSize(c.used)})`)
}

export async function deny (id: string, opts: CommonOptions): Promise<void> {
  const { denyTwin } = await import('../../storage/operator.js')
  const c = denyTwin(resolveHome(opts.home), id)
  emit(opts.json, c, () => `refused twin ${c.id} from its next request on; its ${formatSize(c.used)} of shards stay on disk`)
}

export async function clients (opts: CommonOptions): Promise<void> {
  const { listClients } = await import('../../storage/operator.js')
  const r = listClients(resolveHome(opts.home))
  emit(opts.json, r, () => [
    r.open ? `open: every twin that asks is admitted with ${formatSize(r.defaultQuota)}` : `admits only allowed and invited twins (default quota ${formatSize(r.defaultQuota)})`,
    ...(r.clients.length === 0
      ? ['no twins yet']
      : r.clients.map(c => `${c.state === 'admitted' ? 'admitted' : 'DENIED  '}  ${c.id}  ${formatSize(c.used)} of ${formatSize(c.quota)}  (${c.admitted}, since ${c.since})`))
  ].join('\n'))
}
