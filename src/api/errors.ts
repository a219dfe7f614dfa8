import { HTTP_STATUSES, TwinError, type ErrorCodes, type HttpStatus } from '../errors.js'

/** The codes of the API part's errors, each with its HTTP status (docs/ERRORS.md). */
export const API_ERRORS = {
  BAD_REQUEST: 400, // a body that is not JSON or does not match its schema, or a bad query
  UNAUTHORIZED: 401, // a missing or wrong bearer token
  HOST_NOT_ALLOWED: 403, // a Host header that is not one of the API's loopback names (DNS rebinding)
  NOT_FOUND: 404, // no such route
  BODY_TOO_LARGE: 413, // a request body over 1 MiB
  INTERNAL: 500, // a failure inside the twin; its details go to the twin's stderr, not to the caller
  API_LISTEN_FAILED: 500, // the API cannot listen on its port
  NOT_RUNNING: 503, // (client) no running twin answers for this home
  TIMEOUT: 504, // (client) the twin did not answer in time
  API_ERROR: 502 // (client) the twin answered something that is not an API answer
} as const satisfies ErrorCodes
export type ApiErrorCode = keyof typeof API_ERRORS

/** A request the API refuses, or a running twin the client cannot use. */
export class ApiError extends TwinError {
  declare readonly code: ApiErrorCode
  constructor (code: ApiErrorCode, message: string) {
    super(code, API_ERRORS[code], message)
    this.name = 'ApiError'
  }
}

/**
 * An error the running twin answered with, as the client received it: its code is the twin's
 * (every code the API sends is in a part's list), its status the response's.
 */
export class AnsweredError extends TwinError {
  constructor (code: string, message: string, status?: number) {
    super(code, (HTTP_STATUSES as readonly number[]).includes(status ?? 0) ? status as HttpStatus : API_ERRORS.API_ERROR, message)
    this.name = 'AnsweredError'
  }
}
