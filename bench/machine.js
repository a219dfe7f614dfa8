// The machine's limits, measured in the same run as the benchmark that quotes them: memory copy
// (Node's Buffer copy into memory already touched, which is libc's memmove), AES-256-GCM,
// SHA-256 and ChaCha20-Poly1305 (libp2p Noise's cipher) from `openssl speed` on one core,
// Ed25519 and X25519 operations, and the disk: sequential writes with an fsync per 256 KiB
// (a storage node's shard) and the latency of one small fsync'd write (a SQLite commit).
import { spawnSync } from 'node:child_process'
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MIB, median, printTable, writeResults } from './lib.js'

const SECONDS = Math.max(1, Math.round(Number(process.env.BENCH_OPENSSL_SECONDS ?? 2)))

/** `openssl speed -mr` for one EVP cipher or digest at one block size: bytes per second (CPU time of one core). */
function opensslThroughput (algorithm, bytes) {
  const r = spawnSync('openssl', ['speed', '-mr', '-seconds', String(SECONDS), '-bytes', String(bytes), '-evp', algorithm], { encoding: 'utf8' })
  const line = r.stdout.split('\n').find(l => l.startsWith('+F:'))
  if (r.status !== 0 || line === undefined) return null
  return Number(line.split(':').pop())
}

/** `openssl speed -mr ed25519`: signatures and verifications per second. */
function opensslEd25519 () {
  const r = spawnSync('openssl', ['speed', '-mr', '-seconds', String(SECONDS), 'ed25519'], { encoding: 'utf8' })
  const line = r.stdout.split('\n').find(l => l.startsWith('+F6:'))
  if (r.status !== 0 || line === undefined) return null
  const f = line.split(':')
  return { signPerSecond: Number(f[4]), verifyPerSecond: Number(f[5]) }
}

/** `openssl speed -mr ecdhx25519`: key agreements per second. */
function opensslX25519 () {
  const r = spawnSync('openssl', ['speed', '-mr', '-seconds', String(SECONDS), 'ecdhx25519'], { encoding: 'utf8' })
  const line = r.stdout.split('\n').find(l => l.startsWith('+F5:'))
  if (r.status !== 0 || line === undefined) return null
  return { perSecond: Number(line.split(':')[3]) }
}

/** Copy of `bytes`-sized pieces of 64 MiB into memory already touched; bytes per second (median of 7). */
function memcpy (bytes) {
  const total = 64 * MIB
  const src = Buffer.alloc(total, 7)
  const dst = Buffer.alloc(total, 1)
  const rates = []
  for (let run = 0; run < 8; run++) {
    const t = process.hrtime.bigint()
    for (let o = 0; o + bytes <= total; o += bytes) src.copy(dst, o, o, o + bytes)
    const secs = Number(process.hrtime.bigint() - t) / 1e9
    if (run > 0) rates.push(total / secs)
  }
  return median(rates)
}

/** Sequential writes of `piece` bytes, each fsync'd, in a fresh file under `dir`: bytes per second. */
function fsyncWrites (dir, piece, total) {
  const path = join(dir, 'fsync.bin')
  const buf = Buffer.alloc(piece, 3)
  const fd = openSync(path, 'w')
  const t = process.hrtime.bigint()
  for (let done = 0; done < total; done += piece) { writeSync(fd, buf); fsyncSync(fd) }
  const secs = Number(process.hrtime.bigint() - t) / 1e9
  closeSync(fd)
  rmSync(path)
  return { bytesPerSecond: total / secs, msPerFsync: secs * 1000 / (total / piece) }
}

/**
 * Measures the limits a benchmark compares against. `kind` picks the set: 'vault' (bulk bytes),
 * 'messaging' (small messages) or 'all'. The disk figures are for `dir` (default: the temp dir).
 */
export function measureLimits (kind = 'all', dir = tmpdir()) {
  const work = mkdtempSync(join(dir, 'twin-bench-limits-'))
  try {
    const limits = {}
    if (kind !== 'messaging') {
      limits.memcpy1MiB = memcpy(MIB)
      limits.aes256gcm1MiB = opensslThroughput('aes-256-gcm', MIB)
      limits.sha256_1MiB = opensslThroughput('sha256', MIB)
      limits.chacha20poly1305_1MiB = opensslThroughput('chacha20-poly1305', MIB)
      limits.fsyncEvery256KiB = fsyncWrites(work, 256 * 1024, 64 * MIB)
    }
    if (kind !== 'vault') {
      limits.memcpy1KiB = memcpy(1024)
      limits.aes256gcm1KiB = opensslThroughput('aes-256-gcm', 1024)
      limits.sha256_1KiB = opensslThroughput('sha256', 1024)
      limits.chacha20poly1305_1KiB = opensslThroughput('chacha20-poly1305', 1024)
      limits.ed25519 = opensslEd25519()
      limits.x25519 = opensslX25519()
      limits.fsyncSmall = fsyncWrites(work, 4096, 4096 * 200)
    }
    return limits
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

const mibs = b => b === null || b === undefined ? 'n/a' : `${(b / MIB).toFixed(0)} MiB/s`
const us = perSecond => perSecond === null || perSecond === undefined ? 'n/a' : `${(1e6 / perSecond).toFixed(1)} µs`

/** Rows for the limits table: what, figure, and what it means per unit of work. */
export function limitRows (l) {
  const rows = []
  const add = (what, figure, per) => rows.push({ limit: what, figure, per })
  if (l.memcpy1MiB !== undefined) add('memcpy, 1 MiB pieces, warm memory (Node Buffer.copy)', mibs(l.memcpy1MiB), `${(1e3 * MIB / l.memcpy1MiB).toFixed(2)} ms per MiB`)
  if (l.aes256gcm1MiB !== undefined) add('AES-256-GCM, 1 MiB (openssl speed, one core)', mibs(l.aes256gcm1MiB), l.aes256gcm1MiB === null ? '' : `${(1e3 * MIB / l.aes256gcm1MiB).toFixed(2)} ms per MiB`)
  if (l.sha256_1MiB !== undefined) add('SHA-256, 1 MiB (openssl speed, one core)', mibs(l.sha256_1MiB), l.sha256_1MiB === null ? '' : `${(1e3 * MIB / l.sha256_1MiB).toFixed(2)} ms per MiB`)
  if (l.chacha20poly1305_1MiB !== undefined) add('ChaCha20-Poly1305, 1 MiB (openssl speed; Noise)', mibs(l.chacha20poly1305_1MiB), l.chacha20poly1305_1MiB === null ? '' : `${(1e3 * MIB / l.chacha20poly1305_1MiB).toFixed(2)} ms per MiB`)
  if (l.fsyncEvery256KiB !== undefined) add('disk: write + fsync per 256 KiB', mibs(l.fsyncEvery256KiB.bytesPerSecond), `${l.fsyncEvery256KiB.msPerFsync.toFixed(2)} ms per fsync`)
  if (l.memcpy1KiB !== undefined) add('memcpy, 1 KiB pieces', mibs(l.memcpy1KiB), `${(1e6 * 1024 / l.memcpy1KiB).toFixed(3)} µs per KiB`)
  if (l.aes256gcm1KiB !== undefined) add('AES-256-GCM, 1 KiB (openssl speed)', mibs(l.aes256gcm1KiB), l.aes256gcm1KiB === null ? '' : `${(1e6 * 1024 / l.aes256gcm1KiB).toFixed(2)} µs per KiB`)
  if (l.chacha20poly1305_1KiB !== undefined) add('ChaCha20-Poly1305, 1 KiB (openssl speed)', mibs(l.chacha20poly1305_1KiB), l.chacha20poly1305_1KiB === null ? '' : `${(1e6 * 1024 / l.chacha20poly1305_1KiB).toFixed(2)} µs per KiB`)
  if (l.sha256_1KiB !== undefined) add('SHA-256, 1 KiB (openssl speed)', mibs(l.sha256_1KiB), l.sha256_1KiB === null ? '' : `${(1e6 * 1024 / l.sha256_1KiB).toFixed(2)} µs per KiB`)
  if (l.ed25519 !== undefined) {
    add('Ed25519 sign (openssl speed)', l.ed25519 === null ? 'n/a' : `${l.ed25519.signPerSecond.toFixed(0)}/s`, us(l.ed25519?.signPerSecond))
    add('Ed25519 verify (openssl speed)', l.ed25519 === null ? 'n/a' : `${l.ed25519.verifyPerSecond.toFixed(0)}/s`, us(l.ed25519?.verifyPerSecond))
  }
  if (l.x25519 !== undefined) add('X25519 key agreement (openssl speed)', l.x25519 === null ? 'n/a' : `${l.x25519.perSecond.toFixed(0)}/s`, us(l.x25519?.perSecond))
  if (l.fsyncSmall !== undefined) add('disk: 4 KiB write + fsync (a commit)', `${(1000 / l.fsyncSmall.msPerFsync).toFixed(0)}/s`, `${l.fsyncSmall.msPerFsync.toFixed(2)} ms per fsync`)
  return rows
}

export async function run () {
  const limits = measureLimits('all')
  printTable(`machine limits (one core; openssl ${SECONDS} s per figure)`, limitRows(limits))
  writeResults('machine', { limits })
}
