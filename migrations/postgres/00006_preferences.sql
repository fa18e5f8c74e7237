-- +goose Up
-- Each citizen's preferences: the language Qujat speaks to them in (SMS).
-- Settings, not history: a change replaces the row.
CREATE TABLE citizen_preferences (
    iin        text PRIMARY KEY,
    language   text NOT NULL CHECK (language IN ('kk', 'ru', 'en')),
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE citizen_preferences;
