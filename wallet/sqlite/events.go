package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/qujat/qujat/wallet"
)

// insertEvent stores an event (written with its leaf).
func insertEvent(ctx context.Context, tx *sql.Tx, e wallet.Event) error {
	details, err := eventDetails(e.Details)
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "append event")
	}
	_, err = tx.ExecContext(ctx, insertEventSQL,
		e.ID, e.Kind, string(e.SubjectIIN), e.ActorKind, e.ActorID, e.ObjectID, details,
		micros(e.At), logIndex(e.LogIndex))
	return err
}

const insertEventSQL = `INSERT INTO events
	(id, kind, subject_iin, actor_kind, actor_id, object_id, details, at, log_index)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// eventDetails encodes an event's details as stored ("{}" for none).
func eventDetails(d map[string]string) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(d)
	return string(b), err
}

// Events returns the subject's events, newest first. An event without
// details has nil Details.
func (s *Store) Events(ctx context.Context, subject wallet.IIN) ([]wallet.Event, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventColumns+` WHERE subject_iin = ? ORDER BY at DESC, rowid DESC`, string(subject))
	return collect(rows, err, "list events", scanEvent)
}

const eventColumns = `id, kind, subject_iin, actor_kind, actor_id, object_id, details, at, log_index FROM events`

func scanEvent(sc scanner) (wallet.Event, error) {
	var r struct { // the scan's targets, in one allocation (see scanner)
		e                wallet.Event
		subject, details string
		at               int64
		index            sql.NullInt64
	}
	e := &r.e
	if err := sc.Scan(&e.ID, &e.Kind, &r.subject, &e.ActorKind, &e.ActorID, &e.ObjectID, &r.details, &r.at, &r.index); err != nil {
		return *e, err
	}
	e.SubjectIIN, e.At, e.LogIndex = wallet.IIN(r.subject), fromMicros(r.at), fromLogIndex(r.index)
	if err := json.Unmarshal([]byte(r.details), &e.Details); err != nil {
		return *e, err
	}
	if len(e.Details) == 0 {
		e.Details = nil
	}
	return *e, nil
}
