-- +goose Up
-- Staff: people who act for an organisation (operators of a service
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

-- +goose Down
DROP TABLE staff;
