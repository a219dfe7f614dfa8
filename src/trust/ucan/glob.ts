import { PolicyError } from './errors.js'

/**
 * Patterns of the `like` operator (delegation spec, "Glob Matching"): `*` matches zero or
 * more characters, `\*` is a literal star, and there is no other special character. Twin
 * also reads `\\` as a literal backslash, so that a pattern can end in one; a backslash before
 * anything else is refused as ambiguous. Matching walks the pattern without a regular
 * expression (no backtracking blow-up on hostile input): O(pattern x text) at worst.
 */
export interface Glob {
  /** Literal pieces between wildcards: `a*b*c` is ["a", "b", "c"]; a leading or trailing `*` gives "". */
  pieces: string[]
}

export function parseGlob (pattern: unknown, at: string): Glob {
  if (typeof pattern !== 'string') throw new PolicyError(at, '"like" needs a string pattern')
  const pieces: string[] = []
  let current = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string
    if (c === '\\') {
      const next = pattern[i + 1]
      if (next !== '*' && next !== '\\') throw new PolicyError(at, 'a backslash in a "like" pattern must be followed by * or \\')
      current += next
      i++
    } else if (c === '*') {
      pieces.push(current)
      current = ''
    } else {
      current += c
    }
  }
  pieces.push(current)
  return { pieces }
}

/** True if the whole of `text` matches the pattern. */
export function globMatches (glob: Glob, text: string): boolean {
  const { pieces } = glob
  const first = pieces[0] as string
  if (pieces.length === 1) return text === first
  const last = pieces[pieces.length - 1] as string
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false
  // Middle pieces: leftmost match of each is enough, since a `*` sits between any two of them.
  let pos = first.length
  const end = text.length - last.length
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i] as string
    const found = text.indexOf(piece, pos)
    if (found === -1 || found + piece.length > end) return false
    pos = found + piece.length
  }
  return true
}

/** Escapes a literal for use inside a `like` pattern. */
export function escapeGlob (literal: string): string {
  return literal.replace(/[\\*]/g, c => '\\' + c)
}
