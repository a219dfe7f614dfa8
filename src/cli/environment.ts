import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs'

// Sanity bound on the environment block (Linux allows at most a quarter of the stack limit for
// arguments and environment together, 2 MiB with the usual 8 MiB stack).
const MAX_ENV_BLOCK = 16 * 1024 * 1024

/**
 * Removes a variable from this process's environment, also where other processes of the same
 * user can read it: /proc/PID/environ on Linux. Returns true if it is gone from there too,
 * false if only `process.env` changed. Never throws: a twin must start even where this fails.
 *
 * Why it takes more than `delete process.env[name]`: that calls unsetenv(), which drops the
 * variable from libc's `environ` array, but /proc/PID/environ shows the environment block the
 * kernel copied into the process at exec (from `env_start` to `env_end` in /proc/PID/stat), and
 * that memory is not changed. Node 20 cannot exec itself again with a smaller environment.
 * So, on Linux, after unsetenv the variable's bytes in that block are overwritten with NUL
 * bytes through /proc/self/mem (a process may write its own memory). Nothing is moved, so the
 * pointers libc keeps to the other variables in the block stay valid; readers of environ see
 * a run of empty entries where the variable was. Elsewhere only `process.env` changes.
 */
export function removeFromEnvironment (name: string): boolean {
  delete process.env[name]
  if (process.platform !== 'linux') return false
  try {
    scrubInitialEnvironment(name)
    return !environHas(name)
  } catch {
    // /proc missing, or writes to /proc/self/mem refused (some sandboxes): the variable is
    // still gone from process.env, which is all that is possible there.
    return false
  }
}

function scrubInitialEnvironment (name: string): void {
  const stat = readFileSync('/proc/self/stat', 'latin1')
  // Field 2, the command name, is in parentheses and may contain spaces or parentheses: count
  // from the last ')'. The next field is field 3; env_start and env_end are fields 50 and 51.
  const fields = stat.slice(stat.lastIndexOf(')') + 1).trim().split(' ')
  // fs.writeSync takes a position only as a number; the stack that holds the block lies below
  // 2^48 on 64-bit Linux (higher addresses only for mappings that ask for them), so it fits.
  const start = Number(fields[50 - 3])
  const end = Number(fields[51 - 3])
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start || end - start > MAX_ENV_BLOCK) throw new Error('no environment block')
  const fd = openSync('/proc/self/mem', 'r+')
  try {
    const block = Buffer.alloc(end - start)
    if (readSync(fd, block, 0, block.length, start) !== block.length) throw new Error('short read')
    const prefix = Buffer.from(`${name}=`, 'latin1')
    for (let at = 0; at < block.length;) {
      let nul = block.indexOf(0, at)
      if (nul === -1) nul = block.length
      if (nul - at >= prefix.length && block.subarray(at, at + prefix.length).equals(prefix)) {
        writeSync(fd, Buffer.alloc(nul - at), 0, nul - at, start + at)
      }
      at = nul + 1
    }
  } finally {
    closeSync(fd)
  }
}

/** True if /proc/self/environ still lists the variable. */
function environHas (name: string): boolean {
  return readFileSync('/proc/self/environ').toString('latin1').split('\0').some(e => e.startsWith(`${name}=`))
}
