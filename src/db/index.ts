import { closeSync, openSync } from 'node:fs'
import Database from 'better-sqlite3'
import { DbError } from './errors.js'
import { MIGRATIONS, type Migration } from './migrations.js'

export type Db = Database.Database
export type { Migration }
export { DbError, DB_ERRORS, type DbErrorCode } from './errors.js'

/**
 * Opens (creating when asked) the twin's SQLite file and brings its schema up to date.
 *
 * This is the one place that opens the database. Every part adds its tables as numbered
 * migrations in migrations.ts; `PRAGMA user_version` records how many have run. The file is
 * created with mode 0600 (SQLite gives its -wal and -shm files the same mode).
 */
export function openDb (path: string, options: { create?: boolean, readonly?: boolean, migrations?: Migration[] } = {}): Db {
  const migrations = options.migrations ?? MIGRATIONS
  if (options.create === true) closeSync(openSync(path, 'a', 0o600))
  let db: Db
  try {
    db = new Database(path, { fileMustExist: true, readonly: options.readonly === true })
  } catch (err) {
    throw new DbError('DB_OPEN_FAILED', `cannot open the twin's database ${path}: ${(err as Error).message}`, { cause: err })
  }
  try {
    db.pragma('busy_timeout = 5000')
    if (options.readonly !== true) {
      db.pragma('journal_mode = WAL')
      // FULL: a committed transaction survives power loss, which the promise "never lose my data" needs.
      db.pragma('synchronous = FULL')
      db.pragma('foreign_keys = ON')
    }
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > migrations.length) {
      throw new DbError('DB_TOO_NEW', `the twin's database is at schema ${version}, newer than this program knows (${migrations.length}): update twin`)
    }
    if (version < migrations.length) {
      if (options.readonly === true) throw new DbError('DB_OUTDATED', 'the twin\'s database needs an upgrade: run any twin command that writes (for example `twin start`)')
      migrate(db, version, migrations)
    }
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

function migrate (db: Db, from: number, migrations: Migration[]): void {
  for (let i = from; i < migrations.length; i++) {
    const m = migrations[i] as Migration
    db.transaction(() => {
      db.exec(m.sql)
      db.pragma(`user_version = ${i + 1}`)
    }).immediate()
  }
}
