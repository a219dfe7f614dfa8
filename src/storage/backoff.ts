/** When to leave a storage node alone after failed attempts: the first wait, its growth and its cap. */
export interface BackoffOptions {
  /** Wait after the first failure (default 1 s); each further failure doubles it. */
  initialMs?: number
  /** Longest wait (default 30 s): a node that comes back is used again within this. */
  maxMs?: number
  /** The clock, for tests. */
  now?: () => number
}

/**
 * Remembers that a storage node is down, for a short while that grows with each failed attempt
 * and ends with the first success. Reads and puts ask `down` and go to other nodes meanwhile,
 * so a node that is off costs one failed dial, not one per chunk (a dial to an unreachable
 * address waits up to 10 s). Nothing is refused here: verify and repair, which the user runs,
 * try the node again at once, and their success ends the wait.
 */
export class DownBackoff {
  private failures = 0
  private until = 0
  private readonly initialMs: number
  private readonly maxMs: number
  private readonly now: () => number

  constructor (options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 1_000
    this.maxMs = options.maxMs ?? 30_000
    this.now = options.now ?? Date.now
  }

  /** True while the last attempt failed and its wait has not run out. */
  get down (): boolean {
    return this.now() < this.until
  }

  /** An attempt failed. Failures of requests already under way while down count once, not each. */
  failed (): void {
    if (this.down) return
    this.failures++
    this.until = this.now() + Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures - 1, 30))
  }

  succeeded (): void {
    this.failures = 0
    this.until = 0
  }
}
