package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// Events are written only with their leaves, by a log batch (append.go).

// insertEventsSQL stores events, their columns sent as arrays
// (eventRows.args), in the arrays' order.
const insertEventsSQL = `INSERT INTO events
	(id, kind, subject_iin, actor_kind, actor_id, object_id, details, at, log_index)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
	 $7::jsonb[], $8::timestamptz[], $9::bigint[])`

// eventRows are the columns of events to be inserted with
// insertEventsSQL.
type eventRows struct {
	id, kind, subject, actorKind, actorID, objectID []string
	details                                         []map[string]string
	at                                              []time.Time
	logIndex                                        []int64
}

// add adds e, the leaf at index.
func (c *eventRows) add(e wallet.Event, index int64) {
	c.id, c.kind, c.subject = append(c.id, e.ID), append(c.kind, e.Kind), append(c.subject, string(e.SubjectIIN))
	c.actorKind, c.actorID, c.objectID = append(c.actorKind, e.ActorKind), append(c.actorID, e.ActorID), append(c.objectID, e.ObjectID)
	c.details, c.at, c.logIndex = append(c.details, eventDetails(e.Details)), append(c.at, ts(e.At)), append(c.logIndex, index)
}

// args are insertEventsSQL's arguments.
func (c *eventRows) args() []any {
	return []any{c.id, c.kind, c.subject, c.actorKind, c.actorID, c.objectID, c.details, c.at, c.logIndex}
}

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
