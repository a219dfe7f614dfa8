import { StorageNodeError } from './errors.js'

const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3, tb: 1e12, tib: 1024 ** 4, pb: 1e15, pib: 1024 ** 5
}

/** Parses a size like `10GiB`, `500MiB`, `2TB` or `1048576` into bytes. */
export function parseSize (text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)?\s*$/i.exec(text)
  const unit = SIZE_UNITS[(m?.[2] ?? 'b').toLowerCase()]
  const bytes = m === null || unit === undefined ? NaN : Math.floor(Number(m[1]) * unit)
  if (!Number.isSafeInteger(bytes)) throw new StorageNodeError('OPTION_INVALID', `"${text}" is not a ${what} (for example 10GiB, 500MiB)`)
  return bytes
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }
/** Longest invite lifetime: a token lying around for years is a standing key to the node. */
export const MAX_DURATION_MS = 365 * 86_400_000

/** Parses a duration like `7d`, `12h`, `30m` or `45s` into milliseconds (at most a year). */
export function parseDuration (text: string): number {
  const m = /^\s*(\d+)\s*([smhd])\s*$/i.exec(text)
  const ms = m === null ? NaN : Number(m[1]) * (DURATION_UNITS[(m[2] as string).toLowerCase()] as number)
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > MAX_DURATION_MS) {
    throw new StorageNodeError('OPTION_INVALID', `"${text}" is not a duration from 1s to 365d (for example 7d, 12h, 30m)`)
  }
  return ms
}

/** A byte count for people: 1.5 MiB. */
export function formatSize (n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i] as string}`
}
