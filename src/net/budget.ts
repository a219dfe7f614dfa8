/**
 * Unread bytes that a process holds for its peers, counted per connection and in total, so
 * that no peer (and no crowd of peers) can make it buffer without bound. Frame readers take
 * bytes as they arrive and give them back once a frame is read; a reader that finds the budget
 * spent pauses its stream (the muxer then stops granting that peer window) and waits here.
 */
export class ReadBudget {
  private used = 0
  private readonly byKey = new Map<string, number>()
  private readonly waiters = new Set<() => void>()

  constructor (readonly limits: { total: number, perConnection: number }) {}

  /** True while both the connection's share and the total leave room. */
  fits (key: string): boolean {
    return this.used < this.limits.total && (this.byKey.get(key) ?? 0) < this.limits.perConnection
  }

  /** Counts bytes that arrived (they are held whether or not they fit). */
  take (key: string, n: number): void {
    this.used += n
    this.byKey.set(key, (this.byKey.get(key) ?? 0) + n)
  }

  /** Gives bytes back once they were read, and wakes readers that waited for room. */
  release (key: string, n: number): void {
    this.used -= n
    const left = (this.byKey.get(key) ?? 0) - n
    if (left <= 0) this.byKey.delete(key)
    else this.byKey.set(key, left)
    if (this.waiters.size > 0) {
      const list = [...this.waiters]
      this.waiters.clear()
      for (const w of list) w()
    }
  }

  wait (fn: () => void): void {
    this.waiters.add(fn)
  }

  unwait (fn: () => void): void {
    this.waiters.delete(fn)
  }

  /** Bytes held now, in total; for status output and tests. */
  get held (): number {
    return this.used
  }
}

/**
 * The budget every frame stream of the process shares unless given another: 128 MiB in all,
 * 16 MiB per connection (room for a few of the largest frames, a storage shard of 5 MiB).
 */
export const SHARED_READ_BUDGET = new ReadBudget({ total: 128 * 1024 * 1024, perConnection: 16 * 1024 * 1024 })
