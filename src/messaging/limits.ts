/** Largest envelope a twin or relay accepts, in bytes. Large content goes through the vault. */
export const MAX_ENVELOPE_BYTES = 256 * 1024
/** How far in the future an envelope's creation time may be (clock skew allowance). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000
/** Longest lifetime an envelope may claim. */
export const MAX_TTL_MS = 30 * 24 * 3600_000
/** Lifetime of a message when the sender does not choose one. */
export const DEFAULT_TTL_MS = 7 * 24 * 3600_000
