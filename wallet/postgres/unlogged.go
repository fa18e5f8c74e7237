package postgres

import (
	"context"
)

// UnloggedHistory counts the views, events and document versions that
// have no leaf in the history log (log_index unset). Such rows are now
// stored only in the transaction of their leaf, so these were stored
// before (document versions before migration 00003 among them). `qujat
// audit verify` reports them. EUNAVAILABLE if the database cannot be
// reached.
func (s *Store) UnloggedHistory(ctx context.Context) (views, events, versions int64, err error) {
	const q = `SELECT (SELECT count(*) FROM views WHERE log_index IS NULL),
		(SELECT count(*) FROM events WHERE log_index IS NULL),
		(SELECT count(*) FROM document_versions WHERE log_index IS NULL)`
	if err := s.pool.QueryRow(ctx, q).Scan(&views, &events, &versions); err != nil {
		return 0, 0, 0, wrapErr(err, "count unlogged history")
	}
	return views, events, versions, nil
}
