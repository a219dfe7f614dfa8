import { chmodSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { LocalTwinError } from './errors.js'

/** Files in a twin's home folder. */
export interface HomePaths {
  home: string
  db: string
  keys: string
}

export function homePaths (home: string): HomePaths {
  return { home, db: join(home, 'twin.db'), keys: join(home, 'keys.json') }
}

/** The home folder: `--home`, else `$TWIN_HOME`, else `~/.twin`. */
export function resolveHome (flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env.TWIN_HOME
  return resolve(chosen !== undefined && chosen !== '' ? chosen : join(homedir(), '.twin'))
}

// Files an interrupted `init` or `restore` may leave behind before twin.db exists.
const LEFTOVERS = new Set(['keys.json', 'keys.json.tmp', 'twin.db.new', 'twin.db.new-wal', 'twin.db.new-shm', 'twin.db.new-journal'])

/**
 * Prepares an empty, private (0700) folder for a new twin. Refuses a folder that holds a twin,
 * or anything else, so a typo in `--home` cannot mix a twin into unrelated files.
 */
export function prepareNewHome (home: string): HomePaths {
  const paths = homePaths(home)
  let entries: string[] | undefined
  try {
    entries = readdirSync(home)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR') throw new LocalTwinError('HOME_INVALID', `${home} is a file, not a folder`)
    if (code !== 'ENOENT') throw new LocalTwinError('HOME_INVALID', `cannot read ${home}: ${code ?? 'error'}`)
  }
  if (entries !== undefined) {
    if (entries.includes('twin.db')) throw new LocalTwinError('HOME_HAS_TWIN', `${home} already holds a twin; nothing was changed`)
    const others = entries.filter(e => !LEFTOVERS.has(e))
    if (others.length > 0) throw new LocalTwinError('HOME_NOT_EMPTY', `${home} is not empty; choose an empty or new folder for a twin`)
    for (const e of entries) rmSync(join(home, e), { force: true })
  }
  mkdirSync(home, { recursive: true, mode: 0o700 })
  // mkdir's mode applies only to a folder it creates: an existing empty folder keeps its own
  // (often 0755, or 0777), and its keys would then sit in a folder others can list.
  try {
    chmodSync(home, 0o700)
  } catch (err) {
    throw new LocalTwinError('HOME_INVALID', `cannot make ${home} private (mode 0700): ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  return paths
}

/**
 * Makes an existing home private (0700) if its mode lets others in, e.g. a twin made by an
 * older version in a folder that was 0755. A folder this user cannot chmod is refused.
 */
export function tightenHome (home: string): void {
  let mode: number
  try {
    mode = statSync(home).mode
  } catch (err) {
    throw new LocalTwinError('HOME_INVALID', `cannot read ${home}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  if ((mode & 0o077) === 0) return
  try {
    chmodSync(home, 0o700)
  } catch (err) {
    throw new LocalTwinError('HOME_INVALID', `${home} can be read by other users (mode ${(mode & 0o777).toString(8)}) and cannot be made private: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
}

/** Checks that `home` holds a twin and returns its paths. */
export function existingHome (home: string): HomePaths {
  const paths = homePaths(home)
  try {
    statSync(paths.db)
  } catch {
    throw new LocalTwinError('NOT_A_TWIN', `no twin in ${home} (create one with \`twin init --home ${home}\`)`)
  }
  return paths
}
