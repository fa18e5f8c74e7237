-- +goose Up
-- Documents and their append-only, hash-chained versions. latest_version is
-- the compare-and-swap guard of AppendVersion; the primary key of
-- document_versions is the backstop.
CREATE TABLE documents (
    id             text PRIMARY KEY,
    subject_iin    text NOT NULL,
    type           text NOT NULL,
    source         text NOT NULL,
    fetched_at     timestamptz NOT NULL,
    latest_version integer NOT NULL CHECK (latest_version >= 1)
);
CREATE INDEX documents_subject_idx ON documents (subject_iin, source);

CREATE TABLE document_versions (
    document_id text NOT NULL REFERENCES documents (id),
    version     integer NOT NULL CHECK (version >= 1),
    content     bytea NOT NULL,
    jws         text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (document_id, version)
);

CREATE TABLE refresh_tokens (
    id          text PRIMARY KEY,
    family_id   text NOT NULL,
    subject_iin text NOT NULL,
    hash        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE shares (
    id          text PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    document_id text NOT NULL,
    owner_iin   text NOT NULL,
    created_by  text NOT NULL,
    max_views   integer NOT NULL,
    views       integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX shares_owner_idx ON shares (owner_iin, created_at);
CREATE INDEX shares_created_by_idx ON shares (created_by, created_at);

-- A share redemption stores its view with share_seq = the share's view count
-- after the increment, so the unique constraint makes a double count of one
-- slot impossible even if the counter were bypassed.
CREATE TABLE views (
    id            text PRIMARY KEY,
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    document_id   text NOT NULL,
    document_type text NOT NULL,
    owner_iin     text NOT NULL,
    viewer_kind   text NOT NULL,
    viewer_id     text NOT NULL,
    channel       text NOT NULL,
    share_id      text REFERENCES shares (id),
    share_seq     integer,
    consent_id    text NOT NULL,
    shared_by     text NOT NULL,
    at            timestamptz NOT NULL,
    log_index     bigint,
    UNIQUE (share_id, share_seq)
);
CREATE INDEX views_owner_idx ON views (owner_iin, at);
CREATE INDEX views_viewer_idx ON views (viewer_kind, viewer_id, at);

CREATE TABLE clients (
    id             text PRIMARY KEY,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    name           text NOT NULL,
    kind           text NOT NULL,
    document_types text[] NOT NULL,
    secret_hash    text NOT NULL,
    created_at     timestamptz NOT NULL,
    disabled_at    timestamptz
);

CREATE TABLE consents (
    id                 text PRIMARY KEY,
    seq                bigint GENERATED ALWAYS AS IDENTITY,
    client_id          text NOT NULL,
    subject_iin        text NOT NULL,
    phone              text NOT NULL,
    document_types     text[] NOT NULL,
    purpose            text NOT NULL,
    method             text NOT NULL,
    status             text NOT NULL,
    valid_for_ns       bigint NOT NULL,
    created_at         timestamptz NOT NULL,
    request_expires_at timestamptz NOT NULL,
    decided_at         timestamptz,
    grant_expires_at   timestamptz,
    revoked_at         timestamptz,
    revision           integer NOT NULL
);
CREATE INDEX consents_subject_idx ON consents (subject_iin, created_at);
CREATE INDEX consents_client_idx ON consents (client_id, created_at);
CREATE INDEX consents_phone_idx ON consents (phone, method, status);

CREATE TABLE events (
    id          text PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    kind        text NOT NULL,
    subject_iin text NOT NULL,
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL,
    object_id   text NOT NULL,
    details     jsonb NOT NULL,
    at          timestamptz NOT NULL,
    log_index   bigint
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
