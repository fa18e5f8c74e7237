-- +goose Up
-- Hosted registries (issue 16). A registry is a setting (an administrator
-- registers it); its records and their versions are written only through
-- wallet.Change, with their history. A signed version (published or
-- revoked) is never updated or deleted: only a draft becomes published.
-- Superseded is derived (a signed version with a later signed one), never
-- stored.
CREATE TABLE registries (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    organisation_id text NOT NULL REFERENCES clients (id),
    document_type   text NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE registry_records (
    registry    text NOT NULL REFERENCES registries (code),
    number      text NOT NULL,
    holder_kind text NOT NULL CHECK (holder_kind IN ('iin', 'bin')),
    holder_id   text NOT NULL,
    holder_name text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (registry, number)
);
CREATE INDEX registry_records_holder ON registry_records (holder_kind, holder_id);

CREATE TABLE registry_versions (
    registry    text NOT NULL,
    number      text NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    status      text NOT NULL CHECK (status IN ('draft', 'published', 'revoked')),
    fields      text NOT NULL,
    valid_until timestamptz,
    reason      text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    signed_by   text NOT NULL DEFAULT '',
    signer_name text NOT NULL DEFAULT '',
    signed_at   timestamptz,
    content     bytea,
    jws         text NOT NULL DEFAULT '',
    prev_hash   text NOT NULL DEFAULT '',
    hash        text NOT NULL DEFAULT '',
    PRIMARY KEY (registry, number, version),
    FOREIGN KEY (registry, number) REFERENCES registry_records (registry, number)
);

-- Printed extracts of documents, for their public check page /e/{id}.
CREATE TABLE extracts (
    id          text PRIMARY KEY,
    document_id text NOT NULL,
    owner_iin   text NOT NULL,
    version     integer NOT NULL,
    hash        text NOT NULL,
    lang        text NOT NULL,
    made_by     text NOT NULL,
    created_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE extracts;
DROP TABLE registry_versions;
DROP TABLE registry_records;
DROP TABLE registries;
