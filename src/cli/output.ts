import { isTwinError } from '../errors.js'

/** Prints a command's result: one JSON object with `--json`, else the text lines. */
export function emit (json: boolean | undefined, value: object, text: () => string): void {
  process.stdout.write(json === true ? JSON.stringify(value) + '\n' : text() + '\n')
}

/** Writes a warning line to stderr (never to stdout, which scripts parse). */
export function warn (message: string): void {
  process.stderr.write(`warning: ${message}\n`)
}

/**
 * The one place that turns an error into what the user sees: one line on stderr and an exit
 * code. Errors Twin raises on purpose carry a safe message; anything else is an internal error
 * whose details go to stderr only with TWIN_DEBUG=1.
 */
export function reportError (err: unknown, json: boolean): number {
  if (isTwinError(err)) {
    if (json) process.stdout.write(JSON.stringify({ error: err.message, code: err.code }) + '\n')
    process.stderr.write(`twin: ${err.message}\n`)
    return 1
  }
  const message = err instanceof Error ? err.message : String(err)
  if (json) process.stdout.write(JSON.stringify({ error: `internal error: ${message}`, code: 'INTERNAL' }) + '\n')
  process.stderr.write(`twin: internal error: ${message}\n`)
  if (process.env.TWIN_DEBUG === '1' && err instanceof Error && err.stack !== undefined) process.stderr.write(err.stack + '\n')
  return 70
}
