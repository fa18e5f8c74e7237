package sqlite

import (
	"context"
	"database/sql"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
)

// The rows `qujat audit verify` checks against the history log.
var _ history.AuditStore = (*Store)(nil)

// EachView calls fn for every view. EUNAVAILABLE.
func (s *Store) EachView(ctx context.Context, fn func(wallet.View) error) error {
	return each(ctx, s.r, `SELECT `+viewColumns+` ORDER BY rowid`, "read views", scanView, fn)
}

// EachEvent calls fn for every history event. EUNAVAILABLE.
func (s *Store) EachEvent(ctx context.Context, fn func(wallet.Event) error) error {
	return each(ctx, s.r, `SELECT `+eventColumns+` ORDER BY rowid`, "read events", scanEvent, fn)
}

// EachVersion calls fn for every document version, by document then
// version, with the document's subject. EUNAVAILABLE.
func (s *Store) EachVersion(ctx context.Context, fn func(wallet.IIN, wallet.Version) error) error {
	type subjectVersion struct {
		subject wallet.IIN
		v       wallet.Version
	}
	return each(ctx, s.r, `SELECT d.subject_iin, v.document_id, v.version, v.content, v.jws, v.prev_hash, v.hash, v.created_at, v.log_index
		FROM document_versions v JOIN documents d ON d.id = v.document_id ORDER BY v.document_id, v.version`, "read document versions",
		func(sc scanner) (subjectVersion, error) {
			var (
				sv        subjectVersion
				subject   string
				createdAt int64
				index     sql.NullInt64
			)
			err := sc.Scan(&subject, &sv.v.DocumentID, &sv.v.Version, &sv.v.Content, &sv.v.JWS, &sv.v.PrevHash, &sv.v.Hash, &createdAt, &index)
			sv.subject, sv.v.CreatedAt, sv.v.LogIndex = wallet.IIN(subject), fromMicros(createdAt), fromLogIndex(index)
			return sv, err
		}, func(sv subjectVersion) error { return fn(sv.subject, sv.v) })
}

// each streams the rows of query through scan to fn; fn's error stops it
// and is returned as it is.
func each[T any](ctx context.Context, q querier, query, what string, scan func(scanner) (T, error), fn func(T) error) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return wrapErr(err, what)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return wrapErr(err, what)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return wrapErr(rows.Err(), what)
}
