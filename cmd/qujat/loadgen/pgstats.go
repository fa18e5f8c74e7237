package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultPGSettle is how long --pg-stats waits before each reading of the
// counters: PostgreSQL 15's backends report their counters at the end of a
// transaction at most once a second, and an idle backend within ten
// seconds, so that a reading taken sooner misses the service's last
// transactions.
const DefaultPGSettle = 11 * time.Second

// PGStats is what PostgreSQL did for a phase, per successful operation:
// the service database's transactions and rows (pg_stat_database) and the
// cluster's WAL (pg_stat_wal: every database of the cluster counts, so
// nothing else should run on it during the bench).
type PGStats struct {
	Commits      float64 `json:"commits"`
	Rollbacks    float64 `json:"rollbacks"`
	RowsInserted float64 `json:"rows_inserted"`
	RowsUpdated  float64 `json:"rows_updated"`
	RowsDeleted  float64 `json:"rows_deleted"`
	BlocksRead   float64 `json:"blocks_read"`
	WALRecords   float64 `json:"wal_records"`
	WALFPI       float64 `json:"wal_full_page_images"`
	WALBytes     float64 `json:"wal_bytes"`
	WALWrites    float64 `json:"wal_writes"`
	WALSyncs     float64 `json:"wal_syncs"`
}

// pgCounters is one reading of the counters.
type pgCounters struct {
	commits, rollbacks, inserted, updated, deleted, blksRead int64
	walRecords, walFPI, walWrite, walSync                    int64
	walBytes                                                 float64
}

// pgStats reads the counters of the database that a pool is connected to.
type pgStats struct {
	pool   *pgxpool.Pool
	settle time.Duration
}

func newPGStats(ctx context.Context, dbURL string, settle time.Duration) (*pgStats, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("--pg-stats: %w", err)
	}
	s := &pgStats{pool: pool, settle: settle}
	if _, err := s.read(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("--pg-stats: %w", err)
	}
	return s, nil
}

func (s *pgStats) close() { s.pool.Close() }

// read waits for the counters to settle and reads them.
func (s *pgStats) read(ctx context.Context) (pgCounters, error) {
	select {
	case <-ctx.Done():
		return pgCounters{}, ctx.Err()
	case <-time.After(s.settle):
	}
	var c pgCounters
	err := s.pool.QueryRow(ctx, `
		SELECT d.xact_commit, d.xact_rollback, d.tup_inserted, d.tup_updated, d.tup_deleted, d.blks_read,
		       w.wal_records, w.wal_fpi, w.wal_bytes::float8, w.wal_write, w.wal_sync
		FROM pg_stat_database d, pg_stat_wal w
		WHERE d.datname = current_database()`).Scan(
		&c.commits, &c.rollbacks, &c.inserted, &c.updated, &c.deleted, &c.blksRead,
		&c.walRecords, &c.walFPI, &c.walBytes, &c.walWrite, &c.walSync)
	if err != nil {
		return pgCounters{}, fmt.Errorf("read pg_stat_database and pg_stat_wal: %w", err)
	}
	return c, nil
}

// per is the difference b−a divided by n operations (nil if n is 0).
func per(a, b pgCounters, n int) *PGStats {
	if n <= 0 {
		return nil
	}
	f := func(x, y int64) float64 { return round3(float64(y-x) / float64(n)) }
	return &PGStats{
		Commits: f(a.commits, b.commits), Rollbacks: f(a.rollbacks, b.rollbacks),
		RowsInserted: f(a.inserted, b.inserted), RowsUpdated: f(a.updated, b.updated), RowsDeleted: f(a.deleted, b.deleted),
		BlocksRead: f(a.blksRead, b.blksRead),
		WALRecords: f(a.walRecords, b.walRecords), WALFPI: f(a.walFPI, b.walFPI),
		WALBytes:  round3((b.walBytes - a.walBytes) / float64(n)),
		WALWrites: f(a.walWrite, b.walWrite), WALSyncs: f(a.walSync, b.walSync),
	}
}
