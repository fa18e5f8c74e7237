package loadgen

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // the driver the service's SQLite store uses
)

// Baseline names.
const (
	BaselineSQLite   = "sqlite-insert-commit"
	BaselinePostgres = "postgres-insert-commit"
	BaselineRedis    = "redis-evalsha"
)

// baseline is one raw operation against a server the service uses.
type baseline struct {
	name  string
	what  string
	op    opFunc
	close func()
}

// scratchRow is about the size of a view event row (ids, IINs, a type, a
// channel, a time), so that the insert writes what a redemption writes.
var scratchRow = strings.Repeat("v", 160)

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sqliteBaseline commits single-row INSERTs to a scratch SQLite file opened
// as the service opens its own (wallet/sqlite): WAL journal, transactions
// BEGIN IMMEDIATE on one writer connection, SQLite's default synchronous
// setting, foreign keys on, 10 s busy timeout. path "" puts the file in a
// fresh directory under dir; the file (and that directory) is removed at
// close. An existing file at path is refused.
func sqliteBaseline(ctx context.Context, path, dir string) (*baseline, error) {
	cleanup := func() {}
	if path == "" {
		d, err := os.MkdirTemp(dir, "qujat-bench-")
		if err != nil {
			return nil, fmt.Errorf("sqlite baseline: %w", err)
		}
		path = filepath.Join(d, "scratch.db")
		cleanup = func() { os.RemoveAll(d) }
	} else {
		if _, err := os.Stat(path); err == nil {
			return nil, fmt.Errorf("--sqlite %s: the file exists; give a path bench may create and delete", path)
		}
		cleanup = func() {
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				os.Remove(path + suffix)
			}
		}
	}
	db, err := sql.Open("sqlite", path+"?_txlock=immediate"+
		"&_pragma=busy_timeout(10000)"+
		"&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)")
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("sqlite baseline: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if _, err := db.ExecContext(ctx, `CREATE TABLE scratch (id INTEGER PRIMARY KEY, v TEXT NOT NULL, at INTEGER NOT NULL)`); err != nil {
		db.Close()
		cleanup()
		return nil, fmt.Errorf("sqlite baseline: %w", err)
	}
	var journal string
	var sync int
	_ = db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&journal)
	_ = db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync)
	syncNames := map[int]string{0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
	return &baseline{
		name: BaselineSQLite,
		what: fmt.Sprintf("BEGIN IMMEDIATE; INSERT one row; COMMIT on one writer connection (journal_mode=%s, synchronous=%s), as wallet/sqlite writes", journal, syncNames[sync]),
		op: func(ctx context.Context, w int) (int, bool, bool) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return 0, false, false
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO scratch (v, at) VALUES (?, ?)`, scratchRow, time.Now().UnixMicro()); err != nil {
				tx.Rollback()
				return 0, false, false
			}
			return 0, tx.Commit() == nil, false
		},
		close: func() { db.Close(); cleanup() },
	}, nil
}

// postgresBaseline commits single-row INSERTs (autocommit) to a scratch
// table it creates in the database at dbURL and drops at close, through a
// pgx pool of conc connections (unless the URL sets pool_max_conns).
func postgresBaseline(ctx context.Context, dbURL string, conc int) (*baseline, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("--database-url: invalid connection string")
	}
	if !strings.Contains(dbURL, "pool_max_conns") {
		cfg.MaxConns = int32(max(conc, 1))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres baseline: %w", err)
	}
	table := "qujat_bench_scratch_" + randomSuffix()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (id bigserial PRIMARY KEY, v text NOT NULL, at timestamptz NOT NULL)`); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres baseline: create scratch table: %w", err)
	}
	var syncCommit string
	_ = pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&syncCommit)
	insert := `INSERT INTO ` + table + ` (v, at) VALUES ($1, $2)`
	return &baseline{
		name: BaselinePostgres,
		what: fmt.Sprintf("INSERT one row, autocommit, pgx pool of %d connections (synchronous_commit=%s)", cfg.MaxConns, syncCommit),
		op: func(ctx context.Context, w int) (int, bool, bool) {
			_, err := pool.Exec(ctx, insert, scratchRow, time.Now())
			return 0, err == nil, false
		},
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = pool.Exec(ctx, `DROP TABLE IF EXISTS `+table)
			pool.Close()
		},
	}, nil
}

// redisTicketScript has the shape of the service's ticket use (HMGET of the
// secret, uses and payload, then HINCRBY): one EVALSHA round trip.
var redisTicketScript = redis.NewScript(`
local t = redis.call('HMGET', KEYS[1], 'secret', 'uses', 'payload')
local n = redis.call('HINCRBY', KEYS[1], 'uses', 1)
return {n, t[3] or ''}
`)

// redisBaseline runs one EVALSHA of redisTicketScript per operation, on a
// hash per worker under a scratch prefix deleted at close, through a
// go-redis client with a pool of conc connections.
func redisBaseline(ctx context.Context, redisURL string, conc int) (*baseline, error) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %v", err)
	}
	opt.PoolSize = max(conc, 1)
	client := redis.NewClient(opt)
	prefix := "qujat-bench:" + randomSuffix() + ":"
	keys := make([]string, max(conc, 1))
	for w := range keys {
		keys[w] = fmt.Sprintf("%sticket:%d", prefix, w)
		if err := client.HSet(ctx, keys[w], "secret", strings.Repeat("a", 64), "uses", 0, "payload", scratchRow).Err(); err != nil {
			client.Close()
			return nil, fmt.Errorf("redis baseline: %w", err)
		}
	}
	if err := redisTicketScript.Load(ctx, client).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis baseline: %w", err)
	}
	return &baseline{
		name: BaselineRedis,
		what: fmt.Sprintf("one EVALSHA round trip (HMGET + HINCRBY on a hash, as a ticket use), go-redis pool of %d", opt.PoolSize),
		op: func(ctx context.Context, w int) (int, bool, bool) {
			err := redisTicketScript.EvalSha(ctx, client, []string{keys[w%len(keys)]}).Err()
			return 0, err == nil, false
		},
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = client.Del(ctx, keys...).Err()
			client.Close()
		},
	}, nil
}
