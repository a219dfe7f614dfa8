import { VaultError } from './errors.js'

/** Checks and normalizes a vault path: absolute, no empty, `.` or `..` parts, no control characters. */
export function vaultPath (input: string): string {
  if (typeof input !== 'string' || input.trim() === '') throw new VaultError('PATH_INVALID', 'a vault path cannot be empty')
  if (input.length > 4096) throw new VaultError('PATH_INVALID', 'a vault path has at most 4096 characters')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(input)) throw new VaultError('PATH_INVALID', `"${input}" has a control character or a backslash`)
  const parts = input.split('/').filter((p, i) => !(i === 0 && p === ''))
  if (parts.some(p => p === '..' || p === '.')) throw new VaultError('PATH_INVALID', `"${input}": a vault path cannot contain . or .. parts`)
  if (parts.length === 0 || parts.some(p => p === '')) throw new VaultError('PATH_INVALID', `"${input}" is not a file path (empty part)`)
  return '/' + parts.join('/')
}
