import type { KelState } from '../../identity/index.js'
import { ed25519Verify } from '../../identity/index.js'
import type { UcanCache } from './cache.js'
import type { Delegation } from './delegation.js'
import { principalOf } from './did.js'
import { deny, type Denial, type TokenRef } from './errors.js'
import type { Invocation } from './invocation.js'

/**
 * Who may sign for an issuer DID (UCAN spec, "Issuer & Audience": every UCAN MUST be signed
 * by the key of its `iss`):
 * - `did:key:z6Mk...`: the Ed25519 key inside the DID.
 * - `did:twin:<id>`: the twin's *current* signing key, from its key event log as the
 *   resolver knows it. A signature by an earlier key of the same twin is refused as
 *   `rotated_key`: a token carries no trustworthy time, so nothing shows it was signed
 *   before the rotation rather than by whoever held the old key after it (the same reason
 *   docs/PROTOCOL.md §6 gives). A rotation therefore retires every token the twin signed;
 *   its twin re-issues the grants it still wants. Grants *to* a twin name its DID, not a
 *   key, and survive its rotations.
 *
 * The library stays off the network: a `TwinResolver` supplies a twin's keys. If the
 * current key it knows does not verify, validation asks once more with `refresh: true`
 * (the issuer may have rotated since the resolver last looked).
 */
export interface TwinKeys {
  /** The twin's current key sequence (0 after inception, +1 per rotation). */
  sequence: number
  /** Ed25519 signing public keys by sequence: `signing[s]` is the key of sequence s. */
  signing: readonly Uint8Array[]
}

export interface TwinResolver {
  /**
   * The verified keys of twin `id`, or undefined if it cannot be found. `refresh` asks for a
   * fresher answer than a cache holds; a resolver may ignore it when it refreshed moments ago
   * (a stream of forged tokens must not turn into a stream of network lookups).
   */
  resolve: (id: string, options: { refresh?: boolean, signal?: AbortSignal }) => Promise<TwinKeys | undefined>
}

/** The keys a verified key event log gives (identity's `verifyKel`), in the resolver's shape. */
export function twinKeysFromKel (state: KelState): TwinKeys {
  return { sequence: state.sequence, signing: state.history.map(k => k.signing) }
}

/** How many superseded keys are tried to tell "rotated" from "forged"; beyond that a signature is just invalid. */
const OLD_KEYS_TRIED = 8

export interface IssuerContext {
  resolver?: TwinResolver
  cache?: UcanCache
  signal?: AbortSignal
}

/** Verifies a token's signature against its issuer; undefined when it holds, a denial saying why not otherwise. */
export async function verifyIssuer (token: Delegation | Invocation, ctx: IssuerContext, ref: TokenRef): Promise<Denial | undefined> {
  const iss = token.payload.iss
  const what = ref.kind === 'invocation' ? 'The invocation' : `Delegation ${String(ref.index)} (${token.id})`
  const principal = principalOf(iss, 'the issuer') // already checked when the token was decoded
  if (principal.method === 'key') {
    if (principal.keyType !== 'Ed25519') return deny('unsupported_principal', `${what} is issued by ${iss}, an X25519 key, which cannot sign.`, ref)
    return check(token, principal.publicKey, ctx) ? undefined : badSignature(token, what, iss, ref)
  }
  if (principal.method === 'other') {
    return deny('unsupported_principal', `${what} is issued by ${iss}; Twin verifies only did:key (Ed25519) and did:twin issuers.`, ref)
  }
  const resolver = ctx.resolver
  if (resolver === undefined) return deny('unresolvable_issuer', `${what} is issued by ${iss}, and this verifier has no way to look up twins' keys.`, ref)
  let keys = await lookup(resolver, principal.id, false, ctx.signal)
  if (keys === 'failed') return deny('unresolvable_issuer', `${what} is issued by ${iss}, whose keys cannot be looked up right now.`, ref)
  if (keys === undefined) return deny('unresolvable_issuer', `${what} is issued by ${iss}, whose key event log cannot be found.`, ref)
  if (check(token, keys.signing[keys.sequence], ctx)) return undefined
  const fresh = await lookup(resolver, principal.id, true, ctx.signal)
  if (typeof fresh === 'object' && fresh.sequence > keys.sequence) {
    keys = fresh
    if (check(token, keys.signing[keys.sequence], ctx)) return undefined
  }
  for (let s = keys.sequence - 1; s >= Math.max(0, keys.sequence - OLD_KEYS_TRIED); s--) {
    if (check(token, keys.signing[s], ctx)) {
      return deny('rotated_key', `${what} was signed by ${iss} with key sequence ${s}, which that twin has since rotated (it is now at sequence ${keys.sequence}); it must be issued again.`, ref)
    }
  }
  return badSignature(token, what, iss, ref)
}

function badSignature (token: Delegation | Invocation, what: string, iss: string, ref: TokenRef): Denial {
  if (token.signature.length !== 64) return deny('invalid_signature', `${what} has a signature of ${token.signature.length} bytes; an Ed25519 signature is 64 bytes.`, ref)
  return deny('invalid_signature', `${what}'s signature was not made by ${iss}: the token was forged or altered.`, ref)
}

/** One Ed25519 verification, skipped when the cache already saw this delegation verify with this key. */
function check (token: Delegation | Invocation, publicKey: Uint8Array | undefined, ctx: IssuerContext): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false
  if (token.kind === 'invocation') return ed25519Verify(publicKey, token.signed, token.signature) // unique per use: not worth caching
  if (ctx.cache?.isVerified(token, publicKey) === true) return true
  if (!ed25519Verify(publicKey, token.signed, token.signature)) return false
  ctx.cache?.markVerified(token, publicKey)
  return true
}

/**
 * Asks the resolver. A resolver that fails (the network is down) yields 'failed', a denial
 * that says so, rather than an exception; cancellation through `signal` still throws.
 */
async function lookup (resolver: TwinResolver, id: string, refresh: boolean, signal: AbortSignal | undefined): Promise<TwinKeys | undefined | 'failed'> {
  signal?.throwIfAborted()
  let keys: TwinKeys | undefined
  try {
    keys = await resolver.resolve(id, signal === undefined ? { refresh } : { refresh, signal })
  } catch (err) {
    if (signal?.aborted === true) throw err
    return 'failed'
  }
  if (keys === undefined) return undefined
  // A resolver is a plug point: check its answer's shape rather than trust it.
  if (!Number.isSafeInteger(keys.sequence) || keys.sequence < 0 || !(keys.signing[keys.sequence] instanceof Uint8Array)) {
    throw new TypeError(`the twin resolver returned no signing key for the sequence it calls current (${String(keys.sequence)})`)
  }
  return keys
}
