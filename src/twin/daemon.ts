import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { EventEmitter } from 'node:events'
import { openDb, type Db } from '../db/index.js'
import {
  createDocument, ed25519DidKey, ed25519PrivateKey, normalizeTwinId, signWithContext, verifyWithContext, x25519DidKey, x25519PrivateKey,
  IdentityStore, type GenerationSecrets
} from '../identity/index.js'
import { createTwinNode, peerKeyFromSigningSeed, stopNode, encodeRecord, Resolver, NodeRole, linkOf, type PunchStatus } from '../net/index.js'
import { ENVELOPE_VERSIONS, Messaging, MessageStore, type OutboxRow, type Timing } from '../messaging/index.js'
import { RelayClient } from '../relay/index.js'
import { createApi, listenApi, loopbackHosts, mountVaultApi, apiFilePath, type CallBody, type SendBody } from '../api/index.js'
import { toHex } from '../wire/index.js'
import { openIdentity, unlockKeys, type TwinIdentity } from './identity.js'
import { VaultService } from './vault-service.js'
import { ROOT_CONTEXT } from '../storage/index.js'
import { acquireLock, writeFileAtomic } from '../fs/index.js'
import { tightenHome } from './home.js'
import { LocalTwinError } from './errors.js'

export interface StartOptions {
  /** Multiaddrs to listen on directly (default: all interfaces, a free TCP port). */
  listen?: string[]
  /** Direct addresses to publish instead of the listening ones (e.g. behind a port forward). */
  announce?: string[]
  /** Relays (multiaddrs ending in /p2p/<peer>); remembered for later starts. */
  bootstrap?: string[]
  /** API port on 127.0.0.1 (0: any free port). */
  apiPort?: number
  passphrase?: string
  timing?: Partial<Timing>
  /**
   * Envelope versions this twin reads and writes (default: every version this code knows);
   * `[1]` makes it behave as a twin from before version 2, for interoperability tests.
   */
  envelopeVersions?: readonly number[]
  /** Reserved address ranges to treat as public (`--public-range`: labs, private networks). */
  publicRanges?: string[]
  /** False: stay on relayed connections (`--no-hole-punching`): peers never see this twin's address. */
  holePunching?: boolean
}

const PUBLISH_EVERY_MS = 60 * 60_000

/**
 * A running twin: its libp2p node, its relays, messaging and the local HTTP API.
 * `start` cleans up after itself when it fails; `stop` is idempotent.
 */
export class TwinDaemon extends NodeRole {
  readonly events = new EventEmitter()
  identity!: TwinIdentity
  messaging!: Messaging
  vault!: VaultService
  apiUrl = ''
  private db!: Db
  private store!: MessageStore
  private resolver!: Resolver
  private secrets!: GenerationSecrets
  private readonly relayClients = new Map<string, RelayClient>()
  private ownRelays: string[] = []
  private readonly relayUp = new Map<string, boolean>()
  /** Envelope versions each of this twin's relays said it keeps. */
  private readonly relayEnvelopes = new Map<string, number[]>()
  private publishTimer: NodeJS.Timeout | undefined
  private addressTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (readonly home: string, private readonly options: StartOptions = {}) {
    super()
  }

  protected async setUp (): Promise<void> {
    this.identity = openIdentity(this.home)
    tightenHome(this.home)
    this.secrets = unlockKeys(this.identity, this.options.passphrase)
    this.cleanups.add(acquireLock(this.home, 'twin'))
    this.db = openDb(this.identity.paths.db)
    this.cleanups.add(() => { this.db.close() })
    this.ownRelays = this.relaySettings(this.options.bootstrap)
    this.store = new MessageStore(this.db)

    this.node = await createTwinNode({
      privateKey: await peerKeyFromSigningSeed(this.secrets.signing),
      listen: this.options.listen ?? ['/ip4/0.0.0.0/tcp/0'],
      relays: this.ownRelays,
      ...(this.options.announce === undefined ? {} : { announce: this.options.announce }),
      ...(this.options.publicRanges === undefined ? {} : { publicRanges: this.options.publicRanges }),
      holePunching: this.options.holePunching !== false
    })
    this.cleanups.add(async () => { await stopNode(this.node) })

    const own = (): RelayClient[] => this.ownRelays.map(a => this.relayClient(a))
    this.resolver = new Resolver(this.db, this.node, own)
    this.messaging = new Messaging({
      id: this.identity.state.id,
      sequence: this.identity.state.sequence,
      signingKey: ed25519PrivateKey(this.secrets.signing),
      encryptionKey: x25519PrivateKey(this.secrets.encryption),
      encryptionPublic: this.identity.state.keys.encryption,
      envelopes: this.envelopeVersions()
    }, this.store, this.resolver, this.node, a => this.relayClient(a), this.options.timing)
    // `data` comes back as it was sent (a request and its response are bounded by the envelope's size).
    this.messaging.handle('twin.ping', ({ payload }) => {
      const data = (payload as { data?: unknown } | null)?.data
      return { pong: true, time: new Date().toISOString(), ...(data === undefined ? {} : { data }) }
    })
    this.messaging.handle('twin.describe', () => this.describe())
    for (const e of ['message', 'outbox'] as const) this.messaging.on(e, (d: unknown) => this.events.emit(e, d))
    this.messaging.on('rejected', (d: { from?: string, reason: string, message: string }) => {
      if (process.env.TWIN_DEBUG === '1') process.stderr.write(`twin: refused an envelope from ${d.from ?? 'unknown'}: ${d.reason}: ${d.message}\n`)
    })
    await this.messaging.start()
    this.cleanups.add(async () => { await this.messaging.stop() })

    // The vault: local folders until storage nodes are added.
    if (this.secrets.vault === undefined) {
      throw new LocalTwinError('VAULT_KEY_MISSING', 'this twin\'s key file has no vault key (it was made before the vault existed): run `twin rotate --phrase-file FILE` once to add it')
    }
    this.vault = new VaultService(this.db, this.secrets.vault, this.home, { node: this.node, record: () => this.publishRecord(), relays: () => this.ownRelays }, {
      id: this.identity.state.id,
      sign: payload => signWithContext(this.secrets.signing, ROOT_CONTEXT, payload),
      verify: (payload, sig) => verifyWithContext(this.identity.state.keys.signing, ROOT_CONTEXT, payload, sig)
    })
    this.cleanups.add(async () => { await this.vault.stop() })

    // Publish the record (new addresses) and subscribe to the relays' mailboxes.
    const record = this.publishRecord()
    for (const address of this.ownRelays) {
      this.relayClient(address).subscribe(record, async envs => await this.messaging.receiveFromMailbox(envs), (up, relay) => {
        this.relayUp.set(address, up)
        if (relay !== undefined) this.onRelayEnvelopes(address, relay.envelopes)
        if (up) this.messaging.wakeAll() // messages that waited for a relay can go now
      })
    }
    this.node.addEventListener('self:peer:update', this.onAddressChange)
    this.cleanups.add(() => { this.node.removeEventListener('self:peer:update', this.onAddressChange) })
    await this.waitForRelays(5_000)
    void this.resolver.publish(this.identity.state.id, this.publishRecord())
    this.publishTimer = setInterval(() => { void this.resolver.publish(this.identity.state.id, this.publishRecord()) }, PUBLISH_EVERY_MS)
    this.publishTimer.unref()
    await this.vault.start()

    // The local API, and where to find it.
    const token = randomBytes(32).toString('base64url')
    let hosts: ReadonlySet<string> = new Set()
    const app = createApi(this.backend(), { token, hosts: () => hosts })
    mountVaultApi(app, this.vault, () => this.onStorageChange())
    const api = await listenApi(app, this.options.apiPort ?? 0)
    hosts = loopbackHosts(api.port)
    this.cleanups.add(async () => { await api.close() })
    this.apiUrl = `http://127.0.0.1:${api.port}`
    const apiFile = apiFilePath(this.home)
    writeFileAtomic(apiFile, JSON.stringify({ url: this.apiUrl, token, pid: process.pid }) + '\n')
    this.cleanups.add(() => { rmSync(apiFile, { force: true }) })
  }

  override async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.publishTimer !== undefined) clearInterval(this.publishTimer)
    if (this.addressTimer !== undefined) clearTimeout(this.addressTimer)
    for (const c of this.relayClients.values()) c.stop()
    await super.stop()
  }

  /** Storage peers changed: publish them in the document, so a restore finds them. */
  private onStorageChange (): void {
    const record = this.publishRecord()
    for (const a of this.ownRelays) this.relayClient(a).updateRecord(record)
    void this.resolver.publish(this.identity.state.id, record)
  }

  /** Relays from --bootstrap (remembered), else those remembered from an earlier start. */
  private relaySettings (bootstrap?: string[]): string[] {
    const get = this.db.prepare('SELECT value FROM net_settings WHERE key = \'relays\'')
    if (bootstrap !== undefined && bootstrap.length > 0) {
      this.db.prepare('INSERT INTO net_settings (key, value) VALUES (\'relays\', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(JSON.stringify(bootstrap))
      return bootstrap
    }
    const row = get.get() as { value: string } | undefined
    return row === undefined ? [] : JSON.parse(row.value) as string[]
  }

  relayClient (address: string): RelayClient {
    let c = this.relayClients.get(address)
    if (c === undefined) {
      // A relay that does not know this twin yet gets its record with the deposit (sender check).
      c = new RelayClient(this.node, address, { record: () => this.publishRecord() })
      this.relayClients.set(address, c)
    }
    return c
  }

  /**
   * Waits (at most `ms`) until each relay's mailbox subscription is up and its circuit
   * reservation is in place, so that the record published next, and the ready line, carry the
   * circuit addresses: a peer that resolved the twin before would cache a record without them
   * and send through the mailbox until it refreshed. Later changes are published as they come.
   */
  private async waitForRelays (ms: number): Promise<void> {
    const deadline = Date.now() + ms
    const reserved = (relay: string): boolean => {
      const peer = relay.split('/p2p/').pop() as string
      return this.node.getMultiaddrs().some(a => a.toString().includes(`/p2p/${peer}/p2p-circuit`))
    }
    while (Date.now() < deadline && this.ownRelays.some(a => this.relayUp.get(a) !== true || !reserved(a))) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  private readonly onAddressChange = (): void => {
    if (this.addressTimer !== undefined) clearTimeout(this.addressTimer)
    this.addressTimer = setTimeout(() => {
      if (this.stopped) return
      const record = this.publishRecord()
      for (const a of this.ownRelays) this.relayClient(a).updateRecord(record)
      void this.resolver.publish(this.identity.state.id, record)
    }, 200)
  }

  private envelopeVersions (): readonly number[] {
    return this.options.envelopeVersions ?? ENVELOPE_VERSIONS
  }

  /**
   * The envelope versions to advertise: those this twin reads that every one of its relays keeps
   * (a sender that used another would find its envelopes refused there when this twin is away).
   * A relay not heard from since the start counts as keeping what the last document said.
   */
  private advertisedEnvelopes (previous: unknown): number[] {
    const before = Array.isArray(previous) ? previous as number[] : [1]
    return this.envelopeVersions().filter(v => v === 1 || this.ownRelays.every(a => (this.relayEnvelopes.get(a) ?? before).includes(v)))
  }

  /** A relay said which versions it keeps: if that changes what the document advertises, publish again. */
  private onRelayEnvelopes (address: string, envelopes: number[]): void {
    this.relayEnvelopes.set(address, envelopes)
    const d = this.identity.document.d
    if (JSON.stringify(this.advertisedEnvelopes(d.envelopes)) !== JSON.stringify(d.envelopes ?? [1])) this.onAddressChange()
  }

  /** Addresses to publish: the announced (or listening) direct ones, plus relay circuits. */
  override addresses (): string[] {
    const peer = this.node.peerId.toString()
    const all = this.node.getMultiaddrs().map(String)
    const circuits = all.filter(a => a.includes('/p2p-circuit'))
    const direct = this.options.announce !== undefined
      ? this.options.announce.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${peer}`)
      : all.filter(a => !a.includes('/p2p-circuit'))
    return [...direct, ...circuits]
  }

  /**
   * Signs a new document when what it publishes changed, stores it, and returns the record.
   * It publishes only what others need to reach the twin (peer, addresses, relays, the envelope
   * versions it reads); where its vault lives is in `vault`, sealed for the owner alone, and the
   * plain `storage` list of earlier versions is dropped.
   */
  private publishRecord (): Uint8Array {
    const d = this.identity.document.d
    const vault = this.vault === undefined ? d.vault : this.vault.locatorField(d.vault)
    const fields = { peer: this.node.peerId.toString(), addrs: this.addresses(), relays: this.ownRelays, envelopes: this.advertisedEnvelopes(d.envelopes) }
    const same = d.peer === fields.peer && JSON.stringify(d.addrs) === JSON.stringify(fields.addrs) &&
      JSON.stringify(d.relays) === JSON.stringify(fields.relays) && JSON.stringify(d.envelopes) === JSON.stringify(fields.envelopes) &&
      d.vault === vault && d.storage === undefined
    if (!same) {
      const { storage: _plain, vault: _sealed, ...kept } = d
      const document = createDocument(this.identity.state, this.secrets.signing, { ...kept, ...fields, ...(vault === undefined ? {} : { vault }), name: this.identity.name }, d.seq)
      new IdentityStore(this.db).save(this.identity.events, document)
      this.identity = { ...this.identity, document }
    }
    const bytes = encodeRecord(this.identity.events, this.identity.document)
    this.resolver.remember(bytes, this.identity.state.id)
    return bytes
  }

  describe (): object {
    const d = this.identity.document.d
    return {
      id: this.identity.state.id,
      did: `did:twin:${this.identity.state.id}`,
      name: this.identity.name,
      signingKey: ed25519DidKey(this.identity.state.keys.signing),
      encryptionKey: x25519DidKey(this.identity.state.keys.encryption),
      sequence: this.identity.state.sequence,
      document: { seq: d.seq, updated: new Date(d.updated).toISOString(), peer: d.peer, addrs: d.addrs, relays: d.relays }
    }
  }

  status (): ReturnType<ReturnType<TwinDaemon['backend']>['status']> {
    return {
      id: this.identity.state.id,
      name: this.identity.name,
      peerId: this.node.peerId.toString(),
      addresses: this.addresses(),
      relays: this.ownRelays.map(address => ({ address, connected: this.relayUp.get(address) === true })),
      connections: this.node.getConnections().length,
      links: this.node.getConnections().map(linkOf),
      ...this.reach(),
      outbox: this.messaging.queueSizes(),
      inbox: this.store.inboxCount()
    }
  }

  /** How others reach this twin: its reachability and where relays see it (src/net/punch.ts). */
  private reach (): { reachability: PunchStatus['reachability'], observed: string[] } {
    const s = (this.node.services as { punch?: { status: () => PunchStatus } }).punch?.status()
    return { reachability: s?.reachability ?? 'unknown', observed: s?.observed ?? [] }
  }

  private backend (): Parameters<typeof createApi>[0] {
    const nameOf = (id: string): string => this.resolver.cached(id)?.doc.name ?? ''
    const textOf = (verb: string, payload: unknown): string | null => {
      const t = (payload as { text?: unknown } | null)?.text
      return verb === 'chat.message' && typeof t === 'string' ? t : null
    }
    const outRow = (r: OutboxRow): { id: string, to: string, verb: string, text: string | null, seq: number, status: string, attempts: number, error: string | null, createdAt: string, updatedAt: string } => ({
      id: toHex(r.id), to: r.to, verb: r.verb, text: textOf(r.verb, r.payload), seq: r.seq, status: r.status, attempts: r.attempts, error: r.error,
      createdAt: new Date(r.created).toISOString(), updatedAt: new Date(r.updated).toISOString()
    })
    return {
      events: this.events,
      status: () => this.status(),
      send: async (b: SendBody) => {
        const to = normalizeTwinId(b.to)
        const verb = b.text !== undefined ? 'chat.message' : b.verb as string
        const payload = b.text !== undefined ? { text: b.text } : b.payload ?? null
        const row = await this.messaging.sendResolved(to, verb, payload, b.ttlSeconds === undefined ? {} : { ttlMs: b.ttlSeconds * 1000 })
        return { id: toHex(row.id), status: row.status }
      },
      inbox: (limit: number) => ({
        messages: this.store.listInbox(limit).map(m => ({
          id: toHex(m.id), from: m.from, name: nameOf(m.from), verb: m.verb, text: textOf(m.verb, m.payload), payload: m.payload, seq: m.seq,
          sentAt: new Date(m.sentAt).toISOString(), receivedAt: new Date(m.receivedAt).toISOString(), arrival: m.arrival
        }))
      }),
      outbox: (limit: number) => ({ messages: this.store.listOutbox(limit).map(outRow) }),
      call: async (b: CallBody) => await this.messaging.request(normalizeTwinId(b.to), b.verb, b.payload ?? null, b.timeoutMs === undefined ? {} : { timeoutMs: b.timeoutMs })
    }
  }
}
