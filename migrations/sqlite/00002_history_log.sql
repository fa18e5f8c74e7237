-- +goose Up
-- The tamper-evident history log (wallet/historylog). Leaves, hashes,
-- parties and checkpoints are append-only: the store never updates or
-- deletes them. Payloads are kept apart and deleted when retention ends.

-- Leaves, dense indexes 0..n-1; leaf_hash is SHA-256(0x00 ‖ leaf).
CREATE TABLE log_leaves (
    idx       INTEGER PRIMARY KEY CHECK (idx >= 0),
    leaf      BLOB NOT NULL,
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
);

-- The hashes tlog stores, by stored-hash index (tlog.StoredHashIndex).
CREATE TABLE log_hashes (
    id   INTEGER PRIMARY KEY CHECK (id >= 0),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);

-- Each subject's chain: the pseudonym's seq-th event is the leaf at leaf_index.
CREATE TABLE log_parties (
    subject    TEXT NOT NULL, -- hex pseudonym
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    leaf_index INTEGER NOT NULL,
    PRIMARY KEY (subject, seq)
) WITHOUT ROWID;

-- Event payloads, erasable. at is the event's time (unix microseconds).
CREATE TABLE log_payloads (
    leaf_index INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    payload    BLOB NOT NULL
);
CREATE INDEX log_payloads_at_idx ON log_payloads (at);

-- Signed checkpoints, one per batch.
CREATE TABLE log_checkpoints (
    size INTEGER PRIMARY KEY CHECK (size > 0),
    root BLOB NOT NULL CHECK (length(root) = 32),
    note TEXT NOT NULL
);

-- +goose Down
DROP TABLE log_checkpoints;
DROP TABLE log_payloads;
DROP TABLE log_parties;
DROP TABLE log_hashes;
DROP TABLE log_leaves;
