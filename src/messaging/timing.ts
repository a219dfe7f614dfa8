/** Cancels a scheduled call; calling it twice, or after the call ran, does nothing. */
export type Cancel = () => void

/**
 * Every clock, delay and random draw messaging uses, in one place, so that tests control time
 * (hyperswarm injects `{ backoffs, jitter }` the same way).
 */
export interface Timing {
  now: () => number
  random: () => number
  /** Runs `fn` after `ms`. A scheduled call never keeps the process alive on its own. */
  schedule: (fn: () => void, ms: number) => Cancel
  /** First retry delay; doubles per attempt up to `maxBackoffMs`. */
  baseBackoffMs: number
  maxBackoffMs: number
  /** A message left at the recipient's relay is offered again (direct first) after this long. */
  relayedRecheckMs: number
  dialTimeoutMs: number
  /** An envelope written on a direct channel and not acknowledged within this goes back to the retry schedule. */
  ackTimeoutMs: number
  /** Acknowledgements of mailbox envelopes wait this long to be sent as one per sender. */
  ackGatherMs: number
}

export const DEFAULT_TIMING: Timing = {
  now: Date.now,
  random: Math.random,
  schedule: (fn, ms) => {
    const t = setTimeout(fn, ms)
    t.unref()
    return () => { clearTimeout(t) }
  },
  baseBackoffMs: 1_000,
  maxBackoffMs: 60_000,
  relayedRecheckMs: 10 * 60_000,
  dialTimeoutMs: 5_000,
  ackTimeoutMs: 15_000,
  ackGatherMs: 20
}

/** Delay before attempt `attempts + 1`: exponential, capped, times a random factor in [0.5, 1). */
export function backoff (timing: Timing, attempts: number): number {
  const ceiling = Math.min(timing.maxBackoffMs, timing.baseBackoffMs * 2 ** Math.min(attempts, 20))
  return Math.round(ceiling * (0.5 + timing.random() / 2))
}
