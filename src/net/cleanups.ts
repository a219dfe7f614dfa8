/**
 * What a running role (twin, relay, storage node) has to release, released in reverse order.
 * A start that fails half-way runs it too, so it leaves nothing behind; running it twice does
 * nothing the second time.
 */
export class Cleanups {
  private list: Array<() => unknown> = []
  private done = false

  add (fn: () => unknown): void {
    this.list.push(fn)
  }

  async run (): Promise<void> {
    if (this.done) return
    this.done = true
    for (const fn of this.list.reverse()) {
      try { await fn() } catch { /* keep releasing the rest */ }
    }
    this.list = []
  }
}
