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

-- +goose Down
DROP TABLE agency_keys;
DROP TABLE agencies;
