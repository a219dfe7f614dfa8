import type { Context } from 'hono'
import type { z } from 'zod'
import { TwinError, type HttpStatus } from '../errors.js'
import { API_ERRORS, ApiError } from './errors.js'

/**
 * The one place where the API turns an error into its answer: `{ error, code }` with the status
 * the code's part lists for it (see src/errors.ts). Unexpected errors are logged here and
 * answered as INTERNAL, without their details.
 */
export function errorAnswer (err: unknown): { status: HttpStatus, body: { error: string, code: string } } {
  if (err instanceof TwinError) return { status: err.status, body: { error: err.message, code: err.code } }
  process.stderr.write(`api: internal error: ${(err as Error)?.stack ?? String(err)}\n`)
  return { status: API_ERRORS.INTERNAL, body: { error: 'internal error', code: 'INTERNAL' } }
}

/** Parses and validates a JSON request body; a bad body is a 400 with what was wrong. */
export async function body<T> (c: Context, schema: z.ZodType<T>): Promise<T> {
  let json: unknown
  try {
    json = await c.req.json()
  } catch {
    throw new ApiError('BAD_REQUEST', 'the request body is not JSON')
  }
  return valid(schema.safeParse(json), 'request')
}

/** Parses and validates the query string; a bad one is a 400 with what was wrong. */
export function query<T> (c: Context, schema: z.ZodType<T>): T {
  return valid(schema.safeParse(c.req.query()), 'query')
}

function valid<T> (parsed: z.ZodSafeParseResult<T>, what: string): T {
  if (!parsed.success) throw new ApiError('BAD_REQUEST', `invalid ${what}: ${parsed.error.issues.map(i => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`)
  return parsed.data
}
