/**
 * Counts failed attempts per key in bounded memory: past `maxKeys`, the oldest key is forgotten
 * (its count starts again, so a forgotten envelope gets a few more attempts, never unbounded
 * memory). Used for envelopes a relay keeps pushing whose sender cannot be resolved.
 */
export class Strikes {
  private readonly counts = new Map<string, number>()

  constructor (private readonly maxKeys = 10_000) {}

  /** Counts one more failure of `key` and returns how many there were. */
  add (key: string): number {
    const n = (this.counts.get(key) ?? 0) + 1
    this.counts.delete(key)
    this.counts.set(key, n)
    if (this.counts.size > this.maxKeys) this.counts.delete(this.counts.keys().next().value as string)
    return n
  }

  forget (key: string): void {
    this.counts.delete(key)
  }

  get size (): number {
    return this.counts.size
  }
}
