-- +goose Up
-- The durable outbox of text messages to citizens' phones: written in the
-- transaction of the request that sends them, delivered by the outbox
-- worker with retries until not_after. The text is sealed (encrypted) by
-- the service; phone and text are erased once the message is delivered or
-- given up. Times are unix microseconds.
CREATE TABLE outbox_messages (
    id              TEXT PRIMARY KEY,
    to_phone        TEXT,
    sealed          BLOB,
    purpose         TEXT NOT NULL,
    ref             TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    not_after       INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    done_at         INTEGER
);
CREATE INDEX outbox_messages_due_idx ON outbox_messages (status, next_attempt_at);

-- +goose Down
DROP TABLE outbox_messages;
