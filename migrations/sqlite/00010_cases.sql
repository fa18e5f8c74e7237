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

-- +goose Down
DROP TABLE agency_keys;
DROP TABLE agencies;
