import { PolicyError } from './errors.js'
import { parseGlob, type Glob } from './glob.js'
import { describeKind, isNumber, kindOf } from './ipld.js'
import { parseSelector, type Selector } from './selector.js'

/**
 * The UCAN policy language (delegation spec, "Policy"): a delegation's `pol` is a list of
 * statements that the invocation's `args` must all satisfy. Statements are IPLD lists:
 *
 *   ["==", sel, value]  ["!=", sel, value]          deep (in)equality
 *   ["<", sel, n] ["<=", sel, n] [">", sel, n] [">=", sel, n]   numbers, integer or float alike
 *   ["like", sel, "pattern"]                        glob with * (see glob.ts)
 *   ["not", stmt]  ["and", [stmt...]]  ["or", [stmt...]]
 *   ["all", sel, stmt]  ["any", sel, stmt]          over a list's elements or a map's values
 *
 * `parsePolicy` checks the shape once, when a delegation is read or built, and throws a
 * `PolicyError` that says where and what; evaluate.ts then runs the parsed form.
 */
export type Statement =
  | { op: '==' | '!=', selector: Selector, value: unknown, raw: unknown[] }
  | { op: '<' | '<=' | '>' | '>=', selector: Selector, value: number | bigint, raw: unknown[] }
  | { op: 'like', selector: Selector, glob: Glob, raw: unknown[] }
  | { op: 'not', statement: Statement, raw: unknown[] }
  | { op: 'and' | 'or', statements: Statement[], raw: unknown[] }
  | { op: 'all' | 'any', selector: Selector, statement: Statement, raw: unknown[] }

export interface Policy {
  statements: Statement[]
  /** The policy as it appears in the token. */
  raw: unknown[]
}

/** Bounds that keep a hostile policy from costing more than a token's size suggests. */
export const MAX_POLICY_DEPTH = 32
export const MAX_POLICY_STATEMENTS = 1000

const COMPARISONS = new Set(['<', '<=', '>', '>='])

/** Reads and checks a policy (an IPLD list of statements). */
export function parsePolicy (raw: unknown): Policy {
  if (!Array.isArray(raw)) throw new PolicyError('', `a policy must be a list of statements, got ${describeKind(raw)}`)
  const budget = { left: MAX_POLICY_STATEMENTS }
  const statements = raw.map((s, i) => parseStatement(s, `statement ${i}`, 1, budget))
  return { statements, raw }
}

function parseStatement (raw: unknown, at: string, depth: number, budget: { left: number }): Statement {
  if (depth > MAX_POLICY_DEPTH) throw new PolicyError(at, `statements may nest at most ${MAX_POLICY_DEPTH} deep`)
  if (--budget.left < 0) throw new PolicyError(at, `a policy may hold at most ${MAX_POLICY_STATEMENTS} statements`)
  if (!Array.isArray(raw)) throw new PolicyError(at, `a statement must be a list like ["==", ".a", 1], got ${describeKind(raw)}`)
  const [op] = raw
  if (typeof op !== 'string') throw new PolicyError(at, 'a statement must start with its operator as a string')
  const arity = (n: number): void => {
    if (raw.length !== n) throw new PolicyError(at, `"${op}" takes ${n - 1} argument${n === 2 ? '' : 's'}, got ${raw.length - 1}`)
  }
  switch (op) {
    case '==':
    case '!=':
      arity(3)
      if (kindOf(raw[2]) === undefined) throw new PolicyError(at, `"${op}" needs an IPLD value to compare with`)
      return { op, selector: parseSelector(raw[1], at), value: raw[2], raw }
    case 'like':
      arity(3)
      return { op, selector: parseSelector(raw[1], at), glob: parseGlob(raw[2], at), raw }
    case 'not':
      arity(2)
      return { op, statement: parseStatement(raw[1], `${at} > not`, depth + 1, budget), raw }
    case 'and':
    case 'or': {
      arity(2)
      const inner = raw[1]
      if (!Array.isArray(inner)) throw new PolicyError(at, `"${op}" takes a list of statements, got ${describeKind(inner)}`)
      return { op, statements: inner.map((s, i) => parseStatement(s, `${at} > ${op}[${i}]`, depth + 1, budget)), raw }
    }
    case 'all':
    case 'any':
      arity(3)
      return { op, selector: parseSelector(raw[1], at), statement: parseStatement(raw[2], `${at} > ${op}`, depth + 1, budget), raw }
    default:
      if (COMPARISONS.has(op)) {
        arity(3)
        const value = raw[2]
        if (!isNumber(value)) throw new PolicyError(at, `"${op}" compares with a number, got ${describeKind(value)}`)
        return { op: op as '<' | '<=' | '>' | '>=', selector: parseSelector(raw[1], at), value, raw }
      }
      throw new PolicyError(at, `unknown operator ${JSON.stringify(op).slice(0, 40)}`)
  }
}
