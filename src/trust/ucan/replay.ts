/**
 * Replay prevention (UCAN spec, "Replay Attack Prevention"; invocation spec, "Nonce"): every
 * invocation has a unique CID (its nonce sees to that), and an executor refuses a CID it has
 * already accepted. Validation calls `claim` last, only for an invocation that is otherwise
 * valid, so refused attempts do not fill the store. An executor with durable state (a storage
 * node's database) implements `ReplayGuard` over it; `MemoryReplayGuard` serves one process.
 */
export interface InvocationUse {
  /** The invocation's CID (base32). */
  cid: string
  issuer: string
  nonce: Uint8Array
  /** The last second (Unix) at which validation could accept it: `exp` plus the allowed clock skew; null if it never expires. */
  validUntil: number | null
  /** The validation time (Unix seconds). */
  now: number
}

export interface ReplayGuard {
  /** Records the use; returns false if this invocation was already used. */
  claim: (use: InvocationUse) => boolean | Promise<boolean>
}

export interface MemoryReplayGuardOptions {
  /** Default 100 000 remembered invocations. */
  maxEntries?: number
  /** How long to remember an invocation that never expires (seconds, default one day). */
  retainWithoutExpiry?: number
}

/**
 * Remembers used invocations until they expire. An invocation that never expires is
 * remembered for `retainWithoutExpiry` only, and when the store is full it forgets expired
 * entries first, then the oldest: an invocation forgotten early could be replayed. So an
 * executor using this guard sets `maxInvocationLifetime` (minutes, as the invocation spec
 * recommends) and sizes the store for the invocations it accepts in that time.
 */
export class MemoryReplayGuard implements ReplayGuard {
  private readonly used = new Map<string, number>() // cid -> forget after (Unix seconds)
  private readonly maxEntries: number
  private readonly retain: number

  constructor (options: MemoryReplayGuardOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000
    this.retain = options.retainWithoutExpiry ?? 86_400
  }

  claim (use: InvocationUse): boolean {
    const until = this.used.get(use.cid)
    if (until !== undefined && until >= use.now) return false
    this.used.delete(use.cid)
    if (this.used.size >= this.maxEntries) this.prune(use.now)
    this.used.set(use.cid, use.validUntil === null ? use.now + this.retain : Math.max(use.validUntil, use.now))
    return true
  }

  private prune (now: number): void {
    for (const [cid, until] of this.used) if (until < now) this.used.delete(cid)
    while (this.used.size >= this.maxEntries) this.used.delete(this.used.keys().next().value as string)
  }
}
