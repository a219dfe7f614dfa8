/** One ordered request stream (RequestStream): requests are answered in the order they were sent. */
export interface Lane {
  request: (frame: unknown) => Promise<unknown>
  close: () => void
}

/**
 * Requests to one storage node spread over a few streams of the same connection. A node
 * handles the requests of one stream one after another (read, check the address, write,
 * fsync), so with a single stream the node waits on its disk while the twin's next requests
 * wait behind it, and the twin's reads arrive one shard at a time. A new lane opens only once
 * the first one worked (an invite's secret is shown once) and every open lane is busy.
 */
export class Lanes {
  private readonly lanes: Array<{ lane: Lane, busy: number }> = []
  private opened = false

  constructor (private readonly open: () => Lane, private readonly max: number) {}

  async request (frame: unknown): Promise<unknown> {
    const entry = this.pick()
    entry.busy++
    try {
      const reply = await entry.lane.request(frame)
      this.opened = true
      return reply
    } finally {
      entry.busy--
    }
  }

  /** Streams open or opening (for tests and reports). */
  get size (): number {
    return this.lanes.length
  }

  close (): void {
    for (const l of this.lanes.splice(0)) l.lane.close()
    this.opened = false
  }

  /** The least busy lane; a new one when all are busy and there is room. */
  private pick (): { lane: Lane, busy: number } {
    let best = this.lanes[0]
    for (const l of this.lanes) if (l.busy < (best as { busy: number }).busy) best = l
    if (best === undefined || (best.busy > 0 && this.opened && this.lanes.length < this.max)) {
      best = { lane: this.open(), busy: 0 }
      this.lanes.push(best)
    }
    return best
  }
}
