-- +goose Up
-- Citizens' devices and the notifications to them. Notifications are
-- derived from the history: a fan-out reads the events and views after
-- notify_cursor (a log index) and stores their notifications with the
-- cursor's advance in one transaction; (event_id, device_id) is unique so
-- that no event reaches a device twice. Times are unix microseconds.
CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    owner_iin     TEXT NOT NULL,
    platform      TEXT NOT NULL CHECK (platform IN ('webhook', 'fcm')),
    url           TEXT NOT NULL DEFAULT '',
    token         TEXT NOT NULL DEFAULT '',
    sealed_secret BLOB,
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failing', 'dropped')),
    failures      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE INDEX devices_owner_idx ON devices (owner_iin, created_at);

CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    owner_iin       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    language        TEXT NOT NULL,
    sealed          BLOB,
    at              INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    done_at         INTEGER,
    UNIQUE (event_id, device_id)
);
CREATE INDEX notifications_due_idx ON notifications (status, next_attempt_at);
CREATE INDEX notifications_device_idx ON notifications (device_id, status);

-- One row: the log index up to which the history has been fanned out. It
-- starts at the history already there (nobody had a device then).
CREATE TABLE notify_cursor (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    log_index INTEGER NOT NULL
);
INSERT INTO notify_cursor (id, log_index)
SELECT 1, COALESCE(MAX(m), -1) FROM (
    SELECT MAX(log_index) AS m FROM events UNION ALL SELECT MAX(log_index) FROM views);
CREATE INDEX notify_events_log_index_idx ON events (log_index);
CREATE INDEX notify_views_log_index_idx ON views (log_index);

ALTER TABLE citizen_preferences ADD COLUMN notify_views INTEGER NOT NULL DEFAULT 1;
ALTER TABLE citizen_preferences ADD COLUMN notify_consents INTEGER NOT NULL DEFAULT 1;
ALTER TABLE citizen_preferences ADD COLUMN notify_duplicates INTEGER NOT NULL DEFAULT 1;
ALTER TABLE citizen_preferences ADD COLUMN notify_cases INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE citizen_preferences DROP COLUMN notify_cases;
ALTER TABLE citizen_preferences DROP COLUMN notify_duplicates;
ALTER TABLE citizen_preferences DROP COLUMN notify_consents;
ALTER TABLE citizen_preferences DROP COLUMN notify_views;
DROP INDEX notify_views_log_index_idx;
DROP INDEX notify_events_log_index_idx;
DROP TABLE notify_cursor;
DROP TABLE notifications;
DROP TABLE devices;
