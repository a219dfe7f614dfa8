// The fs part's public surface: files written atomically and the one-process lock of a home
// folder, shared by every role (twin, relay, storage node). It knows no role's layout.
export { writeFileAtomic, syncDir } from './atomic.js'
export { acquireLock } from './lock.js'
export { FsError, FS_ERRORS, type FsErrorCode } from './errors.js'
