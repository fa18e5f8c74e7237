-- +goose Up
-- Service centres (issue 15). Staff: people who act for an organisation (operators of a service
-- centre, officials of a state body), each with a signing key of their own.
-- Settings, not history: an administrator registers and disables them.
-- One active staff record per person, so that signing in by IIN is
-- unambiguous. Times are unix microseconds.
CREATE TABLE staff (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES clients (id),
    iin             TEXT NOT NULL,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('operator', 'official')),
    key_id          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    disabled_at     INTEGER
);
CREATE UNIQUE INDEX staff_active_iin ON staff (iin) WHERE disabled_at IS NULL;

-- Scans and other bytes kept exactly as received (the blob store's
-- database implementation). A purge deletes the row: the bytes are gone,
-- not hidden.
CREATE TABLE blobs (
    id           TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);

-- Electronic duplicates of paper documents. After the purge the row stays
-- as the tombstone (id, type, holder, SHA-256, dates); the blob is gone.
-- Written only through wallet.Change, with the owner's history.
CREATE TABLE duplicates (
    id           TEXT PRIMARY KEY,
    owner_iin    TEXT NOT NULL,
    type         TEXT NOT NULL,
    number       TEXT NOT NULL,
    issued_on    TEXT NOT NULL,
    issued_by    TEXT NOT NULL,
    blob_id      TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    operator_id  TEXT NOT NULL,
    centre_id    TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('awaiting_consent', 'certified', 'purged')),
    challenge_id TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    certified_at INTEGER,
    retain_until INTEGER,
    jws          TEXT NOT NULL DEFAULT '',
    purged_at    INTEGER
);
CREATE INDEX duplicates_owner ON duplicates (owner_iin, created_at);
CREATE INDEX duplicates_centre ON duplicates (centre_id, created_at);
CREATE INDEX duplicates_due ON duplicates (retain_until) WHERE status = 'certified';

-- +goose Down
DROP TABLE duplicates;
DROP TABLE blobs;
DROP TABLE staff;
