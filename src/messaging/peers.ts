import type { TwinRecord } from '../net/index.js'

/**
 * Which twin runs behind a libp2p peer id, as the twins' verified records say: a connection
 * from a peer this twin has messages for makes those messages due at once.
 */
export class Peers {
  private readonly twins = new Map<string, string>()

  /** Notes the peer of a verified record. */
  learn (record: TwinRecord): void {
    if (record.net.peer !== undefined) this.twins.set(record.net.peer, record.state.id)
  }

  /** The twin whose record names `peer`, if one does. */
  twinOf (peer: string): string | undefined {
    return this.twins.get(peer)
  }
}
