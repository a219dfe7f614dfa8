import { TwinError } from '../errors.js'
import { toHex } from '../wire/index.js'
import type { Resolver } from '../net/index.js'
import type { Channels, Reply } from './channels.js'
import { checkVerb, type Body, type EnvelopeHeader, type Kind } from './envelope.js'
import { MessagingError, RemoteError, RequestTimeoutError } from './errors.js'
import type { Sealer } from './sealer.js'
import type { Timing } from './timing.js'

export interface RequestContext { from: string, verb: string, payload: unknown }
export type Handler = (req: RequestContext) => Promise<unknown> | unknown

/**
 * Requests remembered to run each once: past this many, the expired ones are forgotten, and if
 * that is not enough, the oldest (memory stays bounded; a request replayed after that runs
 * again, as after a restart: docs/PROTOCOL.md §11a).
 */
const SEEN_PRUNE_AT = 50_000

interface Pending { to: string, verb: string, resolve: (v: unknown) => void, reject: (e: unknown) => void }

/**
 * Requests and responses. A request is sent once (direct, else through the recipient's
 * relays) and is answered by a response or an error with its id as correlation id, or fails at
 * its deadline; nothing is stored, since nobody waits for a response after its deadline. A
 * responder runs a request it has seen before (same sender and id) only once.
 */
export class Requests {
  private readonly handlers = new Map<string, Handler>()
  private readonly pending = new Map<string, Pending>()
  /** Requests handled, by `from/id`, with their expiry. */
  private readonly seen = new Map<string, number>()

  constructor (
    private readonly resolver: Resolver,
    private readonly sealer: Sealer,
    private readonly channels: Channels,
    private readonly timing: Timing
  ) {}

  /** Registers the handler of a request verb. */
  handle (verb: string, handler: Handler): void {
    this.handlers.set(checkVerb(verb), handler)
  }

  /** Sends a request and waits for its response until the deadline (`timeoutMs`). */
  async request (to: string, verb: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    checkVerb(verb)
    const deadline = this.timing.now() + timeoutMs
    const record = await this.resolver.resolve(to)
    const sealed = this.sealer.seal(record, 'request', { verb, payload }, { ttlMs: Math.max(1, deadline - this.timing.now()) })
    const key = toHex(sealed.id)
    const result = new Promise<unknown>((resolve, reject) => { this.pending.set(key, { to, verb, resolve, reject }) })
    const cancel = this.timing.schedule(() => { this.settle(key)?.reject(new RequestTimeoutError(verb, timeoutMs)) }, Math.max(0, deadline - this.timing.now()))
    try {
      this.channels.sendOne(record, sealed).catch(err => { this.settle(key)?.reject(err) })
      return await result
    } finally {
      cancel()
    }
  }

  /** The recipient refused request `id` (or something else this twin sent, which is no request). */
  refused (id: Uint8Array, why: string, message: string): void {
    const key = toHex(id)
    const p = this.settle(key)
    p?.reject(new RemoteError('REJECTED', `twin ${p.to} refused the request: ${why}${message === '' ? '' : `: ${message}`}`))
  }

  /** Fails every request still waiting. */
  stop (): void {
    for (const p of this.pending.values()) p.reject(new MessagingError('STOPPING', 'the twin is stopping'))
    this.pending.clear()
  }

  /** Runs the handler of a verified request and sends its response or error back the way it came. */
  onRequest (header: EnvelopeHeader, body: Body, reply: Reply | undefined): void {
    const key = `${header.from}/${toHex(header.id)}`
    if (this.seen.has(key)) return
    this.seen.set(key, header.expires)
    if (this.seen.size > SEEN_PRUNE_AT) this.pruneSeen()
    const { verb, payload } = body as { verb: string, payload: unknown }
    void (async () => {
      const { kind, body: answer } = await this.answer(header.from, verb, payload)
      const record = this.resolver.cached(header.from)
      const ttlMs = header.expires - this.timing.now()
      if (record === undefined || ttlMs <= 0) return // past its deadline, nobody waits for the answer
      const sealed = this.sealer.seal(record, kind, answer, { cid: header.id, ttlMs })
      if (reply !== undefined) reply({ e: sealed.bytes })
      else await this.channels.sendOne(record, sealed)
    })().catch(() => { /* the answer could not be sent: the requester times out at its deadline */ })
  }

  /** Resolves or fails the request a verified response or error answers. */
  onResponse (header: EnvelopeHeader, body: Body): void {
    if (header.cid === null) return
    const key = toHex(header.cid)
    const waiter = this.pending.get(key)
    if (waiter === undefined || waiter.to !== header.from) return // late, or not ours to answer
    this.pending.delete(key)
    if (header.kind === 'response') waiter.resolve((body as { payload: unknown }).payload)
    else {
      const b = body as { code: string, message: string }
      waiter.reject(new RemoteError(b.code, `twin ${header.from} answered ${waiter.verb} with an error: ${b.message} (${b.code})`))
    }
  }

  private async answer (from: string, verb: string, payload: unknown): Promise<{ kind: Kind, body: Body }> {
    const handler = this.handlers.get(verb)
    if (handler === undefined) return { kind: 'error', body: { code: 'UNKNOWN_VERB', message: `this twin does not speak ${verb}` } }
    try {
      return { kind: 'response', body: { payload: await handler({ from, verb, payload }) ?? null } }
    } catch (err) {
      // A handler's own TwinError is meant for the caller; anything else stays inside this twin.
      return { kind: 'error', body: err instanceof TwinError ? { code: err.code, message: err.message } : { code: 'HANDLER_FAILED', message: `the handler of ${verb} failed` } }
    }
  }

  private settle (key: string): Pending | undefined {
    const p = this.pending.get(key)
    this.pending.delete(key)
    return p
  }

  private pruneSeen (): void {
    const now = this.timing.now()
    for (const [k, exp] of this.seen) if (exp <= now) this.seen.delete(k)
    // Still full of unexpired requests (they may live 30 days): forget the oldest tenth.
    if (this.seen.size > SEEN_PRUNE_AT * 0.9) {
      let drop = this.seen.size - Math.floor(SEEN_PRUNE_AT * 0.9)
      for (const k of this.seen.keys()) {
        if (drop-- <= 0) break
        this.seen.delete(k)
      }
    }
  }
}
