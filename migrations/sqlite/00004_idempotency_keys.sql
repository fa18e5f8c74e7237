-- +goose Up
-- The outcome of each request made with an Idempotency-Key, stored in the
-- transaction of the request's effect and kept at least 24 hours; rows past
-- expires_at (unix microseconds) are purged by the next write of a key.
CREATE TABLE idempotency_keys (
    caller       TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    outcome      BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
