-- +goose Up
-- Cases from service centres to agencies (issue 17).
-- Agencies and their public keys are settings: an administrator registers
-- them (qujat agencies register).
CREATE TABLE agencies (
    organisation_id text PRIMARY KEY REFERENCES clients (id),
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    endpoint        text NOT NULL,
    time_zone       text NOT NULL,
    calendar        text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE agency_keys (
    kid             text PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    organisation_id text NOT NULL REFERENCES agencies (organisation_id),
    use             text NOT NULL CHECK (use IN ('sig', 'enc')),
    jwk             text NOT NULL,
    created_at      timestamptz NOT NULL,
    retired_at      timestamptz,
    compromised_at  timestamptz
);
CREATE INDEX agency_keys_agency ON agency_keys (organisation_id, seq);

-- Cases: the case as JSON (body) with the columns that are searched. Written
-- only through wallet.Change with the owner's history; the delivery
-- bookkeeping (attempts, next_attempt_at, lease_until, last_error) is the
-- outbox of packages and has no history. Nothing deletes a case.
CREATE TABLE cases (
    id              text PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    owner_iin       text NOT NULL,
    centre_id       text NOT NULL,
    agency_id       text NOT NULL REFERENCES agencies (organisation_id),
    status          text NOT NULL,
    package_id      text UNIQUE,
    revision        integer NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    retain_until    timestamptz,
    body            text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    lease_until     timestamptz,
    last_error      text NOT NULL DEFAULT ''
);
CREATE INDEX cases_owner ON cases (owner_iin, created_at);
CREATE INDEX cases_due ON cases (next_attempt_at) WHERE status = 'queued';

-- Every message that crossed, exactly, with the answer given or got and the
-- verification result: the inbound endpoint's idempotency and the evidence.
CREATE TABLE exchange_messages (
    direction  text NOT NULL CHECK (direction IN ('in', 'out')),
    message_id text NOT NULL,
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    case_id    text NOT NULL,
    kind       text NOT NULL,
    digest     text NOT NULL,
    body       text NOT NULL,
    answer     text NOT NULL,
    verified   text NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (direction, message_id)
);
CREATE INDEX exchange_messages_case ON exchange_messages (case_id, seq);

-- Qujat's own keys declared compromised (qujat keys compromise): nothing
-- they signed at or after compromised_at is trusted. A setting, no history.
CREATE TABLE key_compromises (
    kid            text PRIMARY KEY,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    compromised_at timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    replacement    text NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE key_compromises;
DROP TABLE exchange_messages;
DROP TABLE cases;
DROP TABLE agency_keys;
DROP TABLE agencies;
