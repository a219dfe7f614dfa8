import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { TwinError } from '../errors.js'

/**
 * An exclusive lock on a home folder, so that two processes never run the same twin (or
 * relay): a file created with O_EXCL that holds the owner's pid. A lock whose process is gone
 * is stale and taken over.
 */
export function acquireLock (home: string, what: string): () => void {
  const path = join(home, `${what}.lock`)
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return () => { rmSync(path, { force: true }) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number(readFileSync(path, 'utf8').trim())
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new TwinError('ALREADY_RUNNING', `the ${what} in ${home} is already running (process ${pid}); stop it first`)
      }
      rmSync(path, { force: true })
    }
  }
  throw new TwinError('LOCK_FAILED', `cannot lock ${path}`)
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
