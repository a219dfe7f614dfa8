import { z } from 'zod'

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
  connections: z.number(), outbox: z.record(z.string(), z.number()), inbox: z.number()
})
export const callResultSchema = z.object({ response: z.unknown() })
export const errorSchema = z.object({ error: z.string(), code: z.string() })

export type SendBody = z.infer<typeof sendSchema>
export type CallBody = z.infer<typeof callSchema>
