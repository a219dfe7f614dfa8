import type { CID } from 'multiformats/cid'
import { isTwinError } from '../../errors.js'
import { sha256, toHex } from '../../wire/index.js'
import type { UcanCache } from './cache.js'
import { cidText } from './cid.js'
import { commandCovers } from './command.js'
import { decodeDelegation, type Delegation } from './delegation.js'
import { deny, type Denial, type TokenRef } from './errors.js'
import { evaluatePolicy } from './evaluate.js'
import { decodeInvocation, type Invocation } from './invocation.js'
import { verifyIssuer, type TwinResolver } from './issuer.js'
import { checkNarrowing } from './narrowing.js'
import type { ReplayGuard } from './replay.js'
import { isoTime, render } from './text.js'

/**
 * Checking an invocation against its proof chain (invocation spec, "Proof Chains";
 * delegation spec, "Token Validation"). Steps, in order; the first that fails is the answer:
 *
 *  1. The invocation decodes, and its signature is its issuer's (issuer.ts).
 *  2. It is addressed to this executor: its `aud`, or else its `sub`, is one of `executor`.
 *  3. Every CID in `prf` names a delegation that was provided, and each decodes.
 *  4. The chain's shape: with no proofs the invoker must be the subject; otherwise the root
 *     (`prf[0]`) has a subject (no powerline at the root) and is issued by it, every
 *     delegation's `sub` is the invocation's `sub` or null (a powerline, which inherits the
 *     subject before it), and each `aud` is the next token's `iss`, the last one's being the
 *     invoker's.
 *  5. Every delegation's signature (memoized through the cache).
 *  6. Time: `nbf <= now <= exp` for every delegation, `now <= exp` for the invocation,
 *     each with `clockSkew` seconds of slack; and the invocation's `exp` within
 *     `maxInvocationLifetime` of now, if one is set.
 *  7. Attenuation (unless `attenuation: 'spec'`): each delegation narrows the one before it
 *     (narrowing.ts): Twin refuses a chain that widens anything, even where the spec would
 *     let the wider part lapse unused.
 *  8. No delegation is revoked.
 *  9. Every delegation's command covers the invoked command, and every delegation's policy
 *     holds on the invocation's `args`.
 * 10. The invocation was not used before (`replay`), claimed last.
 *
 * The answer is a value: `{ ok: true, ... }` with what was authorized, or a `Denial` with a
 * reason code and a sentence. Exceptions are left for misuse (bad options) and cancellation.
 */
export interface ValidationOptions {
  /** The delegations on offer: their bytes, or a lookup by CID (base32 text). */
  proofs: readonly Uint8Array[] | ((cid: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>)
  /** Validation time, Unix seconds. */
  now: number
  /** Slack allowed on every time bound, in seconds (the spec recommends up to 60); default 0. */
  clockSkew?: number
  /** The DIDs this verifier executes for; if given, the invocation must be addressed to one of them. */
  executor?: string | readonly string[]
  /** Needed when an issuer is a did:twin. */
  resolver?: TwinResolver
  /** Memoizes decoded and verified delegations across validations. */
  cache?: UcanCache
  /** Revoked delegations, by CID (base32 text). */
  revoked?: ReadonlySet<string> | ((cid: string) => boolean | Promise<boolean>)
  /** Refuses an invocation seen before. */
  replay?: ReplayGuard
  /**
   * Refuse invocations that never expire or stay valid longer than this many seconds past
   * `now`, so that a replay guard can forget each one after that long. Unset: no limit.
   */
  maxInvocationLifetime?: number
  /** 'strict' (default): refuse chains that widen anything; 'spec': only what UCAN 1.0 requires. */
  attenuation?: 'strict' | 'spec'
  signal?: AbortSignal
}

/** What a valid invocation is allowed to do. */
export interface Authorization {
  ok: true
  invocation: Invocation
  /** The delegations, root first. */
  chain: Delegation[]
  issuer: string
  subject: string
  command: string
  args: Record<string, unknown>
  /** The earliest expiry in the chain and the invocation (Unix seconds), null if none expires. */
  validUntil: number | null
}

export type Validation = Authorization | Denial

/** Validates an invocation's bytes against its proof chain (the steps above). */
export async function validateInvocation (invocation: Uint8Array, options: ValidationOptions): Promise<Validation> {
  checkOptions(options)
  const skew = options.clockSkew ?? 0
  const ctx = { resolver: options.resolver, cache: options.cache, signal: options.signal }

  // 1. The invocation and its signature.
  let inv: Invocation
  try {
    inv = decodeInvocation(invocation)
  } catch (err) {
    if (isTwinError(err)) return deny('malformed_invocation', `The invocation cannot be read: ${err.message}.`, { kind: 'invocation' })
    throw err
  }
  const p = inv.payload
  const invRef: TokenRef = { kind: 'invocation', cid: inv.id }
  const badInvocation = await verifyIssuer(inv, ctx, invRef)
  if (badInvocation !== undefined) return badInvocation

  // 2. Addressed to this executor.
  if (options.executor !== undefined) {
    const executors = typeof options.executor === 'string' ? [options.executor] : options.executor
    const audience = p.aud ?? p.sub
    if (!executors.includes(audience)) {
      return deny('wrong_executor', `The invocation is addressed to ${audience}, not to ${executors.join(' or ')}.`, invRef)
    }
  }

  // 3. The proofs.
  const chain: Delegation[] = []
  const find = proofFinder(options)
  for (const [index, cid] of p.prf.entries()) {
    // Only what the caller offers counts as available, even if the cache saw this delegation before.
    const digest = toHex(cid.multihash.digest)
    const found = await find(cid, digest)
    const ref = (): TokenRef => ({ kind: 'delegation', cid: cidText(cid), index })
    if (found === undefined) return deny('missing_proof', `Proof ${index} (${cidText(cid)}) was not provided and cannot be found.`, ref())
    try {
      chain.push(options.cache !== undefined ? options.cache.delegation(found, digest) : decodeDelegation(found))
    } catch (err) {
      if (isTwinError(err)) return deny('malformed_proof', `Delegation ${index} (${cidText(cid)}) cannot be read: ${err.message}.`, ref())
      throw err
    }
  }

  // 4. The shape of the chain.
  const shape = chainShape(inv, chain)
  if (shape !== undefined) return shape

  // 5. The delegations' signatures.
  for (const [index, d] of chain.entries()) {
    const bad = await verifyIssuer(d, ctx, refOf(d, index))
    if (bad !== undefined) return bad
  }

  // 6. Time bounds.
  const now = options.now
  if (p.exp !== null && now > p.exp + skew) return deny('expired', `The invocation expired at ${isoTime(p.exp)}.`, invRef)
  const lifetime = options.maxInvocationLifetime
  if (lifetime !== undefined && (p.exp === null || p.exp > now + lifetime)) {
    const until = p.exp === null ? 'never expires' : `stays valid until ${isoTime(p.exp)}`
    return deny('lifetime_too_long', `The invocation ${until}; this executor accepts invocations valid for at most ${lifetime} seconds.`, invRef)
  }
  for (const [index, d] of chain.entries()) {
    const { exp, nbf } = d.payload
    if (exp !== null && now > exp + skew) return deny('expired', `${label(d, index)} expired at ${isoTime(exp)}.`, refOf(d, index))
    if (nbf !== undefined && now < nbf - skew) return deny('not_yet_valid', `${label(d, index)} is not valid before ${isoTime(nbf)}.`, refOf(d, index))
  }

  // 7. Each delegation narrows its proof.
  if (options.attenuation !== 'spec') {
    for (let index = 1; index < chain.length; index++) {
      const d = chain[index] as Delegation
      const narrowing = checkNarrowing(d, chain[index - 1] as Delegation, { allowPowerline: true })
      if (!narrowing.ok) return deny(narrowing.reason, narrowing.message.replace(/^The delegation/, label(d, index)), refOf(d, index))
    }
  }

  // 8. Revocation.
  if (options.revoked !== undefined) {
    const revoked = options.revoked
    for (const [index, d] of chain.entries()) {
      const isRevoked = typeof revoked === 'function' ? await revoked(d.id) : revoked.has(d.id)
      if (isRevoked) return deny('revoked', `${label(d, index)} has been revoked.`, refOf(d, index))
    }
  }

  // 9. Command and policies.
  for (const [index, d] of chain.entries()) {
    if (!commandCovers(d.payload.cmd, p.cmd)) {
      return deny('command_not_covered', `${label(d, index)} grants ${d.payload.cmd}, which does not cover the invoked ${p.cmd}.`, refOf(d, index))
    }
  }
  for (const [index, d] of chain.entries()) {
    const result = evaluatePolicy(d.policy, p.args)
    if (!result.ok) {
      return deny('policy_violation', `The arguments fail the policy of ${label(d, index).toLowerCase()}: ${result.why} (statement ${render(result.statement)}).`, refOf(d, index))
    }
  }

  // 10. Not a replay.
  const validUntil = earliest([p.exp, ...chain.map(d => d.payload.exp)])
  if (options.replay !== undefined) {
    const fresh = await options.replay.claim({ cid: inv.id, issuer: p.iss, nonce: p.nonce, validUntil: p.exp === null ? null : p.exp + skew, now })
    if (!fresh) return deny('replayed', `This invocation (${inv.id}) was already used; each invocation is accepted once.`, invRef)
  }

  return { ok: true, invocation: inv, chain, issuer: p.iss, subject: p.sub, command: p.cmd, args: p.args, validUntil }
}

/** Step 4: who granted what to whom, before any signature is checked (it costs nothing). */
function chainShape (inv: Invocation, chain: Delegation[]): Denial | undefined {
  const p = inv.payload
  const root = chain[0]
  if (root === undefined) {
    if (p.iss === p.sub) return undefined
    return deny('no_authority', `The invocation has no proofs, and its issuer ${p.iss} is not its subject ${p.sub}: nothing grants it authority.`, { kind: 'invocation', cid: inv.id })
  }
  if (root.payload.sub === null) {
    return deny('invalid_powerline', `${label(root, 0)} has no subject (a powerline); a chain must start with a grant by its subject.`, refOf(root, 0))
  }
  for (const [index, d] of chain.entries()) {
    if (d.payload.sub !== null && d.payload.sub !== p.sub) {
      return deny('subject_mismatch', `${label(d, index)} is about subject ${d.payload.sub}, but the invocation acts on ${p.sub}.`, refOf(d, index))
    }
  }
  if (root.payload.iss !== root.payload.sub) {
    return deny('root_not_subject', `${label(root, 0)} is issued by ${root.payload.iss}, not by its subject ${root.payload.sub}.`, refOf(root, 0))
  }
  for (let index = 1; index < chain.length; index++) {
    const d = chain[index] as Delegation
    const before = chain[index - 1] as Delegation
    if (d.payload.iss !== before.payload.aud) {
      return deny('broken_chain', `${label(d, index)} is issued by ${d.payload.iss}, but delegation ${index - 1} was granted to ${before.payload.aud}.`, refOf(d, index))
    }
  }
  const last = chain[chain.length - 1] as Delegation
  if (last.payload.aud !== p.iss) {
    return deny('broken_chain', `The invocation is issued by ${p.iss}, but the last delegation (${chain.length - 1}, ${last.id}) was granted to ${last.payload.aud}.`, { kind: 'invocation', cid: inv.id })
  }
  return undefined
}

/** Step 3's lookup: by digest among the given bytes (hashed once per validation, when needed) or through the caller's function. */
function proofFinder (options: ValidationOptions): (cid: CID, digest: string) => Promise<Uint8Array | undefined> {
  const proofs = options.proofs
  if (typeof proofs === 'function') {
    return async (cid, digest) => {
      const bytes = await proofs(cidText(cid))
      // The lookup is the caller's: check that it returned the bytes this CID names.
      return bytes instanceof Uint8Array && toHex(sha256(bytes)) === digest ? bytes : undefined
    }
  }
  let index: Map<string, Uint8Array> | undefined
  return async (_cid, digest) => {
    index ??= new Map(proofs.map(bytes => [toHex(sha256(bytes)), bytes]))
    return index.get(digest)
  }
}

function checkOptions (options: ValidationOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('validateInvocation needs options')
  if (!Number.isSafeInteger(options.now)) throw new TypeError(`options.now must be Unix seconds as an integer, got ${String(options.now)}`)
  const skew = options.clockSkew ?? 0
  if (!Number.isSafeInteger(skew) || skew < 0 || skew > 3600) throw new TypeError('options.clockSkew must be an integer from 0 to 3600 seconds')
  const lifetime = options.maxInvocationLifetime
  if (lifetime !== undefined && (!Number.isSafeInteger(lifetime) || lifetime < 0)) throw new TypeError('options.maxInvocationLifetime must be a non-negative integer of seconds')
  const proofs = options.proofs
  if (typeof proofs !== 'function' && !(Array.isArray(proofs) && proofs.every(b => b instanceof Uint8Array))) {
    throw new TypeError('options.proofs must be a list of Uint8Array or a lookup function')
  }
}

function refOf (d: Delegation, index: number): TokenRef {
  return { kind: 'delegation', cid: d.id, index }
}

function label (d: Delegation, index: number): string {
  return `Delegation ${index} (${d.id})`
}

function earliest (times: Array<number | null>): number | null {
  const set = times.filter((t): t is number => t !== null)
  return set.length === 0 ? null : Math.min(...set)
}
