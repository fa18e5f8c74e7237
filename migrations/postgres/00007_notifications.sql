-- +goose Up
-- Citizens' devices and the notifications to them. Notifications are
-- derived from the history: a fan-out reads the events and views after
-- notify_cursor (a log index) and stores their notifications with the
-- cursor's advance in one transaction; (event_id, device_id) is unique so
-- that no event reaches a device twice.
CREATE TABLE devices (
    id            text PRIMARY KEY,
    owner_iin     text NOT NULL,
    platform      text NOT NULL CHECK (platform IN ('webhook', 'fcm')),
    url           text NOT NULL DEFAULT '',
    token         text NOT NULL DEFAULT '',
    sealed_secret bytea,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failing', 'dropped')),
    failures      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    seq           bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX devices_owner_idx ON devices (owner_iin, created_at);

CREATE TABLE notifications (
    id              text PRIMARY KEY,
    event_id        text NOT NULL,
    device_id       text NOT NULL,
    owner_iin       text NOT NULL,
    kind            text NOT NULL,
    language        text NOT NULL,
    sealed          bytea,
    at              timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    done_at         timestamptz,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    UNIQUE (event_id, device_id)
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_device_idx ON notifications (device_id, status);

-- One row: the log index up to which the history has been fanned out. It
-- starts at the history already there (nobody had a device then).
CREATE TABLE notify_cursor (
    id        integer PRIMARY KEY CHECK (id = 1),
    log_index bigint NOT NULL
);
INSERT INTO notify_cursor (id, log_index)
SELECT 1, COALESCE(MAX(m), -1) FROM (
    SELECT MAX(log_index) AS m FROM events UNION ALL SELECT MAX(log_index) FROM views) AS x;
CREATE INDEX notify_events_log_index_idx ON events (log_index);
CREATE INDEX notify_views_log_index_idx ON views (log_index);

ALTER TABLE citizen_preferences
    ADD COLUMN notify_views boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_consents boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_duplicates boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_cases boolean NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE citizen_preferences
    DROP COLUMN notify_views, DROP COLUMN notify_consents,
    DROP COLUMN notify_duplicates, DROP COLUMN notify_cases;
DROP INDEX notify_views_log_index_idx;
DROP INDEX notify_events_log_index_idx;
DROP TABLE notify_cursor;
DROP TABLE notifications;
DROP TABLE devices;
