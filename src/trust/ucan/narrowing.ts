import { commandCovers } from './command.js'
import type { DelegationPayload } from './delegation.js'
import { deny, type Denial, UcanError } from './errors.js'
import { escapeGlob, globMatches, type Glob } from './glob.js'
import { parsePolicy, type Policy, type Statement } from './policy.js'
import { isoTime } from './text.js'

/**
 * "A delegation can only narrow" (DESIGN.md, Trust; UCAN spec, "Attenuation": each
 * delegation MUST restate or attenuate its proof). `checkNarrowing` compares a delegation
 * with the one it is made from: the same subject, a command at or below the proof's, an
 * expiry no later and a start no earlier, and a path within the proof's path. `twin delegate`
 * calls it before signing; validation calls it on every link of a chain.
 *
 * Paths are Twin's convention for vault commands: the argument `path` holds an absolute,
 * normalized path, and a grant of a file or folder P carries `pathPolicy(P)`:
 *
 *   ["or", [["==", ".path", P], ["like", ".path", P + "/*"]]]     (P itself, and everything below)
 *
 * A delegation's path scope is read from its top-level statements on `.path` that are `==`,
 * `like`, or an `or` of those; statements of other forms still apply at validation, they are
 * just not used to compare scopes. Inclusion is decided exactly for literals and for patterns
 * of the form `prefix*`; anything else must be restated unchanged to count as narrower.
 */
export const PATH_SELECTOR = '.path'
export const MAX_PATH_LENGTH = 4096

type NarrowingInput = { payload: DelegationPayload, policy?: Policy }

export interface NarrowingOptions {
  /**
   * Accept a powerline (`sub: null`) below a delegation that names a subject. Validation sets
   * it: inside a chain a powerline stands for the subject before it (delegation spec,
   * "Powerline"). `twin delegate` leaves it unset: passing on one grant as a powerline would
   * hand over everything the delegator will ever receive.
   */
  allowPowerline?: boolean
}

export function checkNarrowing (child: NarrowingInput, parent: NarrowingInput, options: NarrowingOptions = {}): { ok: true } | Denial {
  const c = child.payload
  const p = parent.payload
  if (c.iss !== p.aud) return deny('broken_chain', `The delegation is issued by ${c.iss}, but its proof was granted to ${p.aud}.`)
  if (p.sub !== null && c.sub === null && options.allowPowerline !== true) return deny('subject_widened', `The delegation is a powerline (no subject), but its proof is limited to subject ${p.sub}.`)
  if (p.sub !== null && c.sub !== null && c.sub !== p.sub) return deny('subject_mismatch', `The delegation is about subject ${String(c.sub)}, but its proof is about ${p.sub}.`)
  if (!commandCovers(p.cmd, c.cmd)) return deny('command_widened', `The delegation grants ${c.cmd}, which its proof's ${p.cmd} does not cover.`)
  if (p.exp !== null && (c.exp === null || c.exp > p.exp)) {
    return deny('expiry_widened', `The delegation is valid ${c.exp === null ? 'forever' : `until ${isoTime(c.exp)}`}, past its proof's expiry at ${isoTime(p.exp)}.`)
  }
  if (p.nbf !== undefined && (c.nbf === undefined || c.nbf < p.nbf)) {
    return deny('not_before_widened', `The delegation is valid ${c.nbf === undefined ? 'from any time' : `from ${isoTime(c.nbf)}`}, before its proof starts at ${isoTime(p.nbf)}.`)
  }
  const childScopes = pathScopes(child.policy ?? parsePolicy(c.pol))
  const parentScopes = pathScopes(parent.policy ?? parsePolicy(p.pol))
  for (const scope of parentScopes) {
    if (childScopes.length === 0) continue // no path of its own: the proof's path still applies at validation
    if (!childScopes.some(cs => scopeWithin(cs, scope))) {
      return deny('path_widened', `The delegation's paths ${childScopes.map(describeScope).join(' and ')} reach outside its proof's ${describeScope(scope)}.`)
    }
  }
  return { ok: true }
}

/** The statements granting a file or folder and everything below it, for `args.path`. */
export function pathPolicy (path: string): unknown[] {
  if (!isNormalizedPath(path)) throw new UcanError('a granted path must be absolute and normalized ("/photos/2026", no "." or ".." segments, no trailing "/")')
  if (path === '/') return [['like', PATH_SELECTOR, '/*']]
  return [['or', [['==', PATH_SELECTOR, path], ['like', PATH_SELECTOR, escapeGlob(path) + '/*']]]]
}

/**
 * True for a vault path in normal form (docs/PROTOCOL.md §13): absolute, at most 4096
 * characters, no empty, "." or ".." segment, no trailing slash, no control character or
 * backslash. An executor must refuse any other `args.path` before the policy is checked:
 * `/photos/../private` matches `/photos/*` as text.
 */
export function isNormalizedPath (path: unknown): path is string {
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_PATH_LENGTH || !path.startsWith('/')) return false
  if (path === '/') return true
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(path)) return false
  return path.slice(1).split('/').every(s => s !== '' && s !== '.' && s !== '..')
}

// A path scope is a union of atoms: exact paths and `like` patterns.
type Atom = { exact: string } | { glob: Glob, pattern: unknown }
type Scope = Atom[]

// A policy's scopes never change (policies are frozen once read): compute them once per policy.
const scopesOf = new WeakMap<Policy, Scope[]>()

function pathScopes (policy: Policy): Scope[] {
  let scopes = scopesOf.get(policy)
  if (scopes === undefined) {
    scopes = readScopes(policy)
    scopesOf.set(policy, scopes)
  }
  return scopes
}

function readScopes (policy: Policy): Scope[] {
  const scopes: Scope[] = []
  for (const s of policy.statements) {
    const atom = pathAtom(s)
    if (atom !== undefined) { scopes.push([atom]); continue }
    if (s.op === 'or' && s.statements.length > 0) {
      const atoms = s.statements.map(pathAtom)
      if (atoms.every(a => a !== undefined)) scopes.push(atoms as Atom[])
    }
  }
  return scopes
}

function pathAtom (s: Statement): Atom | undefined {
  if (s.op === '==' && s.selector.text === PATH_SELECTOR && typeof s.value === 'string') return { exact: s.value }
  if (s.op === 'like' && s.selector.text === PATH_SELECTOR) return { glob: s.glob, pattern: s.raw[2] }
  return undefined
}

function scopeWithin (inner: Scope, outer: Scope): boolean {
  return inner.every(a => outer.some(b => atomWithin(a, b)))
}

function atomWithin (a: Atom, b: Atom): boolean {
  if ('exact' in a) return 'exact' in b ? a.exact === b.exact : globMatches(b.glob, a.exact)
  const pieces = a.glob.pieces
  if (pieces.length === 1) return atomWithin({ exact: pieces[0] as string }, b) // a pattern without `*` is a literal
  if ('exact' in b) return false
  const outer = b.glob.pieces
  // `prefix*` contains every pattern whose literal start begins with that prefix.
  if (outer.length === 2 && outer[1] === '') return (pieces[0] as string).startsWith(outer[0] as string)
  return outer.length === pieces.length && outer.every((piece, i) => piece === pieces[i])
}

function describeScope (scope: Scope): string {
  return scope.map(a => 'exact' in a ? JSON.stringify(a.exact) : `like ${JSON.stringify(a.pattern)}`).join(' or ')
}
