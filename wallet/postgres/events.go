package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// Events are written only with their leaves, by a log batch (append.go).

// insertEventSQL stores an event.
const insertEventSQL = `INSERT INTO events
	(id, kind, subject_iin, actor_kind, actor_id, object_id, details, at, log_index)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// eventDetails is an event's details as stored (an empty object for none).
func eventDetails(d map[string]string) map[string]string {
	if d == nil {
		return map[string]string{}
	}
	return d
}

// Events returns the subject's events, newest first. An event without
// details has nil Details.
func (s *Store) Events(ctx context.Context, subject wallet.IIN) ([]wallet.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` WHERE subject_iin = $1 ORDER BY at DESC, seq DESC`, string(subject))
	return collect(rows, err, "list events", scanEvent)
}

const eventColumns = `id, kind, subject_iin, actor_kind, actor_id, object_id, details, at, log_index FROM events`

func scanEvent(row pgx.Row) (wallet.Event, error) {
	var (
		e       wallet.Event
		subject string
		index   *int64
	)
	if err := row.Scan(&e.ID, &e.Kind, &subject, &e.ActorKind, &e.ActorID, &e.ObjectID, &e.Details, &e.At, &index); err != nil {
		return e, err
	}
	e.SubjectIIN, e.At, e.LogIndex = wallet.IIN(subject), e.At.UTC(), fromLogIndex(index)
	if len(e.Details) == 0 {
		e.Details = nil
	}
	return e, nil
}
