import { timingSafeEqual } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { AddressInfo } from 'node:net'
import { Hono, type Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import { bodyLimit } from 'hono/body-limit'
import { serve } from '@hono/node-server'
import type { z } from 'zod'
import { API_ERRORS, ApiError, type ApiErrorCode } from './errors.js'
import { body, errorAnswer, query } from './http.js'
import { openApi } from './openapi.js'
import {
  callSchema, inboxSchema, listQuerySchema, outboxSchema, sendResultSchema, sendSchema, statusSchema, type CallBody, type SendBody
} from './schemas.js'

/** What the HTTP API needs from the running twin. */
export interface ApiBackend {
  status: () => z.infer<typeof statusSchema>
  send: (body: SendBody) => Promise<z.infer<typeof sendResultSchema>>
  inbox: (limit: number) => z.infer<typeof inboxSchema>
  outbox: (limit: number) => z.infer<typeof outboxSchema>
  call: (body: CallBody) => Promise<unknown>
  /** Emits 'message' and 'outbox' events for the live stream. */
  events: EventEmitter
}

function fail (c: Context, code: ApiErrorCode, error: string): Response {
  return c.json({ error, code }, API_ERRORS[code])
}

/**
 * The largest request body the API reads: a JSON body is small (a message envelope is at most
 * 256 KiB, its JSON form a little more), and files reach the vault by path, not through the API.
 */
export const MAX_BODY_BYTES = 1024 * 1024

/** The names a browser may use for the API on loopback: only these, with the API's own port. */
export function loopbackHosts (port: number): ReadonlySet<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
}

/** Who may call the API: the bearer token, and the host names a request may be addressed to. */
export interface ApiAccess {
  token: string
  /**
   * The Host header values this listener answers (lower case, with the port). A page on another
   * name that resolves to 127.0.0.1 (DNS rebinding) sends its own name, and is refused. A getter,
   * since the port of a listener on port 0 is known only once it listens.
   */
  hosts: () => ReadonlySet<string>
}

/**
 * The API: JSON over HTTP on 127.0.0.1, every route behind the bearer token. Checked in this
 * order, each before anything else is read: the Host (DNS rebinding), the token, the body size.
 */
export function createApi (backend: ApiBackend, access: ApiAccess): Hono {
  const app = new Hono()
  const expected = Buffer.from(`Bearer ${access.token}`)
  app.use('*', async (c, next) => {
    const host = (c.req.header('host') ?? '').toLowerCase()
    if (!access.hosts().has(host)) {
      const shown = host === '' ? 'no Host header' : `Host "${host.slice(0, 100)}"`
      return fail(c, 'HOST_NOT_ALLOWED', `${shown} is not a name of this API (it answers only ${[...access.hosts()].join(', ')}): requests through other names are refused, as a page could use them to reach the twin (DNS rebinding)`)
    }
    const given = Buffer.from(c.req.header('authorization') ?? '')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return fail(c, 'UNAUTHORIZED', 'missing or wrong bearer token')
    await next()
  })
  // A declared Content-Length over the limit is refused from the header; a chunked body is
  // counted as it streams and refused as soon as it passes the limit, so no more is kept. What
  // the client still sends of a refused body is read and dropped by @hono/node-server (at most
  // 64 MiB or 500 ms, then it closes the connection), so the client sees the answer.
  app.use('*', bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: c => fail(c, 'BODY_TOO_LARGE', `the request body is larger than the API's limit of ${MAX_BODY_BYTES} bytes (1 MiB)`)
  }))
  app.onError((err, c) => {
    const answer = errorAnswer(err)
    return c.json(answer.body, answer.status)
  })
  app.notFound(c => fail(c, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`))

  app.get('/v1/status', c => c.json(backend.status()))
  app.post('/v1/messages', async c => c.json(await backend.send(await body(c, sendSchema))))
  app.get('/v1/inbox', c => c.json(backend.inbox(query(c, listQuerySchema).limit ?? 100)))
  app.get('/v1/outbox', c => c.json(backend.outbox(query(c, listQuerySchema).limit ?? 100)))
  app.post('/v1/call', async c => c.json({ response: await backend.call(await body(c, callSchema)) ?? null }))
  app.get('/v1/stream', c => streamSSE(c, async stream => {
    const forward = (type: string) => (data: unknown) => { void stream.writeSSE({ event: type, data: JSON.stringify(data, jsonBytes) }) }
    const onMessage = forward('message')
    const onOutbox = forward('outbox')
    backend.events.on('message', onMessage)
    backend.events.on('outbox', onOutbox)
    await new Promise<void>(resolve => { stream.onAbort(resolve) })
    backend.events.off('message', onMessage)
    backend.events.off('outbox', onOutbox)
  }))
  app.get('/v1/openapi.json', c => c.json(openApi()))
  return app
}

/** JSON.stringify replacer: bytes as hex. */
export function jsonBytes (_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value
}

/** Serves the API on 127.0.0.1; resolves with the port and a close function. */
export async function listenApi (app: Hono, port: number): Promise<{ port: number, close: () => Promise<void> }> {
  return await new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, info => {
      resolve({
        port: (info as AddressInfo).port,
        close: async () => { await new Promise<void>(r => { server.close(() => { r() }); (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.() }) }
      })
    })
    server.once('error', err => { reject(new ApiError('API_LISTEN_FAILED', `cannot listen on 127.0.0.1:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)) })
  })
}
