import { compareNumbers, deepEqual, describeKind, isNumber, kindOf } from './ipld.js'
import { globMatches } from './glob.js'
import { render } from './text.js'
import type { Policy, Statement } from './policy.js'
import { resolveSelector } from './selector.js'

/**
 * Runs a parsed policy against an invocation's arguments (delegation spec, "Validation").
 *
 * Each statement comes out true, false, or missing: "missing" when a selector without `?`
 * finds nothing (a key that is absent, an index out of range, a field of a non-map). The spec
 * makes such a statement false; Twin also keeps `not` from turning it true (`["not", ["==",
 * ".role", "admin"]]` does not hold when there is no `.role`), so a policy never passes on
 * data that is not there. Otherwise:
 * - `and` holds when every statement holds; `and []` holds.
 * - `or` holds when one statement holds; `or []` holds (as the spec and its fixtures say).
 * - `all` / `any` extend `and` / `or` over a list's elements or a map's values; `any` over an
 *   empty collection does not hold (no element satisfies it), `all` over one does.
 * - Comparisons hold only between numbers, `like` only on strings, quantifiers only over
 *   collections; any other kind makes the statement false, never an exception.
 * - `!=` is `not ==`, so it is missing, not true, when its selector finds nothing.
 */
export type PolicyResult =
  | { ok: true }
  | {
    ok: false
    /** The top-level statement that failed, as written in the token. */
    statement: unknown[]
    /** Why, in words: which selector or comparison failed. */
    why: string
  }

// `why` is built only when a policy fails: most evaluations pass, and words cost.
type Outcome = { result: 'true' } | { result: 'false' | 'missing', why: () => string }

const TRUE: Outcome = { result: 'true' }

export function evaluatePolicy (policy: Policy, args: unknown): PolicyResult {
  for (const statement of policy.statements) {
    const outcome = evaluate(statement, args)
    if (outcome.result !== 'true') return { ok: false, statement: statement.raw, why: outcome.why() }
  }
  return { ok: true }
}

function evaluate (s: Statement, value: unknown): Outcome {
  switch (s.op) {
    case '==':
    case '!=': {
      const sel = resolveSelector(s.selector, value)
      if (!sel.found) return { result: 'missing', why: sel.why }
      const equal = deepEqual(sel.value, s.value)
      if (equal === (s.op === '==')) return TRUE
      return { result: 'false', why: () => `${s.selector.text} is ${s.op === '==' ? 'not ' : ''}equal to ${render(s.value)}` }
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const sel = resolveSelector(s.selector, value)
      if (!sel.found) return { result: 'missing', why: sel.why }
      if (!isNumber(sel.value)) return { result: 'false', why: () => `${s.selector.text} is ${describeKind(sel.value)}, not a number` }
      const c = compareNumbers(sel.value, s.value)
      const holds = s.op === '<' ? c < 0 : s.op === '<=' ? c <= 0 : s.op === '>' ? c > 0 : c >= 0
      return holds ? TRUE : { result: 'false', why: () => `${s.selector.text} is not ${s.op} ${render(s.value)}` }
    }
    case 'like': {
      const sel = resolveSelector(s.selector, value)
      if (!sel.found) return { result: 'missing', why: sel.why }
      if (typeof sel.value !== 'string') return { result: 'false', why: () => `${s.selector.text} is ${describeKind(sel.value)}, not a string` }
      return globMatches(s.glob, sel.value) ? TRUE : { result: 'false', why: () => `${s.selector.text} does not match ${render(s.raw[2])}` }
    }
    case 'not': {
      const inner = evaluate(s.statement, value)
      if (inner.result === 'missing') return inner
      return inner.result === 'true' ? { result: 'false', why: () => `${render(s.statement.raw)} holds, and must not` } : TRUE
    }
    case 'and': {
      for (const inner of s.statements) {
        const outcome = evaluate(inner, value)
        if (outcome.result !== 'true') return outcome
      }
      return TRUE
    }
    case 'or': {
      if (s.statements.length === 0) return TRUE
      const failures: Outcome[] = []
      for (const inner of s.statements) {
        const outcome = evaluate(inner, value)
        if (outcome.result === 'true') return TRUE
        failures.push(outcome)
      }
      const why = (): string => failures.map(f => f.result === 'true' ? '' : f.why()).join(', and ')
      return { result: failures.some(f => f.result === 'missing') ? 'missing' : 'false', why }
    }
    case 'all':
    case 'any': {
      const sel = resolveSelector(s.selector, value)
      if (!sel.found) return { result: 'missing', why: sel.why }
      const kind = kindOf(sel.value)
      if (kind !== 'list' && kind !== 'map') return { result: 'false', why: () => `${s.selector.text} is ${describeKind(sel.value)}, not a list or a map` }
      const elements = kind === 'list' ? sel.value as unknown[] : Object.values(sel.value as Record<string, unknown>)
      let missing: Outcome | undefined
      for (const element of elements) {
        const outcome = evaluate(s.statement, element)
        if (s.op === 'all' && outcome.result !== 'true') return { result: outcome.result, why: () => `an element of ${s.selector.text} fails: ${outcome.why()}` }
        if (s.op === 'any' && outcome.result === 'true') return TRUE
        if (outcome.result === 'missing' && missing === undefined) missing = outcome
      }
      if (s.op === 'all') return TRUE
      return missing ?? { result: 'false', why: () => `no element of ${s.selector.text} satisfies ${render(s.statement.raw)}` }
    }
  }
}
