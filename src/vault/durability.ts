/**
 * Estimated annual durability, as "nines" (-log10 of the yearly probability of losing data).
 *
 * Model (docs/PROTOCOL.md, "Durability"): repair runs every `repairIntervalHours`, so data is
 * lost only if more than m peers are lost for good within one interval (fewer are rebuilt from
 * the rest). A peer is lost for good at a yearly rate lambda = BASE_ANNUAL_FAILURE plus its
 * observed unavailability (the share of failed checks: a peer that is often unreachable is taken
 * as likelier to vanish), so within an interval of t years with probability p = 1 - e^(-lambda t).
 * With P peers failing independently, as an upper bound for any placement:
 *   P(loss in an interval) = sum over i > m of C(P, i) p^i (1 - p)^(P - i)
 *   P(loss in a year)      = 1 - (1 - P(loss in an interval))^(intervals per year)
 * When every shard is on one machine, losing it loses everything: P(loss in a year) is
 * BASE_ANNUAL_FAILURE.
 */
export const BASE_ANNUAL_FAILURE = 0.05

function binomial (n: number, i: number): number {
  let r = 1
  for (let j = 1; j <= i; j++) r = r * (n - i + j) / j
  return r
}

/** Probability that more than m of `peers` peers fail, each with probability p. */
export function moreThanFail (peers: number, m: number, p: number): number {
  let sum = 0
  for (let i = m + 1; i <= peers; i++) sum += binomial(peers, i) * p ** i * (1 - p) ** (peers - i)
  return sum
}

export function nines (annualLoss: number): number {
  if (annualLoss <= 0) return 15
  return Math.min(15, Math.max(0, -Math.log10(annualLoss)))
}

export function estimateDurability (o: { peers: number, m: number, unavailability: number, repairIntervalHours: number, oneMachine: boolean }): { nines: number, annualLoss: number } {
  if (o.oneMachine || o.peers <= 1) return { nines: nines(BASE_ANNUAL_FAILURE), annualLoss: BASE_ANNUAL_FAILURE }
  const lambda = BASE_ANNUAL_FAILURE + Math.min(1, Math.max(0, o.unavailability))
  const t = o.repairIntervalHours / (365 * 24)
  const p = -Math.expm1(-lambda * t)
  const perInterval = moreThanFail(o.peers, o.m, p)
  const intervals = 1 / t
  // 1 - (1 - x)^N without losing a tiny x to rounding.
  const annualLoss = -Math.expm1(intervals * Math.log1p(-Math.min(perInterval, 1 - 1e-16)))
  return { nines: nines(annualLoss), annualLoss }
}
