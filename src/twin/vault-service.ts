import { constants as fsConstants } from 'node:fs'
import { lstat, open, readdir, stat, type FileHandle } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { TwinError } from '../errors.js'
import { KeyFileError } from '../identity/index.js'
import type { Db } from '../db/index.js'
import { sha256, toHex } from '../wire/index.js'
import {
  Vault, VaultError, VaultKeys, VaultStore, codeFor, estimateDurability, openLocator, sealLocator, vaultPath, MAX_LOCATOR_ADDRS,
  type NodeLocation, type PeerRow, type Progress, type PutResult, type RootSigner
} from '../vault/index.js'
import { BackendError, FolderShardStore, type ShardBackend } from '../shards/index.js'
import { StorageNodeBackend, type StorageNodeTarget, isInvite, parseInvite, StorageNodeError } from '../storage/index.js'
import type { IdentifyResult } from '@libp2p/interface'
import { type TwinLibp2p, peerAddress } from '../net/index.js'

/** Number of local folders of the embedded default: enough for the 4 + 2 code. */
export const LOCAL_FOLDERS = 6
/** How often audits, repair and orphan collection run in the background. */
export const REPAIR_INTERVAL_MS = 15 * 60_000
/** Addresses remembered per storage node (newest first): enough for its direct and relay circuit addresses. */
const KNOWN_ADDRESSES = 16

/** What the vault needs from the twin's network to reach its storage nodes. */
export interface VaultNetwork {
  node: TwinLibp2p
  /** The twin's current record, for each storage node's hello. */
  record: () => Uint8Array
  /** The twin's own relays: its storage nodes may be reachable through them. */
  relays: () => string[]
}

export interface StorageStatus {
  /** `address`: where the peer was last reached (a storage node's working address); `problem`: why it is not online. */
  peers: Array<{ id: string, address: string, kind: string, online: boolean, used: number | null, quota: number | null, problem: string | null, availability: number | null }>
  files: number
  healthy: number
  degraded: number
  lost: number
  durability: number
  code: { k: number, m: number }
  oneMachine: boolean
  note: string
}

/**
 * The vault inside a running twin: which backends exist (local folders by default, storage
 * nodes once added), files read from disk, background audit and repair, and index snapshots
 * after every change.
 */
export class VaultService {
  readonly store: VaultStore
  readonly vault: Vault
  private readonly keys: VaultKeys
  private readonly backends = new Map<string, ShardBackend>()
  private timer: NodeJS.Timeout | undefined
  private snapshotTimer: NodeJS.Timeout | undefined
  private busy: Promise<unknown> = Promise.resolve()
  private snapshotting = 0

  constructor (db: Db, vaultKey: Uint8Array, private readonly home: string, private readonly net: VaultNetwork, private readonly signer: RootSigner) {
    this.store = new VaultStore(db)
    const check = toHex(sha256(new TextEncoder().encode('twin/v1/vault-check'), vaultKey))
    const known = this.store.setting('key-check')
    if (known === undefined) this.store.setSetting('key-check', check)
    else if (known !== check) throw new KeyFileError('KEYFILE_MISMATCH', 'the vault key in the key file is not this vault\'s (damaged or tampered key file)')
    if (this.store.peers(true).length === 0) {
      for (let i = 0; i < LOCAL_FOLDERS; i++) this.store.addPeer(`local:${i}`, join(home, 'vault', `local-${i}`), 'local')
    }
    this.keys = new VaultKeys(vaultKey)
    this.vault = new Vault(this.store, this.keys, () => this.backendMap(), signer)
  }

  /** Backends of every peer ever used (removed ones too, so their shards stay readable until repaired). */
  private backendMap (): Map<string, ShardBackend> {
    for (const p of this.store.peers(true)) {
      if (this.backends.has(p.id)) continue
      this.backends.set(p.id, p.kind === 'local' ? new FolderShardStore(p.id, p.address) : new StorageNodeBackend(this.net.node, this.target(p.id), this.net.record))
    }
    return this.backends
  }

  /** How to find a storage node by its peer id: the addresses known for it, circuits through the relays. */
  private target (peer: string, given: string[] = [], invite?: Uint8Array): StorageNodeTarget {
    return {
      peer,
      owner: this.signer.id,
      addresses: () => this.addressesOf(peer, given),
      relays: this.net.relays,
      ...(invite === undefined ? {} : { invite }),
      onConnected: address => { this.store.setPeerAddress(peer, address) }
    }
  }

  /** The last working address first, then the others known (from its invite, learned by identify). */
  private addressesOf (peer: string, given: string[] = []): string[] {
    const row = this.store.peers(true).find(p => p.id === peer)
    return [...new Set([...(row === undefined ? [] : [row.address]), ...given, ...this.store.knownAddresses(peer)])]
  }

  /** Identify told the twin a storage node's current addresses: remember them for the next dial, also after a restart. */
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const peer = evt.detail.peerId.toString()
    if (!this.store.peers(true).some(p => p.id === peer && p.kind === 'node')) return
    this.learn(peer, evt.detail.listenAddrs.map(String))
  }

  private learn (peer: string, addresses: string[]): void {
    const full = addresses.map(a => a.endsWith(`/p2p/${peer}`) ? a : `${a}/p2p/${peer}`)
    const known = [...new Set([...full, ...this.store.knownAddresses(peer)])].slice(0, KNOWN_ADDRESSES)
    if (JSON.stringify(known) !== JSON.stringify(this.store.knownAddresses(peer))) this.store.setKnownAddresses(peer, known)
  }

  async start (): Promise<void> {
    this.net.node.addEventListener('peer:identify', this.onIdentify)
    await this.vault.collectOrphans().catch(() => 0)
    if (this.store.allFiles().length === 0 && this.store.peers().some(p => p.kind === 'node')) {
      await this.vault.recover().catch(() => undefined)
    }
    this.timer = setInterval(() => { void this.exclusive(async () => await this.maintain()) }, REPAIR_INTERVAL_MS)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.net.node.removeEventListener('peer:identify', this.onIdentify)
    if (this.timer !== undefined) clearInterval(this.timer)
    if (this.snapshotTimer !== undefined) {
      clearTimeout(this.snapshotTimer)
      await this.exclusive(async () => await this.vault.snapshot()).catch(() => {})
    }
    await this.busy.catch(() => {})
    for (const b of this.backends.values()) (b as { close?: () => void }).close?.()
  }

  /** Runs maintenance and writes one after another, so a repair never races a snapshot. */
  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.busy.catch(() => {}).then(fn)
    this.busy = run
    return await run
  }

  /** One round of background care: audit a sample, repair what is broken, drop orphans. */
  async maintain (): Promise<void> {
    await this.vault.audit(64)
    await this.vault.repair()
    await this.vault.collectOrphans()
  }

  private changed (): void {
    if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer)
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = undefined
      this.snapshotting++
      void this.exclusive(async () => await this.vault.snapshot())
        .catch(err => { process.stderr.write(`twin: vault snapshot failed: ${(err as Error).message}\n`) })
        .finally(() => { this.snapshotting-- })
    }, 1_000)
    this.snapshotTimer.unref()
  }

  /** True while a change waits for its index snapshot (debounced) or the snapshot is being written. */
  snapshotPending (): boolean {
    return this.snapshotTimer !== undefined || this.snapshotting > 0
  }

  /**
   * Stores a file, or a folder recursively, from this machine's disk. Each file is opened
   * without following a link and checked to be the very file that was listed (device and
   * inode), then read from that descriptor: a file swapped for a link to another file between
   * the listing and the read is refused, not stored.
   */
  async put (file: string, as: string | undefined, onProgress?: (p: Progress & { path: string }) => void): Promise<PutResult[]> {
    const source = resolve(file)
    let info
    try {
      info = await stat(source)
    } catch {
      throw new VaultError('FILE_UNREADABLE', `cannot read ${file}: no such file or folder`)
    }
    const target = as === undefined ? '/' + basename(source) : as
    const jobs: Array<{ from: string, to: string, listed: Identity, follow: boolean }> = []
    if (info.isDirectory()) {
      const base = vaultPath(target)
      for (const f of await walk(source)) jobs.push({ from: join(source, f.rel), to: `${base}/${f.rel}`, listed: f.id, follow: false })
    } else if (info.isFile()) {
      // The user named this file: a link they named is followed, but the file opened must be the one stat'ed.
      jobs.push({ from: source, to: vaultPath(target), listed: info, follow: true })
    } else {
      throw new VaultError('FILE_UNREADABLE', `${file} is not a regular file or folder`)
    }
    const results: PutResult[] = []
    for (const job of jobs) {
      const r = await this.exclusive(async () => await this.putFile(job.from, job.to, job.listed, job.follow, onProgress))
      results.push(r)
      this.changed()
    }
    return results
  }

  /** Opens one listed file safely and stores what that descriptor reads. */
  private async putFile (from: string, to: string, listed: Identity, follow: boolean, onProgress?: (p: Progress & { path: string }) => void): Promise<PutResult> {
    const handle = await openListed(from, listed, follow)
    try {
      const before = await handle.stat()
      const stream = handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false })
      try {
        return await this.vault.put(to, stream, {
          total: before.size,
          onProgress: p => onProgress?.({ ...p, path: to }),
          check: async () => {
            const after = await handle.stat()
            if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
              throw new VaultError('FILE_CHANGED', `${from} changed while it was being stored; nothing was saved (store it again when it is stable)`)
            }
          }
        })
      } finally {
        stream.destroy()
      }
    } finally {
      await handle.close()
    }
  }

  remove (path: string): void {
    this.vault.remove(path)
    this.changed()
  }

  move (from: string, to: string): void {
    this.vault.move(from, to)
    this.changed()
  }

  async verify (): Promise<{ checked: number, ok: number, missing: number, corrupt: number }> {
    return await this.exclusive(async () => await this.vault.verify())
  }

  async repair (): Promise<{ repaired: number, failed: number }> {
    const r = await this.exclusive(async () => await this.vault.repair())
    if (r.repaired > 0) this.changed()
    return r
  }

  /**
   * Adds a storage node, from an invite (which admits this twin, once) or a multiaddr (for a
   * node that admits it already), after checking that it answers and accepts this twin.
   */
  async addPeer (input: string): Promise<{ id: string, address: string }> {
    let id: string
    let given: string[]
    let invite: Uint8Array | undefined
    if (isInvite(input)) {
      const inv = parseInvite(input)
      if (inv.expires <= Date.now()) throw new StorageNodeError('STORAGE_INVITE_EXPIRED', `this invite expired at ${new Date(inv.expires).toISOString()}; ask the node's operator for a new one`)
      id = inv.peer
      given = inv.addrs
      invite = inv.secret
    } else {
      id = peerAddress(input).peerId.toString()
      given = [input]
    }
    let working: string | undefined
    const target = { ...this.target(id, given, invite), onConnected: (a: string) => { working = a } }
    const backend = new StorageNodeBackend(this.net.node, target, this.net.record)
    try {
      await backend.stat()
    } catch (err) {
      backend.close()
      // The operator's choice is reported as it is, with what they must run.
      if (err instanceof BackendError && (err.reason === 'not-admitted' || err.reason === 'denied')) throw err
      throw new BackendError('unreachable', `cannot use storage node ${id}: ${(err as Error).message}`)
    }
    const address = working ?? given[0] ?? `/p2p/${id}`
    this.store.addPeer(id, address, 'node')
    const learned = await this.net.node.peerStore.get(backend.peerId).then(p => p.addresses.map(a => a.multiaddr.toString())).catch(() => [] as string[])
    this.learn(id, [...given, ...learned])
    // From now on the backend finds the node through what the vault remembers.
    backend.close()
    ;(this.backends.get(id) as StorageNodeBackend | undefined)?.close?.()
    this.backends.delete(id)
    // With real storage nodes, the local folders stop taking new shards; repair moves theirs over.
    for (const p of this.store.peers()) if (p.kind === 'local') this.store.removePeer(p.id)
    this.changed()
    return { id, address }
  }

  removePeer (id: string): void {
    if (!this.store.removePeer(id)) throw new VaultError('NOT_FOUND', `no storage peer ${id}`)
    this.changed()
  }

  /** Shards of the latest index snapshot, which the index itself does not list. */
  snapshotShards (): Array<{ addr: string, peer: string }> {
    const s = this.store.setting('root-shards')
    return s === undefined ? [] : (JSON.parse(s) as Array<[string, string]>).map(([addr, peer]) => ({ addr, peer }))
  }

  peers (): PeerRow[] {
    return this.store.peers()
  }

  /** The storage nodes and how to reach them, for the twin document's sealed `vault` field. */
  locator (): NodeLocation[] {
    return this.store.peers().filter(p => p.kind === 'node').map(p => ({ peer: p.id, addrs: this.addressesOf(p.id).slice(0, MAX_LOCATOR_ADDRS) }))
  }

  /**
   * The twin document's `vault` field for the current storage nodes: `current` itself when it
   * already says the same (sealing again would change the bytes, and re-sign the document, at
   * every publish), undefined when there are none.
   */
  locatorField (current: unknown): Uint8Array | undefined {
    const nodes = this.locator()
    if (nodes.length === 0) return undefined
    if (current instanceof Uint8Array) {
      try {
        if (JSON.stringify(openLocator(this.keys, this.signer.id, current)) === JSON.stringify(nodes)) return current
      } catch { /* not this vault's, or damaged: sealed again below */ }
    }
    return sealLocator(this.keys, this.signer.id, nodes)
  }

  async status (): Promise<StorageStatus> {
    const peers = this.store.peers()
    const all = this.backendMap()
    const rows = await Promise.all(peers.map(async p => {
      let online = false
      let used: number | null = null
      let quota: number | null = null
      let problem: string | null = null
      try {
        const s = await (all.get(p.id) as ShardBackend).stat()
        online = true
        used = s.used
        quota = s.quota
      } catch (err) {
        // Offline, or its operator refused this twin: the message says which.
        problem = err instanceof TwinError ? err.message : 'unreachable'
      }
      return { id: p.id, address: this.store.peers(true).find(x => x.id === p.id)?.address ?? p.address, kind: p.kind, online, used, quota, problem, availability: p.checks === 0 ? null : 1 - p.failures / p.checks }
    }))
    const health = this.vault.health()
    const oneMachine = peers.every(p => p.kind === 'local')
    const code = peers.length === 0 ? { k: 0, m: 0 } : codeFor(peers.length)
    const unavailability = Math.max(0, ...rows.map(r => r.availability === null ? 0 : 1 - r.availability))
    const durability = estimateDurability({ peers: peers.length, m: code.m, unavailability, repairIntervalHours: REPAIR_INTERVAL_MS / 3600_000, oneMachine })
    const note = oneMachine
      ? 'all shards are on this one machine (the local folders of the embedded default): losing this machine loses the vault. Add storage nodes with `twin storage add`.'
      : code.m === 0
        ? 'with one storage peer there is no redundancy: losing it loses the vault. Add more storage nodes.'
        : `each chunk is stored as ${code.k} + ${code.m} shards on distinct peers: any ${code.m} peer${code.m === 1 ? '' : 's'} can be lost without losing data` +
          (peers.length < 6 ? `; with ${6 - peers.length} more peer${6 - peers.length === 1 ? '' : 's'} the code would be 4 + 2` : '')
    return { peers: rows, ...health, durability: Math.round(durability.nines * 10) / 10, code, oneMachine, note }
  }
}

/** Which file a path named when it was listed. */
interface Identity { dev: number, ino: number }

const sameFile = (a: Identity, b: Identity): boolean => a.dev === b.dev && a.ino === b.ino

// O_NOFOLLOW: a link in place of the file fails to open (ELOOP) instead of opening its target.
// O_NONBLOCK: a FIFO in place of the file cannot hang the open; it is then refused as not a
// regular file. Both are 0 where the platform lacks them; the device and inode check remains.
const OPEN_LISTED = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0)
const OPEN_NAMED = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0)

/** Opens `path` and checks that it is still the regular file that was listed; refuses it, naming it, if not. */
async function openListed (path: string, listed: Identity, follow: boolean): Promise<FileHandle> {
  const swapped = (what: string): VaultError =>
    new VaultError('FILE_CHANGED', `${path} was replaced by ${what} while it was being stored; it was not stored (check the folder and store it again)`)
  let handle: FileHandle
  try {
    handle = await open(path, follow ? OPEN_NAMED : OPEN_LISTED)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ELOOP') throw swapped('a symbolic link')
    if (code === 'ENOENT') throw new VaultError('FILE_CHANGED', `${path} was removed while it was being stored; it was not stored`)
    throw new VaultError('FILE_UNREADABLE', `cannot read ${path}: ${code ?? 'error'}`)
  }
  try {
    const now = await handle.stat()
    if (!now.isFile()) throw swapped('something that is not a regular file')
    if (!sameFile(now, listed)) throw swapped('another file')
    return handle
  } catch (err) {
    await handle.close()
    throw err
  }
}

/**
 * Every regular file under a folder, as paths relative to it with the file each path named
 * when listed, sorted. Links are skipped. A subfolder is listed only if it is the same folder
 * (device and inode, not a link) before and after it is read, so a folder swapped for a link
 * to another place while it is read is refused rather than listed.
 */
async function walk (dir: string, prefix = ''): Promise<Array<{ rel: string, id: Identity }>> {
  const here = join(dir, prefix)
  const before = await lstat(here)
  const found: Array<{ rel: string, id?: Identity }> = []
  for (const e of (await readdir(here, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`
    if (e.isDirectory()) found.push({ rel })
    else if (e.isFile()) {
      const s = await lstat(join(dir, rel))
      if (s.isFile()) found.push({ rel, id: { dev: s.dev, ino: s.ino } })
    }
  }
  const after = await lstat(here)
  if (!before.isDirectory() || !after.isDirectory() || !sameFile(before, after)) {
    throw new VaultError('FILE_CHANGED', `${here} was replaced while it was being listed; nothing under it was stored (check the folder and store it again)`)
  }
  const out: Array<{ rel: string, id: Identity }> = []
  for (const f of found) out.push(...(f.id === undefined ? await walk(dir, f.rel) : [{ rel: f.rel, id: f.id }]))
  return out
}
