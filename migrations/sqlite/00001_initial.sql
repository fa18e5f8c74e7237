-- +goose Up
-- Times are INTEGER unix microseconds, UTC (the stores truncate to
-- microseconds on write, like PostgreSQL's timestamptz). Lists and maps are
-- JSON text. Tables keep their implicit rowid, which orders ties by insertion.

-- Documents and their append-only, hash-chained versions. latest_version is
-- the compare-and-swap guard of AppendVersion; the primary key of
-- document_versions is the backstop.
CREATE TABLE documents (
    id             TEXT PRIMARY KEY,
    subject_iin    TEXT NOT NULL,
    type           TEXT NOT NULL,
    source         TEXT NOT NULL,
    fetched_at     INTEGER NOT NULL,
    latest_version INTEGER NOT NULL CHECK (latest_version >= 1)
);
CREATE INDEX documents_subject_idx ON documents (subject_iin, source);

CREATE TABLE document_versions (
    document_id TEXT NOT NULL REFERENCES documents (id),
    version     INTEGER NOT NULL CHECK (version >= 1),
    content     BLOB NOT NULL,
    jws         TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (document_id, version)
);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    subject_iin TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    rotated_at  INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE shares (
    id          TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    owner_iin   TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    max_views   INTEGER NOT NULL,
    views       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX shares_owner_idx ON shares (owner_iin, created_at);
CREATE INDEX shares_created_by_idx ON shares (created_by, created_at);

-- A share redemption stores its view with share_seq = the share's view count
-- after the increment, so the unique constraint makes a double count of one
-- slot impossible even if the counter were bypassed.
CREATE TABLE views (
    id            TEXT PRIMARY KEY,
    document_id   TEXT NOT NULL,
    document_type TEXT NOT NULL,
    owner_iin     TEXT NOT NULL,
    viewer_kind   TEXT NOT NULL,
    viewer_id     TEXT NOT NULL,
    channel       TEXT NOT NULL,
    share_id      TEXT REFERENCES shares (id),
    share_seq     INTEGER,
    consent_id    TEXT NOT NULL,
    shared_by     TEXT NOT NULL,
    at            INTEGER NOT NULL,
    log_index     INTEGER,
    UNIQUE (share_id, share_seq)
);
CREATE INDEX views_owner_idx ON views (owner_iin, at);
CREATE INDEX views_viewer_idx ON views (viewer_kind, viewer_id, at);

CREATE TABLE clients (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    document_types TEXT NOT NULL, -- JSON array of strings
    secret_hash    TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    disabled_at    INTEGER
);

CREATE TABLE consents (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    subject_iin        TEXT NOT NULL,
    phone              TEXT NOT NULL,
    document_types     TEXT NOT NULL, -- JSON array of strings
    purpose            TEXT NOT NULL,
    method             TEXT NOT NULL,
    status             TEXT NOT NULL,
    valid_for_ns       INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    request_expires_at INTEGER NOT NULL,
    decided_at         INTEGER,
    grant_expires_at   INTEGER,
    revoked_at         INTEGER,
    revision           INTEGER NOT NULL
);
CREATE INDEX consents_subject_idx ON consents (subject_iin, created_at);
CREATE INDEX consents_client_idx ON consents (client_id, created_at);
CREATE INDEX consents_phone_idx ON consents (phone, method, status);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject_iin TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    details     TEXT NOT NULL, -- JSON object of strings
    at          INTEGER NOT NULL,
    log_index   INTEGER
);
CREATE INDEX events_subject_idx ON events (subject_iin, at);

-- +goose Down
DROP TABLE events;
DROP TABLE consents;
DROP TABLE clients;
DROP TABLE views;
DROP TABLE shares;
DROP TABLE refresh_tokens;
DROP TABLE document_versions;
DROP TABLE documents;
