package postgres

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
)

var (
	_ wallet.PublishedReads = (*Replica)(nil)
	_ historylog.LogReader  = (*Replica)(nil)
)

// Replica serves the reads that tolerate lag from a streaming replica of
// the primary (a hot standby made with pg_basebackup -R), and nothing
// else: its methods are the whole list. They are the published reads
// (wallet.PublishedReads: a document's or a duplicate's status for
// /v1/verify, the staff behind the published keys) and the history log's
// public reads (historylog.LogReader: checkpoints, leaves, proofs).
// Everything that judges (a share's single use, a consent's state, limits,
// sign-in, idempotency, the log's append) reads the Store, whose pool is
// the primary's; the Store never reads the replica.
//
// A read goes to the replica while its last probe found it streaming and
// at most MaxLag behind; otherwise, and whenever the replica fails a read
// (unreachable, slower than ReadTimeout, not having the row yet, a query
// cancelled by recovery), the primary answers it. So a replica that is
// down, stalled, lagging or promoted costs at most one ReadTimeout to a
// lag-tolerant read and nothing to any other.
//
// The replica's sessions are read-only (default_transaction_read_only):
// even a promoted replica is never written through it.
type Replica struct {
	primary *Store
	standby *Store // the replica's pool, read-only sessions
	opt     ReplicaOptions

	state   atomic.Value // string: ReplicaOK, ReplicaUnavailable, ReplicaLagging, ReplicaPromoted
	lag     atomic.Int64 // nanoseconds, at the last probe
	replica atomic.Int64 // reads the replica served
	primed  atomic.Int64 // lag-tolerant reads the primary served

	stop context.CancelFunc
	done chan struct{}
}

// What a Replica's probe found (Replica.State).
const (
	// ReplicaOK: streaming from the primary and at most MaxLag behind; it
	// serves the lag-tolerant reads.
	ReplicaOK = "ok"
	// ReplicaUnavailable: not reachable (down, stalled, refusing).
	ReplicaUnavailable = "unavailable"
	// ReplicaLagging: more than MaxLag behind, or not receiving the
	// primary's WAL.
	ReplicaLagging = "lagging"
	// ReplicaPromoted: no longer in recovery (pg_ctl promote): it has left
	// the primary's timeline and is never read again until it is a
	// replica once more (and the service is restarted).
	ReplicaPromoted = "promoted"
)

// ReplicaOptions tune a Replica; zero values take the defaults.
type ReplicaOptions struct {
	// MaxLag is how far behind the replica may be and still serve reads;
	// DefaultReplicaMaxLag if 0.
	MaxLag time.Duration
	// Probe is how often the replica's state and lag are checked; 1 s if 0.
	Probe time.Duration
	// ReadTimeout bounds one read (and one probe) on the replica before
	// the primary is asked instead; 2 s if 0.
	ReadTimeout time.Duration
	// Logger reports the replica's changes of state; slog.Default if nil.
	Logger *slog.Logger
}

// DefaultReplicaMaxLag is ReplicaOptions.MaxLag's default.
const DefaultReplicaMaxLag = 10 * time.Second

// replicaApplicationName names the replica's sessions (pg_stat_activity)
// unless the URL names them.
const replicaApplicationName = "qujat-lag-tolerant-reads"

// OpenReplica returns the lag-tolerant reads of primary served from the
// replica at url, and starts probing it. A replica that cannot be reached
// is not an error (the primary serves those reads until it can): only a
// malformed url is, EINVALID. Close it before the primary.
func OpenReplica(ctx context.Context, primary *Store, url string, opt ReplicaOptions) (*Replica, error) {
	if opt.MaxLag <= 0 {
		opt.MaxLag = DefaultReplicaMaxLag
	}
	if opt.Probe <= 0 {
		opt.Probe = time.Second
	}
	if opt.ReadTimeout <= 0 {
		opt.ReadTimeout = 2 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the password: keep it out of the message.
		return nil, wallet.Wrap(wallet.EINVALID, err, "postgres: invalid replica connection string")
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = replicaApplicationName
	}
	if cfg.ConnConfig.ConnectTimeout <= 0 || cfg.ConnConfig.ConnectTimeout > opt.ReadTimeout {
		cfg.ConnConfig.ConnectTimeout = opt.ReadTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINVALID, err, "postgres: invalid replica pool configuration")
	}
	r := &Replica{primary: primary, standby: &Store{pool: pool}, opt: opt, done: make(chan struct{})}
	r.state.Store(ReplicaUnavailable)
	r.probe(ctx)
	watch, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop = stop
	go r.watch(watch)
	return r, nil
}

// Close stops probing and closes the replica's pool (not the primary's).
func (r *Replica) Close() error {
	r.stop()
	<-r.done
	r.standby.pool.Close()
	return nil
}

// State is what the last probe found (ReplicaOK, ReplicaUnavailable,
// ReplicaLagging or ReplicaPromoted), or ReplicaUnavailable after a read
// on the replica failed for want of it.
func (r *Replica) State() string { return r.state.Load().(string) }

// Lag is how far behind the primary the replica was at the last probe
// that reached it.
func (r *Replica) Lag() time.Duration { return time.Duration(r.lag.Load()) }

// Served returns how many lag-tolerant reads the replica and the primary
// have answered.
func (r *Replica) Served() (replica, primary int64) { return r.replica.Load(), r.primed.Load() }

func (r *Replica) watch(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.opt.Probe)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.probe(ctx)
		}
	}
}

// probeSQL asks whether the server is still a replica, whether it
// receives the primary's WAL, and how far its replay is behind: zero when
// it has replayed all it received, else the age of the last transaction
// it replayed (so an idle primary does not look like lag).
const probeSQL = `SELECT pg_is_in_recovery(),
	EXISTS (SELECT 1 FROM pg_stat_wal_receiver),
	coalesce(CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
		ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END, 0)::float8`

func (r *Replica) probe(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, r.opt.ReadTimeout)
	defer cancel()
	var (
		recovering, receiving bool
		lag                   float64
	)
	err := r.standby.pool.QueryRow(ctx, probeSQL).Scan(&recovering, &receiving, &lag)
	state := ReplicaOK
	switch {
	case err != nil:
		if parent.Err() != nil {
			return // closing
		}
		state = ReplicaUnavailable
	case !recovering:
		state = ReplicaPromoted
	default:
		r.lag.Store(int64(lag * float64(time.Second)))
		if !receiving || r.Lag() > r.opt.MaxLag {
			state = ReplicaLagging
		}
	}
	r.setState(state, err)
}

func (r *Replica) setState(state string, err error) {
	old := r.state.Swap(state).(string)
	if old == state {
		return
	}
	switch {
	case state == ReplicaOK:
		r.opt.Logger.Info("postgres replica serves lag-tolerant reads again", "was", old)
	default:
		attrs := []any{"state", state, "lag", r.Lag().String()}
		if err != nil {
			attrs = append(attrs, "error", wallet.ErrorMessage(wrapErr(err, "postgres replica")))
		}
		r.opt.Logger.Warn("postgres replica does not serve reads: the primary serves them", attrs...)
	}
}

// read runs fn on the replica while it serves reads, and on the primary
// when it does not or fn fails there for any reason.
func read[T any](ctx context.Context, r *Replica, fn func(ctx context.Context, s *Store) (T, error)) (T, error) {
	if r.State() == ReplicaOK {
		rctx, cancel := context.WithTimeout(ctx, r.opt.ReadTimeout)
		v, err := fn(rctx, r.standby)
		cancel()
		if err == nil {
			r.replica.Add(1)
			return v, nil
		}
		if ctx.Err() != nil {
			return v, err
		}
		if wallet.IsCode(err, wallet.EUNAVAILABLE) {
			// Until the next probe finds it well.
			r.state.CompareAndSwap(ReplicaOK, ReplicaUnavailable)
		}
		// Not there yet, unreachable, or cancelled by recovery: the
		// primary has it.
	}
	v, err := fn(ctx, r.primary)
	if err == nil {
		r.primed.Add(1)
	}
	return v, err
}

// Document is Store.Document, on the replica. ENOTFOUND.
func (r *Replica) Document(ctx context.Context, id string) (wallet.StoredDocument, error) {
	return read(ctx, r, func(ctx context.Context, s *Store) (wallet.StoredDocument, error) { return s.Document(ctx, id) })
}

// Duplicate is Store.Duplicate, on the replica. ENOTFOUND.
func (r *Replica) Duplicate(ctx context.Context, id string) (wallet.Duplicate, error) {
	return read(ctx, r, func(ctx context.Context, s *Store) (wallet.Duplicate, error) { return s.Duplicate(ctx, id) })
}

// Staff is Store.Staff, on the replica.
func (r *Replica) Staff(ctx context.Context) ([]wallet.StaffMember, error) {
	return read(ctx, r, func(ctx context.Context, s *Store) ([]wallet.StaffMember, error) { return s.Staff(ctx) })
}

// LogSize is Store.LogSize, on the replica.
func (r *Replica) LogSize(ctx context.Context) (int64, error) {
	return read(ctx, r, func(ctx context.Context, s *Store) (int64, error) { return s.LogSize(ctx) })
}

// Leaves is Store.Leaves, on the replica.
func (r *Replica) Leaves(ctx context.Context, from int64, limit int) ([]historylog.StoredLeaf, error) {
	return read(ctx, r, func(ctx context.Context, s *Store) ([]historylog.StoredLeaf, error) {
		return s.Leaves(ctx, from, limit)
	})
}

// ReadHashes is Store.ReadHashes, on the replica. ENOTFOUND if one is
// missing on both.
func (r *Replica) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return read(ctx, r, func(ctx context.Context, s *Store) ([]tlog.Hash, error) { return s.ReadHashes(ctx, indexes) })
}

// LatestCheckpoint is Store.LatestCheckpoint, on the replica. ENOTFOUND
// for an empty log.
func (r *Replica) LatestCheckpoint(ctx context.Context) (historylog.StoredCheckpoint, error) {
	return read(ctx, r, func(ctx context.Context, s *Store) (historylog.StoredCheckpoint, error) {
		return s.LatestCheckpoint(ctx)
	})
}
