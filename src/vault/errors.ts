import { TwinError } from '../errors.js'

/** Why erasure coding refused its input; `reason` is stable, the message says it in words. */
export type ErasureFailure =
  | 'bad-parameters' | 'bad-input' | 'too-large' | 'too-few-shards' | 'shard-size' | 'native-unavailable'

/** Shards that cannot be encoded or decoded as asked: bad (k, m), wrong sizes, too few shards. */
export class ErasureError extends TwinError {
  readonly reason: ErasureFailure
  constructor (reason: ErasureFailure, message: string, options?: { cause?: unknown }) {
    super('ERASURE_FAILED', message, options)
    this.name = 'ErasureError'
    this.reason = reason
  }
}
