import { kindOf } from './ipld.js'

/** Helpers that turn values into the words of denial messages, without leaking what must not be shown. */

/** A Unix time in seconds as an ISO 8601 UTC date, or the number if it is outside the Date range. */
export function isoTime (seconds: number): string {
  const d = new Date(seconds * 1000)
  return Number.isNaN(d.getTime()) ? `${seconds} (Unix seconds)` : d.toISOString().replace('.000Z', 'Z')
}

/** A statement or value in compact JSON, cut short; bytes and links are named, not dumped. */
export function render (value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Uint8Array) return `<${v.length} bytes>`
    if (kindOf(v) === 'link') return { '/': String(v) }
    return v
  }) ?? 'undefined'
  return text.length > 160 ? text.slice(0, 157) + '...' : text
}
