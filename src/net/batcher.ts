/**
 * Collects items that arrive close together and hands them to `process` as one batch, so that
 * many messages share one SQLite transaction (one fsync) instead of paying one each. Each
 * `push` resolves with its own item's result. Batches run one at a time, in arrival order.
 */
export class Batcher<T, R> {
  private queue: Array<{ item: T, resolve: (r: R) => void, reject: (e: unknown) => void }> = []
  private running = false

  constructor (private readonly process: (items: T[]) => Promise<R[]> | R[], private readonly maxBatch = 512) {}

  async push (item: T): Promise<R> {
    return await new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      if (!this.running) {
        this.running = true
        setImmediate(() => { void this.drain() })
      }
    })
  }

  private async drain (): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch)
      try {
        const results = await this.process(batch.map(b => b.item))
        batch.forEach((b, i) => { b.resolve(results[i] as R) })
      } catch (err) {
        for (const b of batch) b.reject(err)
      }
    }
    this.running = false
  }
}
