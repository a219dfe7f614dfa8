/** One schema change. Migration N (1-based) is `MIGRATIONS[N - 1]`; never edit one that has shipped. */
export interface Migration {
  /** The part that owns the tables, and what the change does. */
  name: string
  sql: string
}

export const MIGRATIONS: Migration[] = [
  {
    name: 'identity: key event log and twin document',
    sql: `
      CREATE TABLE identity_kel (
        seq INTEGER PRIMARY KEY,
        event BLOB NOT NULL
      ) STRICT;
      CREATE TABLE identity_document (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        seq INTEGER NOT NULL,
        document BLOB NOT NULL
      ) STRICT;
    `
  }
]
