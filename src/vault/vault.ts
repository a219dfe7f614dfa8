import type { ShardBackend } from '../shards/index.js'
import type { VaultKeys } from './crypto.js'
import { VaultHealth, type AuditResult, type HealthSummary, type RepairResult, type VerifyResult } from './health.js'
import type { VaultParts } from './parts.js'
import { VaultReader } from './reader.js'
import { VaultSnapshots, type RootSigner } from './snapshot.js'
import type { FileVersion, VaultStore } from './store.js'
import { VaultWriter, type Progress, type PutOptions, type PutResult } from './writer.js'

export { codeFor } from './placement.js'
export { vaultPath } from './paths.js'
export { pool } from './pool.js'
export type { Progress, PutResult, RootSigner }

/**
 * The vault: files chunked, encrypted, erasure-coded and spread over storage peers, with the
 * index in SQLite. This facade is what the twin and its API use; the work is done by
 *   writer.ts    put, remove, move, orphan collection (placement.ts places each chunk's shards)
 *   reader.ts    file and chunk reads
 *   health.ts    verify, audit, repair, per-file health
 *   snapshot.ts  index snapshots and the signed root pointer, restore
 */
export class Vault {
  private readonly writer: VaultWriter
  private readonly reader: VaultReader
  private readonly checks: VaultHealth
  private readonly snapshots: VaultSnapshots

  constructor (store: VaultStore, keys: VaultKeys, backends: () => Map<string, ShardBackend>, signer: RootSigner) {
    const parts: VaultParts = { store, keys, backends }
    this.writer = new VaultWriter(parts)
    this.reader = new VaultReader(parts)
    this.checks = new VaultHealth(parts, this.reader)
    this.snapshots = new VaultSnapshots(parts, this.reader, signer)
  }

  /** Chunks read since start, and how many of them needed parity (a data shard was missing or wrong). */
  get reads (): { chunks: number, checked: number, decoded: number } {
    return this.reader.reads
  }

  /** Stores a stream under `path` as a new version. `check` runs after the last byte (a file that changed is refused). */
  async put (path: string, source: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    return await this.writer.put(path, source, options)
  }

  /** Marks a path deleted (a new version); earlier versions stay readable. */
  remove (path: string): FileVersion {
    return this.writer.remove(path)
  }

  /** Moves a file: a new version at `to` with the same content, and a deletion at `from`. */
  move (from: string, to: string): FileVersion {
    return this.writer.move(from, to)
  }

  /** Deletes shards uploaded by puts that never committed (the twin was killed mid-put). */
  async collectOrphans (): Promise<number> {
    return await this.writer.collectOrphans()
  }

  /** The version to read: the latest that is not deleted, or the given one. */
  file (path: string, version?: number): FileVersion {
    return this.reader.file(path, version)
  }

  /** Streams a file's bytes, checked against its hashes. */
  read (file: FileVersion): AsyncGenerator<Uint8Array> {
    return this.reader.read(file)
  }

  /** Reads one chunk from any k good shards. */
  async readChunk (id: Uint8Array): Promise<Uint8Array> {
    return await this.reader.readChunk(id)
  }

  list (prefix = '/'): FileVersion[] {
    return this.reader.list(prefix)
  }

  versions (path: string): FileVersion[] {
    return this.reader.versions(path)
  }

  /** Downloads every shard and checks it against its address. */
  async verify (onProgress?: (p: Progress) => void): Promise<VerifyResult> {
    return await this.checks.verify(onProgress)
  }

  /** Audits a sample of shards by leaf and Merkle proof. */
  async audit (sample = 64): Promise<AuditResult> {
    return await this.checks.audit(sample)
  }

  /** Rebuilds lost, corrupt and stranded shards onto other peers. */
  async repair (): Promise<RepairResult> {
    return await this.checks.repair()
  }

  health (): HealthSummary {
    return this.checks.health()
  }

  /** Stores the index as a snapshot and a signed root pointer on every peer. */
  async snapshot (): Promise<number> {
    return await this.snapshots.snapshot()
  }

  /** Rebuilds the index from the newest valid root on the peers. */
  async recover (): Promise<{ seq: number, files: number } | undefined> {
    return await this.snapshots.recover()
  }
}
