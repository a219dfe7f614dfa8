import { z } from 'zod'
import { BASE_ERRORS } from '../errors.js'
import { NET_ERRORS } from '../net/index.js'
import { MESSAGING_ERRORS } from '../messaging/index.js'
import { SHARD_ERRORS } from '../shards/index.js'
import { STORAGE_NODE_ERRORS } from '../storage/index.js'
import { VAULT_ERRORS } from '../vault/index.js'
import { API_ERRORS } from './errors.js'
import {
  addedPeerSchema, addPeerSchema, callResultSchema, callSchema, errorSchema, inboxSchema, lsResultSchema, movedSchema, mvSchema, outboxSchema, pathSchema, peersResultSchema, putLineSchema, putSchema, removedSchema,
  removePeerSchema, repairResultSchema, sendResultSchema, sendSchema, shardsResultSchema, statusSchema, storageStatusSchema,
  verifyResultSchema, versionsResultSchema
} from './schemas.js'

/** The codes the API's routes answer with, and their statuses: the lists of the parts behind them. */
const CODES = { ...BASE_ERRORS, ...NET_ERRORS, ...MESSAGING_ERRORS, ...SHARD_ERRORS, ...STORAGE_NODE_ERRORS, ...VAULT_ERRORS, ...API_ERRORS }
type Code = keyof typeof CODES

const schema = (s: z.ZodType): object => z.toJSONSchema(s, { unrepresentable: 'any', io: 'input' })
const jsonBody = (s: z.ZodType): object => ({ required: true, content: { 'application/json': { schema: schema(s) } } })
const jsonAnswer = (s: z.ZodType, description: string): object => ({ description, content: { 'application/json': { schema: schema(s) } } })

/**
 * The error responses of a route: its own codes and those every route can answer, grouped by
 * status, each `{ error, code }`.
 */
function errors (codes: Code[], post: boolean): Record<string, object> {
  const all: Code[] = [...(post ? ['BAD_REQUEST', 'BODY_TOO_LARGE'] as const : []), ...codes, 'UNAUTHORIZED', 'HOST_NOT_ALLOWED', 'INTERNAL']
  const byStatus = new Map<number, Code[]>()
  for (const code of new Set(all)) byStatus.set(CODES[code], [...(byStatus.get(CODES[code]) ?? []), code])
  return Object.fromEntries([...byStatus].sort(([a], [b]) => a - b).map(([status, list]) => [status, {
    description: list.join(', '),
    content: { 'application/json': { schema: { ...schema(errorSchema), properties: { error: { type: 'string' }, code: { enum: list } } } } }
  }]))
}

interface Route { summary: string, request?: z.ZodType, query?: object[], ok: object, errors: Code[] }

function operation (post: boolean, r: Route): object {
  return {
    summary: r.summary,
    ...(r.request === undefined ? {} : { requestBody: jsonBody(r.request) }),
    ...(r.query === undefined ? {} : { parameters: r.query }),
    responses: { 200: r.ok, ...errors(r.errors, post) }
  }
}
const get = (r: Route): object => ({ get: operation(false, r) })
const post = (r: Route): object => ({ post: operation(true, r) })
const param = (name: string, description: string, required = false): object => ({ name, in: 'query', required, description, schema: { type: 'string' } })

/** Codes a put reports as its last NDJSON line (the answer has started, with status 200). */
const PUT_ERRORS: Code[] = ['FILE_UNREADABLE', 'FILE_CHANGED', 'PATH_INVALID', 'NO_STORAGE', 'PLACEMENT_FAILED', 'ERASURE_FAILED', 'INTERNAL']
const ADDRESS_ERRORS: Code[] = ['STORAGE_INVITE_INVALID', 'STORAGE_INVITE_EXPIRED', 'ADDRESS_INVALID', 'STORAGE_UNREACHABLE', 'STORAGE_NOT_ADMITTED', 'STORAGE_DENIED']

/** Every route of the API, as the OpenAPI document shows it (test/unit/api.test.ts checks that they are the routes served). */
const paths = (): Record<string, object> => ({
  '/v1/status': get({ summary: 'who the twin is and how it is connected', ok: jsonAnswer(statusSchema, 'status'), errors: [] }),
  '/v1/messages': post({
    summary: 'queue a message to another twin',
    request: sendSchema,
    ok: jsonAnswer(sendResultSchema, 'queued'),
    errors: ['DECODE_FAILED', 'SEND_TO_SELF', 'TWIN_NOT_FOUND', 'VERB_INVALID', 'TTL_INVALID', 'MESSAGE_TOO_LARGE']
  }),
  '/v1/inbox': get({ summary: 'received messages, oldest first', query: [param('limit', 'at most this many (default 100)')], ok: jsonAnswer(inboxSchema, 'messages'), errors: ['BAD_REQUEST'] }),
  '/v1/outbox': get({ summary: 'sent messages and their status', query: [param('limit', 'at most this many (default 100)')], ok: jsonAnswer(outboxSchema, 'messages'), errors: ['BAD_REQUEST'] }),
  '/v1/call': post({
    summary: 'send a request and wait for its response',
    request: callSchema,
    ok: jsonAnswer(callResultSchema, 'the response'),
    errors: ['DECODE_FAILED', 'VERB_INVALID', 'TWIN_NOT_FOUND', 'MESSAGE_TOO_LARGE', 'UNREACHABLE', 'TIMEOUT', 'REMOTE_ERROR', 'STOPPING']
  }),
  '/v1/stream': get({ summary: 'live events (server-sent events): message, outbox', ok: { description: 'text/event-stream' }, errors: [] }),
  '/v1/openapi.json': get({ summary: 'this document', ok: { description: 'the OpenAPI 3.1 document' }, errors: [] }),

  '/v1/vault/put': post({
    summary: 'store a file or a folder of this machine in the vault',
    request: putSchema,
    ok: {
      description: `progress, then the result, as newline-delimited JSON; a failure after the answer has started is its last line, { error, code } with code one of ${PUT_ERRORS.join(', ')}`,
      content: { 'application/x-ndjson': { schema: schema(putLineSchema) } }
    },
    errors: []
  }),
  '/v1/vault/file': get({
    summary: 'the bytes of a file (its latest version, or the one asked)',
    query: [param('path', 'the file\'s path in the vault', true), param('version', 'a version number (default: the latest)')],
    ok: {
      description: 'the file\'s bytes; x-twin-size and x-twin-version say which',
      headers: { 'x-twin-size': { schema: { type: 'integer' } }, 'x-twin-version': { schema: { type: 'integer' } } },
      content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }
    },
    errors: ['BAD_REQUEST', 'PATH_INVALID', 'NOT_FOUND', 'CHUNK_LOST', 'CHUNK_CORRUPT', 'INDEX_DAMAGED']
  }),
  '/v1/vault/ls': get({ summary: 'the files under a folder', query: [param('path', 'the folder (default /)')], ok: jsonAnswer(lsResultSchema, 'files'), errors: ['PATH_INVALID'] }),
  '/v1/vault/versions': get({ summary: 'every version of a file', query: [param('path', 'the file', true)], ok: jsonAnswer(versionsResultSchema, 'versions, deletions included'), errors: ['PATH_INVALID', 'NOT_FOUND'] }),
  '/v1/vault/rm': post({ summary: 'delete a file (its earlier versions stay readable)', request: pathSchema, ok: jsonAnswer(removedSchema, 'removed'), errors: ['PATH_INVALID', 'NOT_FOUND'] }),
  '/v1/vault/mv': post({ summary: 'move a file', request: mvSchema, ok: jsonAnswer(movedSchema, 'moved'), errors: ['PATH_INVALID', 'NOT_FOUND'] }),
  '/v1/vault/shards': get({ summary: 'where every shard lives, and whether an index snapshot is pending', ok: jsonAnswer(shardsResultSchema, 'shards'), errors: [] }),
  '/v1/vault/verify': post({ summary: 'download and check every shard', ok: jsonAnswer(verifyResultSchema, 'what was found'), errors: [] }),
  '/v1/vault/repair': post({ summary: 'rebuild missing or damaged shards', ok: jsonAnswer(repairResultSchema, 'what was repaired'), errors: [] }),
  '/v1/storage/status': get({ summary: 'storage peers, file health and the estimated durability', ok: jsonAnswer(storageStatusSchema, 'status'), errors: [] }),
  '/v1/storage/ls': get({ summary: 'the storage peers', ok: jsonAnswer(peersResultSchema, 'peers'), errors: [] }),
  '/v1/storage/add': post({ summary: 'add a storage node, from an invite or a multiaddr', request: addPeerSchema, ok: jsonAnswer(addedPeerSchema, 'added'), errors: ADDRESS_ERRORS }),
  '/v1/storage/remove': post({ summary: 'stop using a storage peer (repair moves its shards)', request: removePeerSchema, ok: jsonAnswer(removedSchema, 'removed'), errors: ['NOT_FOUND'] })
})

/** The OpenAPI 3.1 document of the API, generated from the same zod schemas that validate it and the parts' lists of error codes. */
export function openApi (): object {
  return {
    openapi: '3.1.0',
    info: { title: 'Twin local API', version: '1', description: 'The running twin\'s API, on 127.0.0.1, with the bearer token from api.json in the twin\'s home. Requests must be addressed to 127.0.0.1:PORT, localhost:PORT or [::1]:PORT (else 403 HOST_NOT_ALLOWED); request bodies are at most 1 MiB (else 413 BODY_TOO_LARGE). Every error is { error, code }; docs/ERRORS.md says what each code means.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: paths()
  }
}
