-- +goose Up
-- Each citizen's preferences: the language Qujat speaks to them in (SMS).
-- Settings, not history: a change replaces the row. updated_at is unix
-- microseconds.
CREATE TABLE citizen_preferences (
    iin        TEXT PRIMARY KEY,
    language   TEXT NOT NULL CHECK (language IN ('kk', 'ru', 'en')),
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE citizen_preferences;
