-- +goose Up
-- Hosted registries (issue 16). A registry is a setting (an administrator
-- registers it); its records and their versions are written only through
-- wallet.Change, with their history. A signed version (published or
-- revoked) is never updated or deleted: only a draft becomes published.
-- Superseded is derived (a signed version with a later signed one), never
-- stored. Times are unix microseconds.
CREATE TABLE registries (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES clients (id),
    document_type   TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE registry_records (
    registry    TEXT NOT NULL REFERENCES registries (code),
    number      TEXT NOT NULL,
    holder_kind TEXT NOT NULL CHECK (holder_kind IN ('iin', 'bin')),
    holder_id   TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (registry, number)
);
CREATE INDEX registry_records_holder ON registry_records (holder_kind, holder_id);

CREATE TABLE registry_versions (
    registry    TEXT NOT NULL,
    number      TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    status      TEXT NOT NULL CHECK (status IN ('draft', 'published', 'revoked')),
    fields      TEXT NOT NULL,
    valid_until INTEGER,
    reason      TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    signed_by   TEXT NOT NULL DEFAULT '',
    signer_name TEXT NOT NULL DEFAULT '',
    signed_at   INTEGER,
    content     BLOB,
    jws         TEXT NOT NULL DEFAULT '',
    prev_hash   TEXT NOT NULL DEFAULT '',
    hash        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (registry, number, version),
    FOREIGN KEY (registry, number) REFERENCES registry_records (registry, number)
);

-- Printed extracts of documents, for their public check page /e/{id}.
CREATE TABLE extracts (
    id          TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    owner_iin   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    lang        TEXT NOT NULL,
    made_by     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- +goose Down
DROP TABLE extracts;
DROP TABLE registry_versions;
DROP TABLE registry_records;
DROP TABLE registries;
