import { UcanError } from './errors.js'

/**
 * Commands (UCAN spec, "Command" and "Segment Structure"): lower case, starting with `/`,
 * segments separated by single slashes, no trailing slash; `/` alone is "top", every command.
 * A shorter command proves every longer one below it: `/vault` covers `/vault/read` but not
 * `/vaults` (delegation spec, "Command").
 */
export const MAX_COMMAND_LENGTH = 256

/** Throws a `UcanError` unless `cmd` is a well-formed command. */
export function checkCommand (cmd: unknown, what = 'the command'): string {
  if (typeof cmd !== 'string') throw new UcanError(`${what} must be a string`)
  if (cmd.length === 0 || cmd.length > MAX_COMMAND_LENGTH) throw new UcanError(`${what} must have 1 to ${MAX_COMMAND_LENGTH} characters`)
  if (!cmd.startsWith('/')) throw new UcanError(`${what} must start with "/"`)
  if (cmd !== '/' && (cmd.endsWith('/') || cmd.includes('//'))) throw new UcanError(`${what} must not have an empty segment or a trailing "/"`)
  if (cmd !== cmd.toLowerCase()) throw new UcanError(`${what} must be lower case`)
  return cmd
}

/** True if authority over `granted` includes `wanted` (both well-formed commands). */
export function commandCovers (granted: string, wanted: string): boolean {
  return granted === '/' || wanted === granted || wanted.startsWith(granted + '/')
}
