import { CliError } from '../errors.js'
import { resolveHome } from '../../twin/home.js'
import { callApi } from '../../api/client.js'
import { emit, warn } from '../output.js'
import { removeFromEnvironment } from '../environment.js'
import type { CommonOptions } from './identity.js'

/**
 * A daemon keeps running when a library throws from a callback it does not await (a stream
 * closed under it, a peer gone): the error is written to stderr for the operator, and the
 * twin's own state, kept in SQLite transactions, is not affected.
 */
export function keepRunningOnStrayErrors (): void {
  const log = (kind: string) => (err: unknown) => {
    const e = err as Error
    process.stderr.write(`twin: ${kind} (still running): ${e?.stack ?? String(err)}\n`)
  }
  process.on('unhandledRejection', log('unhandled rejection'))
  process.on('uncaughtException', log('uncaught exception'))
}

/** Waits for SIGINT or SIGTERM. */
async function untilSignal (): Promise<string> {
  return await new Promise(resolve => {
    const on = (sig: string) => () => { process.off('SIGINT', int); process.off('SIGTERM', term); resolve(sig) }
    const int = on('SIGINT')
    const term = on('SIGTERM')
    process.once('SIGINT', int)
    process.once('SIGTERM', term)
  })
}

function passphrase (): string | undefined {
  const p = process.env.TWIN_PASSPHRASE
  return p === undefined || p === '' ? undefined : p
}

function port (text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError('OPTION_INVALID', `--api-port must be a port number from 0 to 65535, got "${text}"`)
  return n
}

export async function start (opts: CommonOptions & { listen?: string[], announce?: string[], bootstrap?: string[], apiPort?: string, publicRange?: string[], holePunching?: boolean }): Promise<void> {
  keepRunningOnStrayErrors()
  const publicRanges = await checkPublicRanges(opts.publicRange)
  const { TwinDaemon } = await import('../../twin/daemon.js')
  const home = resolveHome(opts.home)
  // The daemon unlocks the keys from this copy. The variable itself goes now: while the twin
  // runs, other processes of this user could read it in /proc/PID/environ.
  const secret = passphrase()
  if (!removeFromEnvironment('TWIN_PASSPHRASE') && secret !== undefined && process.platform === 'linux') {
    warn('TWIN_PASSPHRASE could not be removed from this process\'s /proc/PID/environ; other processes of this user can read it while the twin runs')
  }
  const daemon = new TwinDaemon(home, {
    ...(opts.listen === undefined ? {} : { listen: opts.listen }),
    ...(opts.announce === undefined ? {} : { announce: opts.announce }),
    ...(opts.bootstrap === undefined ? {} : { bootstrap: opts.bootstrap }),
    ...(opts.apiPort === undefined ? {} : { apiPort: port(opts.apiPort) }),
    publicRanges,
    holePunching: opts.holePunching !== false,
    passphrase: secret
  })
  await daemon.start()
  const { reportOnSignal } = await import('../../net/index.js')
  reportOnSignal('twin', () => daemon.node)
  const s = daemon.status()
  emit(opts.json, { id: s.id, peerId: s.peerId, addresses: s.addresses, api: daemon.apiUrl }, () =>
    `twin ${s.id}${s.name === '' ? '' : ` (${s.name})`} is running: peer ${s.peerId}, API ${daemon.apiUrl}, ` +
    `${s.relays.length} relay${s.relays.length === 1 ? '' : 's'}, addresses ${s.addresses.join(' ')}; Ctrl-C stops it`)
  await untilSignal()
  await daemon.stop()
}

/** `--public-range` values, checked before anything starts. */
export async function checkPublicRanges (ranges: string[] = []): Promise<string[]> {
  const { parsePublicRanges } = await import('../../net/links.js')
  try {
    parsePublicRanges(ranges)
  } catch (err) {
    throw new CliError('OPTION_INVALID', `--public-range: ${(err as Error).message}`)
  }
  return ranges
}

export interface RelayOptions extends CommonOptions {
  listen?: string[]
  announce?: string[]
  publicRange?: string[]
  mailboxMessages?: string
  mailboxSize?: string
  senderMessages?: string
  senderSize?: string
  totalMessages?: string
  totalSize?: string
}

export async function relay (opts: RelayOptions): Promise<void> {
  keepRunningOnStrayErrors()
  const { Relay } = await import('../../relay/index.js')
  const home = resolveHome(opts.home)
  const limits = await relayLimits(opts)
  const publicRanges = await checkPublicRanges(opts.publicRange)
  const r = new Relay(home, { listen: opts.listen ?? ['/ip4/0.0.0.0/tcp/4001'], ...(opts.announce === undefined ? {} : { announce: opts.announce }), limits, publicRanges })
  await r.start()
  const { reportOnSignal } = await import('../../net/index.js')
  reportOnSignal('relay', () => r.node)
  const addresses = r.addresses()
  emit(opts.json, { peerId: r.node.peerId.toString(), addresses, limits }, () =>
    `relay ${r.node.peerId.toString()} is running; twins can use it with --bootstrap ${addresses[0] ?? ''}; ${r.waiting()} envelopes waiting; Ctrl-C stops it`)
  await untilSignal()
  await r.stop()
}

const OPTION_OF_LIMIT: Record<string, string> = {
  'perRecipient.messages': '--mailbox-messages',
  'perRecipient.bytes': '--mailbox-size',
  'perSender.messages': '--sender-messages',
  'perSender.bytes': '--sender-size',
  'total.messages': '--total-messages',
  'total.bytes': '--total-size'
}

/** The mailbox limits from the options, each defaulting to DEFAULT_MAILBOX_LIMITS. */
async function relayLimits (opts: RelayOptions): Promise<import('../../relay/index.js').MailboxLimits> {
  const { DEFAULT_MAILBOX_LIMITS: d, checkMailboxLimits } = await import('../../relay/index.js')
  const { parseSize } = await import('../../storage/units.js')
  const count = (text: string | undefined, option: string, fallback: number): number => {
    if (text === undefined) return fallback
    const n = Number(text)
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new CliError('OPTION_INVALID', `${option} must be a whole number of at least 1, got "${text}"`)
    return n
  }
  const size = (text: string | undefined, fallback: number): number => text === undefined ? fallback : parseSize(text)
  return checkMailboxLimits({
    perRecipient: { messages: count(opts.mailboxMessages, '--mailbox-messages', d.perRecipient.messages), bytes: size(opts.mailboxSize, d.perRecipient.bytes) },
    perSender: { messages: count(opts.senderMessages, '--sender-messages', d.perSender.messages), bytes: size(opts.senderSize, d.perSender.bytes) },
    total: { messages: count(opts.totalMessages, '--total-messages', d.total.messages), bytes: size(opts.totalSize, d.total.bytes) }
  }, path => OPTION_OF_LIMIT[path] ?? path)
}

export async function send (to: string, text: string, opts: CommonOptions & { ttl?: string }): Promise<void> {
  const ttlSeconds = opts.ttl === undefined ? undefined : Number(opts.ttl)
  if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || ttlSeconds < 1)) throw new CliError('OPTION_INVALID', '--ttl is a whole number of seconds')
  const home = resolveHome(opts.home)
  const r = await callApi(home, 'POST', '/v1/messages', { to, text, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) }) as { id: string, status: string }
  emit(opts.json, r, () => `message ${r.id} to ${to}: ${r.status}`)
}

export async function inbox (opts: CommonOptions & { limit?: string }): Promise<void> {
  const home = resolveHome(opts.home)
  const r = await callApi(home, 'GET', `/v1/inbox?limit=${encodeURIComponent(opts.limit ?? '100')}`) as { messages: Array<{ id: string, from: string, name: string, verb: string, text: string | null, payload: unknown, sentAt: string, receivedAt: string }> }
  emit(opts.json, r, () => r.messages.length === 0
    ? 'no messages'
    : r.messages.map(m => `${m.sentAt}  ${m.name === '' ? m.from : `${m.name} (${m.from})`}\n  ${m.text ?? `${m.verb} ${JSON.stringify(m.payload)}`}\n  (received ${m.receivedAt}, signature verified)`).join('\n'))
}

export async function outbox (opts: CommonOptions & { limit?: string }): Promise<void> {
  const home = resolveHome(opts.home)
  const r = await callApi(home, 'GET', `/v1/outbox?limit=${encodeURIComponent(opts.limit ?? '100')}`) as { messages: Array<{ id: string, to: string, verb: string, text: string | null, status: string, attempts: number, error: string | null, createdAt: string }> }
  emit(opts.json, r, () => r.messages.length === 0
    ? 'no messages'
    : r.messages.map(m => `${m.createdAt}  to ${m.to}  ${m.status}${m.attempts > 0 ? ` after ${m.attempts} attempt${m.attempts === 1 ? '' : 's'}` : ''}${m.error === null ? '' : ` (${m.error})`}\n  ${m.text ?? m.verb}`).join('\n'))
}

export async function call (to: string, verb: string, json: string | undefined, opts: CommonOptions & { timeout?: string }): Promise<void> {
  let payload: unknown = null
  if (json !== undefined) {
    try {
      payload = JSON.parse(json)
    } catch {
      throw new CliError('JSON_INVALID', 'the request payload is not valid JSON')
    }
  }
  const timeoutMs = opts.timeout === undefined ? 10_000 : Number(opts.timeout)
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new CliError('OPTION_INVALID', '--timeout is a whole number of milliseconds')
  const home = resolveHome(opts.home)
  const r = await callApi(home, 'POST', '/v1/call', { to, verb, payload, timeoutMs }, { timeoutMs: timeoutMs + 10_000 }) as { response: unknown }
  emit(opts.json, r, () => JSON.stringify(r.response, null, 2))
}

const REACHABILITY: Record<string, string> = {
  unknown: 'not known yet (no relay has answered)',
  public: 'directly: no NAT between this twin and its relays',
  nat: 'behind NAT: through relays, and directly after hole punching',
  'relayed-only': 'only through relays: hole punching failed (a NAT that maps each destination differently)'
}

export async function status (opts: CommonOptions): Promise<void> {
  const home = resolveHome(opts.home)
  const s = await callApi(home, 'GET', '/v1/status') as { id: string, name: string, peerId: string, addresses: string[], relays: Array<{ address: string, connected: boolean }>, connections: number, links: Array<{ peer: string, path: string, transport: string, address: string, direction: string }>, reachability: string, observed: string[], outbox: Record<string, number>, inbox: number }
  emit(opts.json, s, () => [
    `id           ${s.id}${s.name === '' ? '' : ` (${s.name})`}`,
    `peer         ${s.peerId}`,
    `addresses    ${s.addresses.join('\n             ') || '(none)'}`,
    `relays       ${s.relays.map(r => `${r.address} (${r.connected ? 'connected' : 'not connected'})`).join('\n             ') || '(none)'}`,
    `reachable    ${REACHABILITY[s.reachability] ?? s.reachability}${s.observed.length > 0 ? ` (relays see it at ${s.observed.join(', ')})` : ''}`,
    `connections  ${s.connections}${s.links.map(l => `\n  ${l.path.padEnd(8)} ${l.transport.padEnd(10)} ${l.direction.padEnd(8)} ${l.peer}  ${l.address}`).join('')}`,
    `outbox       ${Object.entries(s.outbox).map(([k, v]) => `${v} ${k}`).join(', ') || 'empty'}`,
    `inbox        ${s.inbox} message${s.inbox === 1 ? '' : 's'}`
  ].join('\n'))
}

/** Fetches a twin's key event log (and document) from the network, for `restore --bootstrap`. */
export async function fetchKelFromNetwork (id: string, bootstrap: string[]): Promise<import('../../identity/index.js').KelExport | undefined> {
  const { createClientNode, stopNode, Resolver } = await import('../../net/index.js')
  const { RelayClient } = await import('../../relay/index.js')
  const node = await createClientNode()
  try {
    const relays = bootstrap.map(a => new RelayClient(node, a))
    await Promise.allSettled(relays.map(async r => await node.dial(r.peerId, { signal: AbortSignal.timeout(5_000) })))
    try {
      const record = await new Resolver(undefined, node, () => relays).resolve(id)
      return { events: record.events, document: record.document }
    } catch {
      return undefined
    } finally {
      for (const r of relays) r.stop()
    }
  } finally {
    await stopNode(node)
  }
}
