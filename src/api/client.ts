import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import type { TwinError } from '../errors.js'
import { AnsweredError, ApiError } from './errors.js'

/** Where a running twin's API listens, written to `<home>/api.json` (mode 0600) while it runs. */
export const apiFileSchema = z.strictObject({ url: z.string(), token: z.string(), pid: z.number().int() })
export type ApiFile = z.infer<typeof apiFileSchema>

export function apiFilePath (home: string): string {
  return join(home, 'api.json')
}

function notRunning (home: string): ApiError {
  return new ApiError('NOT_RUNNING', `the twin in ${home} is not running (start it with \`twin start --home ${home}\`)`)
}

/** Sends a request to the running twin's API and returns the raw response (for streams). */
export async function fetchApi (home: string, method: 'GET' | 'POST', path: string, body?: unknown, options: { timeoutMs?: number } = {}): Promise<Response> {
  let file: ApiFile
  try {
    file = apiFileSchema.parse(JSON.parse(readFileSync(apiFilePath(home), 'utf8')))
  } catch {
    throw notRunning(home)
  }
  try {
    return await fetch(file.url + path, {
      method,
      headers: { authorization: `Bearer ${file.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) })
    })
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') throw new ApiError('TIMEOUT', 'the twin did not answer in time')
    throw notRunning(home)
  }
}

/** Turns an error response of the API into a TwinError. */
export async function apiError (res: Response): Promise<TwinError> {
  const text = await res.text()
  try {
    const e = JSON.parse(text) as { error?: string, code?: string }
    return new AnsweredError(e.code ?? 'API_ERROR', e.error ?? `HTTP ${res.status}`, res.status)
  } catch {
    return new ApiError('API_ERROR', `the twin answered HTTP ${res.status}`)
  }
}

/** Calls the running twin's API; says plainly when it is not running. */
export async function callApi (home: string, method: 'GET' | 'POST', path: string, body?: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
  const res = await fetchApi(home, method, path, body, { timeoutMs: options.timeoutMs ?? 600_000 })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ApiError('API_ERROR', `the twin answered HTTP ${res.status} without JSON`)
  }
  if (!res.ok) {
    const e = json as { error?: string, code?: string }
    throw new AnsweredError(e.code ?? 'API_ERROR', e.error ?? `HTTP ${res.status}`, res.status)
  }
  return json
}
