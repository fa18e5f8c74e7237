-- +goose Up
-- The durable outbox of text messages to citizens' phones: written in the
-- transaction of the request that sends them, delivered by the outbox
-- worker with retries until not_after. The text is sealed (encrypted) by
-- the service; phone and text are erased once the message is delivered or
-- given up.
CREATE TABLE outbox_messages (
    id              text PRIMARY KEY,
    to_phone        text,
    sealed          bytea,
    purpose         text NOT NULL,
    ref             text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    not_after       timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    done_at         timestamptz
);
CREATE INDEX outbox_messages_due_idx ON outbox_messages (next_attempt_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE outbox_messages;
