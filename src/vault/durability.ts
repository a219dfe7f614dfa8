/**
 * Estimated annual durability, as "nines" (-log10 of the yearly probability of losing data).
 *
 * Model (docs/PROTOCOL.md, "Durability"): repair runs every `repairIntervalHours`; a chunk is
 * lost only if more than m of its n = k + m shards' peers are lost within one interval. A peer
 * is taken as lost within an interval with probability p = its observed unavailability (the
 * share of failed checks; 1% when it has not been checked yet), assuming peers fail
 * independently: P(chunk lost in an interval) = sum over i > m of C(n, i) p^i (1 - p)^(n - i).
 * Over a year of intervals and all chunks, P(loss) = 1 - (1 - P(chunk))^(intervals * chunks).
 * When every shard is on one machine, losing that machine loses everything: P(loss) is the
 * machine's yearly failure rate (ANNUAL_MACHINE_FAILURE).
 */
export const DEFAULT_UNAVAILABILITY = 0.01
/** Yearly failure rate of one machine's disk, used when all shards sit on one machine. */
export const ANNUAL_MACHINE_FAILURE = 0.03

function binomial (n: number, i: number): number {
  let r = 1
  for (let j = 1; j <= i; j++) r = r * (n - i + j) / j
  return r
}

export function chunkLossPerInterval (k: number, m: number, p: number): number {
  const n = k + m
  let sum = 0
  for (let i = m + 1; i <= n; i++) sum += binomial(n, i) * p ** i * (1 - p) ** (n - i)
  return sum
}

export function nines (annualLoss: number): number {
  if (annualLoss <= 0) return 15
  return Math.min(15, Math.max(0, -Math.log10(annualLoss)))
}

export function estimateDurability (o: { k: number, m: number, unavailability: number, chunks: number, repairIntervalHours: number, oneMachine: boolean }): { nines: number, annualLoss: number } {
  if (o.chunks === 0) return { nines: 15, annualLoss: 0 }
  if (o.oneMachine) return { nines: nines(ANNUAL_MACHINE_FAILURE), annualLoss: ANNUAL_MACHINE_FAILURE }
  const perInterval = chunkLossPerInterval(o.k, o.m, Math.min(1, Math.max(0, o.unavailability)))
  const intervals = 365 * 24 / o.repairIntervalHours
  // 1 - (1 - x)^N computed without losing tiny x to rounding.
  const annualLoss = -Math.expm1(intervals * o.chunks * Math.log1p(-Math.min(perInterval, 1 - 1e-16)))
  return { nines: nines(annualLoss), annualLoss }
}
