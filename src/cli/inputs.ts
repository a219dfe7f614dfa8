import { createReadStream, readFileSync, statSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { CliError } from './errors.js'
import { normalizePhrase } from '../identity/index.js'

/** Reads a text file named by the user (`-` is stdin) with a clear error when it cannot. */
export function readUserFile (path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8')
  } catch (err) {
    throw new CliError('FILE_UNREADABLE', `cannot read the ${what} ${path}: ${describeFsError(err)}`)
  }
}

/** Reads and checks a recovery phrase from a file (or stdin with `-`). */
export function readPhrase (path: string): string {
  return normalizePhrase(readUserFile(path, 'phrase file'))
}

/** SHA-256 of a file's bytes, streamed so any size works in constant memory. */
export async function hashFile (path: string): Promise<Uint8Array> {
  if (path !== '-') {
    let isDir: boolean
    try {
      isDir = statSync(path).isDirectory()
    } catch (err) {
      throw new CliError('FILE_UNREADABLE', `cannot read ${path}: ${describeFsError(err)}`)
    }
    if (isDir) throw new CliError('FILE_UNREADABLE', `${path} is a folder, not a file`)
  }
  const hash = createHash('sha256')
  const stream = path === '-' ? process.stdin : createReadStream(path)
  try {
    for await (const chunk of stream) hash.update(chunk as Buffer)
  } catch (err) {
    throw new CliError('FILE_UNREADABLE', `cannot read ${path}: ${describeFsError(err)}`)
  }
  return new Uint8Array(hash.digest())
}

export function describeFsError (err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  switch (code) {
    case 'ENOENT': return 'no such file'
    case 'EACCES': case 'EPERM': return 'permission denied'
    case 'EISDIR': return 'it is a folder'
    case 'ENAMETOOLONG': return 'too long for a file name'
    default: return code ?? (err as Error).message
  }
}
