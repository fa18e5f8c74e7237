-- +goose Up
-- Staff: people who act for an organisation (operators of a service
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

-- +goose Down
DROP TABLE staff;
