-- +goose Up
-- Cases from service centres to agencies (issue 17).
-- Agencies and their public keys are settings: an administrator registers
-- them (qujat agencies register). Times are unix microseconds.
CREATE TABLE agencies (
    organisation_id TEXT PRIMARY KEY REFERENCES clients (id),
    endpoint        TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    calendar        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE agency_keys (
    kid             TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES agencies (organisation_id),
    use             TEXT NOT NULL CHECK (use IN ('sig', 'enc')),
    jwk             TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    retired_at      INTEGER,
    compromised_at  INTEGER
);
CREATE INDEX agency_keys_agency ON agency_keys (organisation_id, created_at);

-- Cases: the case as JSON (body) with the columns that are searched. Written
-- only through wallet.Change with the owner's history; the delivery
-- bookkeeping (attempts, next_attempt_at, lease_until, last_error) is the
-- outbox of packages and has no history. Nothing deletes a case.
CREATE TABLE cases (
    id              TEXT PRIMARY KEY,
    owner_iin       TEXT NOT NULL,
    centre_id       TEXT NOT NULL,
    agency_id       TEXT NOT NULL REFERENCES agencies (organisation_id),
    status          TEXT NOT NULL,
    package_id      TEXT UNIQUE,
    revision        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    retain_until    INTEGER,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_until     INTEGER,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX cases_owner ON cases (owner_iin, created_at);
CREATE INDEX cases_due ON cases (next_attempt_at) WHERE status = 'queued';

-- Every message that crossed, exactly, with the answer given or got and the
-- verification result: the inbound endpoint's idempotency and the evidence.
CREATE TABLE exchange_messages (
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    message_id TEXT NOT NULL,
    case_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    body       TEXT NOT NULL,
    answer     TEXT NOT NULL,
    verified   TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (direction, message_id)
);
CREATE INDEX exchange_messages_case ON exchange_messages (case_id, at);

-- Qujat's own keys declared compromised (qujat keys compromise): nothing
-- they signed at or after compromised_at is trusted. A setting, no history.
CREATE TABLE key_compromises (
    kid            TEXT PRIMARY KEY,
    compromised_at INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    replacement    TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE key_compromises;
DROP TABLE exchange_messages;
DROP TABLE cases;
DROP TABLE agency_keys;
DROP TABLE agencies;
