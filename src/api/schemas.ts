import { z } from 'zod'
import { MAX_INVITE_CHARS } from '../storage/index.js'

/** Request and response bodies of the HTTP API; the CLI and the server share them. */
export const twinIdSchema = z.string().min(1).max(120).describe('a twin id (b...) or did:twin:<id>')

export const sendSchema = z.strictObject({
  to: twinIdSchema,
  text: z.string().max(64 * 1024).optional().describe('shorthand for verb chat.message with payload { text }'),
  verb: z.string().max(128).optional(),
  payload: z.unknown().optional(),
  ttlSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional()
}).refine(b => (b.text === undefined) !== (b.verb === undefined), 'give either text, or verb and payload')

export const callSchema = z.strictObject({
  to: twinIdSchema,
  verb: z.string().min(1).max(128),
  payload: z.unknown().optional(),
  timeoutMs: z.number().int().min(1).max(300_000).optional()
})

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100_000).optional()
})

export const sendResultSchema = z.object({ id: z.string(), status: z.string() })
export const inboxSchema = z.object({
  messages: z.array(z.object({
    id: z.string(), from: z.string(), name: z.string(), verb: z.string(), text: z.string().nullable(), payload: z.unknown(),
    seq: z.number(), sentAt: z.string(), receivedAt: z.string(),
    arrival: z.number().describe('1, 2, 3... in the order this twin stored its inbound messages')
  }))
})
export const outboxSchema = z.object({
  messages: z.array(z.object({
    id: z.string(), to: z.string(), verb: z.string(), text: z.string().nullable(), seq: z.number(), status: z.string(),
    attempts: z.number(), error: z.string().nullable(), createdAt: z.string(), updatedAt: z.string()
  }))
})
export const statusSchema = z.object({
  id: z.string(), name: z.string(), peerId: z.string(), addresses: z.array(z.string()), relays: z.array(z.object({ address: z.string(), connected: z.boolean() })),
  connections: z.number(),
  links: z.array(z.object({
    peer: z.string(), path: z.enum(['direct', 'relayed']), transport: z.enum(['tcp', 'websockets', 'other']),
    address: z.string(), direction: z.enum(['inbound', 'outbound']), opened: z.string()
  })),
  reachability: z.enum(['unknown', 'public', 'nat', 'relayed-only']).describe('public: relays see this twin at its own address; nat: behind NAT, relayed connections are upgraded by hole punching; relayed-only: hole punching failed, relays carry everything; unknown: no relay answered yet'),
  observed: z.array(z.string()).describe('where relays see this twin\'s hole-punching port (host:port)'),
  outbox: z.record(z.string(), z.number()), inbox: z.number()
})
export const callResultSchema = z.object({ response: z.unknown() })
export const errorSchema = z.object({ error: z.string(), code: z.string() })

export type SendBody = z.infer<typeof sendSchema>
export type CallBody = z.infer<typeof callSchema>

// The vault's routes (src/api/vault-routes.ts).
const vaultPathText = z.string().max(4096)
export const putSchema = z.strictObject({
  file: z.string().min(1).max(4096).describe('a file or folder on this machine'),
  as: vaultPathText.optional().describe('its path in the vault (default: /<its name>)')
})
export const pathSchema = z.strictObject({ path: vaultPathText })
export const mvSchema = z.strictObject({ from: vaultPathText, to: vaultPathText })
export const addPeerSchema = z.strictObject({ address: z.string().min(1).max(MAX_INVITE_CHARS).describe('an invite (twinnode1...) or a multiaddr ending in /p2p/<peer id>') })
export const removePeerSchema = z.strictObject({ id: z.string().min(1).max(200) })
export const fileQuerySchema = z.object({ path: vaultPathText, version: z.coerce.number().int().min(1).optional() })

export const entrySchema = z.object({ path: z.string(), size: z.number(), modified: z.string(), version: z.number(), hash: z.string().describe('SHA-256 of the file, hex') })
export const putResultSchema = z.object({ path: z.string(), size: z.number(), hash: z.string(), version: z.number() })
export const putLineSchema = z.union([
  z.object({ progress: z.object({ path: z.string(), done: z.number(), total: z.number().optional() }) }),
  z.object({ result: z.array(putResultSchema) }),
  errorSchema
]).describe('one line of newline-delimited JSON: progress lines, then the result or an error')
export const lsResultSchema = z.object({ entries: z.array(entrySchema) })
export const versionsResultSchema = z.object({ versions: z.array(entrySchema.extend({ deleted: z.boolean() })) })
export const removedSchema = z.object({ removed: z.string() })
export const movedSchema = z.object({ from: z.string(), to: z.string() })
export const shardsResultSchema = z.object({
  shards: z.array(z.object({ chunk: z.string(), idx: z.number(), addr: z.string(), peer: z.string(), status: z.enum(['ok', 'missing', 'corrupt']), size: z.number().optional() })),
  snapshot: z.array(z.object({ addr: z.string(), peer: z.string() })),
  snapshotPending: z.boolean(),
  reads: z.object({ chunks: z.number(), decoded: z.number() })
})
export const verifyResultSchema = z.object({ checked: z.number(), ok: z.number(), missing: z.number(), corrupt: z.number() })
export const repairResultSchema = z.object({ repaired: z.number(), failed: z.number() })
export const storageStatusSchema = z.object({
  peers: z.array(z.object({
    id: z.string(), address: z.string(), kind: z.string(), online: z.boolean(), used: z.number().nullable(), quota: z.number().nullable(),
    problem: z.string().nullable(), availability: z.number().nullable()
  })),
  files: z.number(),
  healthy: z.number(),
  degraded: z.number(),
  lost: z.number(),
  durability: z.number().describe('estimated nines of annual durability'),
  code: z.object({ k: z.number(), m: z.number() }),
  oneMachine: z.boolean(),
  note: z.string()
})
export const peersResultSchema = z.object({ peers: z.array(z.object({ id: z.string(), address: z.string(), kind: z.string() })) })
export const addedPeerSchema = z.object({ id: z.string(), address: z.string() })
