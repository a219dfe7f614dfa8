import type { Migration } from '../db/index.js'

/**
 * The storage node's own database (`<home>/storage.db`): whom it admits, how much each uses,
 * the invites it gave out, and what its operator's commands need to know about the running
 * node (addresses, shard folder, default quota). Never edit a migration that has shipped.
 */
export const STORAGE_MIGRATIONS: Migration[] = [
  {
    name: 'storage node: admitted twins and their usage, invites, settings',
    sql: `
      CREATE TABLE clients (
        twin TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('admitted', 'denied')),
        how TEXT NOT NULL CHECK (how IN ('allow', 'invite', 'open', 'existing', 'deny')),
        quota INTEGER,
        used INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
        since INTEGER NOT NULL,
        changed INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE invites (
        hash BLOB PRIMARY KEY,
        quota INTEGER,
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        redeemed_by TEXT,
        redeemed_at INTEGER
      ) STRICT;
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
    `
  }
]
