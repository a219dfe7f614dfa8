import { PolicyError } from './errors.js'
import { describeKind, isMap, kindOf, ownEntry } from './ipld.js'

/**
 * Selectors of the UCAN policy language (delegation spec, "Selectors"), a small subset of
 * jq's filters that picks a value out of an invocation's `args`:
 *
 *   .            the whole value              .a  .a.b      a map's field (identifier keys)
 *   .["a b"]     a map's field by any key     .[0] .a[-1]   a list element (negative: from the end)
 *   .[]          every element of a list, every value of a map (the rest of the path applies to each)
 *   .[1:3] .[2:] a slice of a list            ?             after a segment: null instead of failing
 *
 * A selector is parsed once (`parseSelector`) when its policy is read, and applied to
 * arguments with `select`. Resolution goes left to right and stops at the first segment that
 * cannot be resolved; if that segment is optional (`?`, repeated `?` count as one) the
 * selection is `null`, otherwise it fails, and the statement holding it is false.
 */
export type Segment =
  | { kind: 'field', key: string, optional: boolean }
  | { kind: 'index', index: number, optional: boolean }
  | { kind: 'slice', from: number | undefined, to: number | undefined, optional: boolean }
  | { kind: 'each', optional: boolean }

export interface Selector {
  /** The selector as written in the policy. */
  text: string
  segments: Segment[]
}

export type Selection = { found: true, value: unknown } | { found: false, why: string }

export const MAX_SELECTOR_LENGTH = 1024
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/y
const INTEGER = /-?(?:0|[1-9][0-9]{0,15})/y

/** Parses a selector; throws a `PolicyError` located at `at` that says what is wrong. */
export function parseSelector (text: unknown, at: string): Selector {
  if (typeof text !== 'string') throw new PolicyError(at, `a selector must be a string, got ${describeKind(text)}`)
  if (text.length > MAX_SELECTOR_LENGTH) throw new PolicyError(at, `a selector must be at most ${MAX_SELECTOR_LENGTH} characters`)
  const fail = (problem: string): never => { throw new PolicyError(at, `selector ${JSON.stringify(text)} ${problem}`) }
  if (!text.startsWith('.')) fail('must start with "."')
  const segments: Segment[] = []
  let pos = 0
  while (pos < text.length) {
    let segment: Segment
    if (text[pos] === '.') {
      pos++
      if (pos === text.length) {
        if (segments.length > 0 || pos !== 1) fail('must not end with "."')
        break // "." alone: the identity
      }
      if (text[pos] === '[') {
        ;[segment, pos] = parseBracket(text, pos, fail)
      } else {
        IDENTIFIER.lastIndex = pos
        const m = IDENTIFIER.exec(text)
        if (m === null) fail(`has "." followed by neither a field name nor "[" at position ${pos}`)
        segment = { kind: 'field', key: (m as RegExpExecArray)[0], optional: false }
        pos += (m as RegExpExecArray)[0].length
      }
    } else if (text[pos] === '[' && pos > 0) {
      ;[segment, pos] = parseBracket(text, pos, fail)
    } else {
      return fail(`has an unexpected ${JSON.stringify(text[pos])} at position ${pos}`)
    }
    while (text[pos] === '?') { segment.optional = true; pos++ }
    segments.push(segment)
  }
  return { text, segments }
}

function parseBracket (text: string, start: number, fail: (problem: string) => never): [Segment, number] {
  let pos = start + 1
  if (text[pos] === ']') return [{ kind: 'each', optional: false }, pos + 1]
  if (text[pos] === '"') {
    let end = pos + 1
    while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1
    if (end >= text.length) fail('has an unterminated quoted key')
    let key: unknown
    try {
      key = JSON.parse(text.slice(pos, end + 1))
    } catch {
      fail('has a quoted key that is not a valid JSON string')
    }
    if (text[end + 1] !== ']') fail('has a quoted key not followed by "]"')
    return [{ kind: 'field', key: key as string, optional: false }, end + 2]
  }
  const from = readInteger(text, pos, fail)
  pos = from.next
  if (text[pos] === ']') {
    if (from.value === undefined) fail('has an empty "[ ]" other than "[]"')
    return [{ kind: 'index', index: from.value as number, optional: false }, pos + 1]
  }
  if (text[pos] !== ':') fail(`has an unexpected character inside "[ ]" at position ${pos}`)
  const to = readInteger(text, pos + 1, fail)
  if (text[to.next] !== ']') fail('has a slice not closed by "]"')
  return [{ kind: 'slice', from: from.value, to: to.value, optional: false }, to.next + 1]
}

function readInteger (text: string, pos: number, fail: (problem: string) => never): { value: number | undefined, next: number } {
  INTEGER.lastIndex = pos
  const m = INTEGER.exec(text)
  if (m === null) return { value: undefined, next: pos }
  const value = Number(m[0])
  if (!Number.isSafeInteger(value) || Object.is(value, -0)) fail('has an index that is not a plain integer')
  return { value, next: pos + m[0].length }
}

/** Applies a selector to a value (the invocation's `args`). */
export function select (selector: Selector, value: unknown): Selection {
  const result = resolveSelector(selector, value)
  return result.found ? result : { found: false, why: result.why() }
}

/** `select`, with the reason for a failure left unwritten until someone asks (most failures are not shown). */
export function resolveSelector (selector: Selector, value: unknown): { found: true, value: unknown } | { found: false, why: () => string } {
  return resolve(selector.segments, 0, value)
}

type Resolution = { found: true, value: unknown } | { found: false, why: () => string }

function resolve (segments: Segment[], i: number, value: unknown): Resolution {
  const segment = segments[i]
  if (segment === undefined) return { found: true, value }
  const step = apply(segment, value)
  if (typeof step === 'function') {
    if (segment.optional) return { found: true, value: null }
    return { found: false, why: () => step(pathText(segments, i)) }
  }
  if (segment.kind !== 'each') return resolve(segments, i + 1, step.value)
  // `[]`: the rest of the selector applies to every element, and the result is their list.
  const out: unknown[] = []
  for (const element of step.value as unknown[]) {
    const sub = resolve(segments, i + 1, element)
    if (!sub.found) return sub
    out.push(sub.value)
  }
  return { found: true, value: out }
}

/** One segment applied to a value: the value found, or how to say why not given the path so far. */
function apply (segment: Segment, value: unknown): { value: unknown } | ((path: string) => string) {
  const kind = kindOf(value)
  switch (segment.kind) {
    case 'field': {
      if (!isMap(value)) return path => `${path} is ${describeKind(value)}, not a map, so it has no field "${segment.key}"`
      const entry = ownEntry(value, segment.key)
      return entry.found ? { value: entry.value } : path => `${join(path, fieldText(segment.key))} is missing`
    }
    case 'index': {
      if (kind !== 'list' && kind !== 'bytes') return path => `${path} is ${describeKind(value)}, not a list`
      const list = value as ArrayLike<unknown>
      const at = segment.index < 0 ? list.length + segment.index : segment.index
      if (at < 0 || at >= list.length) return path => `${join(path, `[${segment.index}]`)} is out of range (length ${list.length})`
      return { value: list[at] }
    }
    case 'slice': {
      if (kind !== 'list' && kind !== 'bytes') return path => `${path} is ${describeKind(value)}, not a list`
      const list = value as unknown[] | Uint8Array
      const clamp = (n: number | undefined, dflt: number): number => n === undefined ? dflt : Math.min(list.length, Math.max(0, n < 0 ? list.length + n : n))
      const from = clamp(segment.from, 0)
      return { value: list.slice(from, Math.max(from, clamp(segment.to, list.length))) }
    }
    case 'each': {
      if (kind === 'list') return { value }
      if (kind === 'bytes') return { value: Array.from(value as Uint8Array) }
      if (kind === 'map') return { value: Object.values(value as Record<string, unknown>) }
      return path => `${path} is ${describeKind(value)}, not a list or a map`
    }
  }
}

/** The selector's text up to (not including) segment `end`, for messages: ".a.b[0]". */
function pathText (segments: Segment[], end: number): string {
  let path = '.'
  for (const s of segments.slice(0, end)) {
    path = join(path, s.kind === 'field' ? fieldText(s.key) : s.kind === 'index' ? `[${s.index}]` : s.kind === 'each' ? '[]' : `[${s.from ?? ''}:${s.to ?? ''}]`)
  }
  return path
}

function fieldText (key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}

function join (path: string, segment: string): string {
  return path === '.' ? (segment.startsWith('.') ? segment : `.${segment}`) : path + segment
}
