-- +goose Up
-- Service centres (issue 15). Staff: people who act for an organisation (operators of a service
-- centre, officials of a state body), each with a signing key of their own.
-- Settings, not history: an administrator registers and disables them.
-- One active staff record per person, so that signing in by IIN is
-- unambiguous.
CREATE TABLE staff (
    id              text PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    organisation_id text NOT NULL REFERENCES clients (id),
    iin             text NOT NULL,
    name            text NOT NULL,
    role            text NOT NULL CHECK (role IN ('operator', 'official')),
    key_id          text NOT NULL,
    created_at      timestamptz NOT NULL,
    disabled_at     timestamptz
);
CREATE UNIQUE INDEX staff_active_iin ON staff (iin) WHERE disabled_at IS NULL;

-- Scans and other bytes kept exactly as received (the blob store's
-- database implementation). A purge deletes the row: the bytes are gone,
-- not hidden.
CREATE TABLE blobs (
    id           text PRIMARY KEY,
    content_type text NOT NULL,
    sha256       text NOT NULL,
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL
);

-- Electronic duplicates of paper documents. After the purge the row stays
-- as the tombstone (id, type, holder, SHA-256, dates); the blob is gone.
-- Written only through wallet.Change, with the owner's history.
CREATE TABLE duplicates (
    id           text PRIMARY KEY,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    owner_iin    text NOT NULL,
    type         text NOT NULL,
    number       text NOT NULL,
    issued_on    text NOT NULL,
    issued_by    text NOT NULL,
    blob_id      text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    sha256       text NOT NULL,
    operator_id  text NOT NULL,
    centre_id    text NOT NULL,
    status       text NOT NULL CHECK (status IN ('awaiting_consent', 'certified', 'purged')),
    challenge_id text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    certified_at timestamptz,
    retain_until timestamptz,
    jws          text NOT NULL DEFAULT '',
    purged_at    timestamptz
);
CREATE INDEX duplicates_owner ON duplicates (owner_iin, created_at);
CREATE INDEX duplicates_centre ON duplicates (centre_id, created_at);
CREATE INDEX duplicates_due ON duplicates (retain_until) WHERE status = 'certified';

-- +goose Down
DROP TABLE duplicates;
DROP TABLE blobs;
DROP TABLE staff;
