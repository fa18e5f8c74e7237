package postgres

import (
	"context"

	"github.com/qujat/qujat/wallet"
)

// UnloggedHistory counts the views and events that have no leaf in the
// history log (log_index unset): what a crash between a view's commit and
// its log batch leaves behind. `qujat audit verify` reports them.
// EUNAVAILABLE if the database cannot be reached.
func (s *Store) UnloggedHistory(ctx context.Context) (views, events int64, err error) {
	const q = `SELECT (SELECT count(*) FROM views WHERE log_index IS NULL),
		(SELECT count(*) FROM events WHERE log_index IS NULL)`
	if err := s.pool.QueryRow(ctx, q).Scan(&views, &events); err != nil {
		return 0, 0, wallet.Wrap(wallet.EUNAVAILABLE, err, "count unlogged history")
	}
	return views, events, nil
}
