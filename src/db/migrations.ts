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
  },
  {
    name: 'net and messaging: record cache, settings, outbox, inbox, seen ids, pair sequences',
    sql: `
      CREATE TABLE net_records (
        id TEXT PRIMARY KEY,
        kel_seq INTEGER NOT NULL,
        doc_seq INTEGER NOT NULL,
        record BLOB NOT NULL,
        fetched INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE net_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
      CREATE TABLE msg_outbox (
        id BLOB PRIMARY KEY,
        to_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        verb TEXT NOT NULL,
        payload BLOB NOT NULL,
        envelope BLOB NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        error TEXT
      ) STRICT;
      CREATE INDEX msg_outbox_due ON msg_outbox (status, next_attempt);
      CREATE INDEX msg_outbox_to ON msg_outbox (to_id, seq);
      CREATE TABLE msg_inbox (
        from_id TEXT NOT NULL,
        id BLOB NOT NULL,
        seq INTEGER NOT NULL,
        verb TEXT NOT NULL,
        payload BLOB NOT NULL,
        sent_at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        PRIMARY KEY (from_id, id)
      ) STRICT;
      CREATE INDEX msg_inbox_order ON msg_inbox (sent_at, from_id, seq);
      CREATE TABLE msg_pair_seq (
        peer TEXT PRIMARY KEY,
        next INTEGER NOT NULL
      ) STRICT;
    `
  },
  {
    name: 'relay: mailbox and twin records',
    sql: `
      CREATE TABLE relay_mailbox (
        to_id TEXT NOT NULL,
        id BLOB NOT NULL,
        from_id TEXT NOT NULL,
        size INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        received INTEGER NOT NULL,
        envelope BLOB NOT NULL,
        PRIMARY KEY (to_id, id)
      ) STRICT;
      CREATE INDEX relay_mailbox_order ON relay_mailbox (to_id, received);
      CREATE INDEX relay_mailbox_expiry ON relay_mailbox (expires);
      CREATE TABLE relay_records (
        id TEXT PRIMARY KEY,
        kel_seq INTEGER NOT NULL,
        doc_seq INTEGER NOT NULL,
        record BLOB NOT NULL,
        updated INTEGER NOT NULL
      ) STRICT;
    `
  },
  {
    name: 'vault: file versions, chunks, shards, storage peers, pending uploads, settings',
    sql: `
      CREATE TABLE vault_files (
        path TEXT NOT NULL,
        version INTEGER NOT NULL,
        size INTEGER NOT NULL,
        hash BLOB NOT NULL,
        modified INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        chunks BLOB NOT NULL,
        PRIMARY KEY (path, version)
      ) STRICT;
      CREATE TABLE vault_chunks (
        id BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        enc_size INTEGER NOT NULL,
        k INTEGER NOT NULL,
        m INTEGER NOT NULL,
        shard_size INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE vault_shards (
        chunk BLOB NOT NULL,
        idx INTEGER NOT NULL,
        addr BLOB NOT NULL,
        peer TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'ok',
        checked INTEGER,
        PRIMARY KEY (chunk, idx)
      ) STRICT;
      CREATE INDEX vault_shards_peer ON vault_shards (peer);
      CREATE INDEX vault_shards_addr ON vault_shards (addr);
      CREATE TABLE vault_peers (
        id TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        kind TEXT NOT NULL,
        added INTEGER NOT NULL,
        removed INTEGER,
        checks INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        last_seen INTEGER
      ) STRICT;
      CREATE TABLE vault_pending (
        addr BLOB NOT NULL,
        peer TEXT NOT NULL,
        started INTEGER NOT NULL,
        PRIMARY KEY (addr, peer)
      ) STRICT;
      CREATE TABLE vault_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
    `
  },
  {
    name: 'relay: usage per mailbox, per (mailbox, sender), per sender and in all, for the mailbox limits and their fairness rule',
    sql: `
      -- Kept up to date at each deposit and deletion, so a deposit checks its limits and finds the
      -- heaviest sender with indexed lookups instead of scanning the mailbox. The weight is a
      -- sender's dominant share, max(n * unit, bytes); the relay recomputes it at start, since
      -- the unit depends on its configured limits.
      CREATE TABLE relay_boxes (
        to_id TEXT PRIMARY KEY,
        n INTEGER NOT NULL,
        bytes INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE relay_shares (
        to_id TEXT NOT NULL,
        from_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        weight INTEGER NOT NULL,
        PRIMARY KEY (to_id, from_id)
      ) STRICT;
      CREATE INDEX relay_shares_heaviest ON relay_shares (to_id, weight);
      CREATE TABLE relay_senders (
        from_id TEXT PRIMARY KEY,
        n INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        weight INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX relay_senders_heaviest ON relay_senders (weight);
      CREATE TABLE relay_total (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        n INTEGER NOT NULL,
        bytes INTEGER NOT NULL
      ) STRICT;
      -- The newest envelope of a sender, in one mailbox or anywhere: what the fairness rule evicts.
      CREATE INDEX relay_mailbox_share ON relay_mailbox (to_id, from_id, received);
      CREATE INDEX relay_mailbox_sender ON relay_mailbox (from_id, received);
      INSERT INTO relay_boxes SELECT to_id, count(*), sum(size) FROM relay_mailbox GROUP BY to_id;
      INSERT INTO relay_shares SELECT to_id, from_id, count(*), sum(size), sum(size) FROM relay_mailbox GROUP BY to_id, from_id;
      INSERT INTO relay_senders SELECT from_id, count(*), sum(size), sum(size) FROM relay_mailbox GROUP BY from_id;
      INSERT INTO relay_total SELECT 1, count(*), coalesce(sum(size), 0) FROM relay_mailbox;
      `
  },
  {
    // The order in which the receive pipeline stored inbound messages, for the inbox and for
    // tests that must see it: the inbox's other columns say when a message was sent, not when
    // it arrived. Numbers are assigned in the insert's transaction as max + 1 (inbox rows are
    // never deleted), so they are strictly increasing and, since a duplicate is not stored,
    // contiguous. Existing rows are numbered in the order they were inserted (rowid).
    name: 'messaging: arrival order of inbound messages',
    sql: `
      ALTER TABLE msg_inbox ADD COLUMN arrival INTEGER NOT NULL DEFAULT 0;
      UPDATE msg_inbox SET arrival = o.n
        FROM (SELECT rowid AS r, row_number() OVER (ORDER BY rowid) AS n FROM msg_inbox) AS o
        WHERE msg_inbox.rowid = o.r;
      CREATE UNIQUE INDEX msg_inbox_arrival ON msg_inbox (arrival);
    `
  }
]
