import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FsError } from './errors.js'

/**
 * An exclusive lock on a home folder, so that two processes never run the same twin (or
 * relay): a file `<what>.lock` that holds the owner's pid. It is written under a temporary
 * name and link()ed into place, which fails if the lock exists: the lock file therefore never
 * exists without its pid, and a racing starter always reads a whole one. A lock whose process
 * is gone is stale and taken over (see `takeOver`).
 */
export function acquireLock (home: string, what: string): () => void {
  const path = join(home, `${what}.lock`)
  const mine = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
  writeFileSync(mine, String(process.pid), { mode: 0o600 })
  try {
    for (let tries = 0; tries < 3; tries++) {
      if (tryLink(mine, path)) return () => { rmSync(path, { force: true }) }
      const owner = ownerOf(path)
      if (owner !== undefined && alive(owner)) {
        throw new FsError('ALREADY_RUNNING', `the ${what} in ${home} is already running (process ${owner}); stop it first`)
      }
      if (!takeOver(path, owner, mine)) {
        throw new FsError('ALREADY_RUNNING', `another process is starting the ${what} in ${home} right now; stop it first`)
      }
    }
  } finally {
    rmSync(mine, { force: true })
  }
  throw new FsError('LOCK_FAILED', `cannot lock ${path}: other processes keep taking it`)
}

/**
 * Removes a stale lock (its process is gone, or its content is not a pid, as an older version
 * could leave) while holding `<lock>.stale`, taken the same way, so that two starters that both
 * found it stale cannot each remove the other's new lock: only one removes, and only if the lock
 * still holds the pid found stale. A `.stale` file left by a process that died in these few
 * lines is removed too. Returns false if a live process is taking it over.
 */
function takeOver (path: string, stale: number | undefined, mine: string): boolean {
  const guard = `${path}.stale`
  if (!tryLink(mine, guard)) {
    const holder = ownerOf(guard)
    if (holder !== undefined && alive(holder)) return false
    rmSync(guard, { force: true })
    return true // look again
  }
  try {
    if (ownerOf(path) === stale) rmSync(path, { force: true })
  } finally {
    rmSync(guard, { force: true })
  }
  return true
}

/** link(2) is atomic and refuses to replace an existing file: false when `to` exists. */
function tryLink (from: string, to: string): boolean {
  try {
    linkSync(from, to)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

/** The pid in a lock file; undefined if it is missing or holds no pid. */
function ownerOf (path: string): number | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    // Gone since we looked: the caller looks again.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const pid = Number(text.trim())
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
