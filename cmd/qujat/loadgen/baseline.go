package loadgen

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	qapi "github.com/qujat/qujat/api"
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

// BaselineHTTP is the HTTP ceiling: an in-process echo server that does
// what the API's framework does for a redemption and nothing else.
const BaselineHTTP = "http-echo-post"

// echoRequest is a redemption request's body.
type echoRequest struct {
	Token     string `json:"token,omitempty"`
	ShortCode string `json:"short_code,omitempty"`
	OwnerIIN  string `json:"owner_iin,omitempty"`
}

// echoDocument is shaped like a redeemed document: about 2 KB of JSON, the
// size of a redemption's answer (1.7–2.3 KB for the demo documents).
type echoDocument struct {
	ViewID   string            `json:"view_id"`
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Title    string            `json:"title"`
	Status   string            `json:"status"`
	Fields   map[string]string `json:"fields"`
	JWS      string            `json:"jws"`
	ViewedAt time.Time         `json:"viewed_at"`
}

// httpBaseline starts an echo server on a loopback port whose one route
// binds a redemption request with the API's own binding (api.BindJSON) and
// answers a redemption-sized JSON document, marshalled per request, and
// drives it with the load generator's own HTTP client.
func httpBaseline(ctx context.Context, conc int) (*baseline, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	doc := echoDocument{
		ViewID: "view_" + strings.Repeat("v", 26), ID: "doc_" + strings.Repeat("d", 26), Type: "id_card",
		Title: "Identity card", Status: "valid", JWS: strings.Repeat("J", 1150),
		Fields: map[string]string{"surname": "Nurlanov", "given_name": "Aidos", "patronymic": "Serikuly",
			"birth_date": "1988-04-12", "birth_place": "Almaty", "nationality": "Kazakh", "citizenship": "Republic of Kazakhstan",
			"sex": "M", "issuer": "Ministry of Internal Affairs", "number": "041238137", "issued_on": "2017-01-01", "expires_on": "2026-12-31"},
	}
	e.POST("/redeem", func(c echo.Context) error {
		var req echoRequest
		if err := qapi.BindJSON(c, &req); err != nil {
			return err
		}
		d := doc
		d.ViewedAt = time.Now().UTC()
		return c.JSON(http.StatusOK, d)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("http baseline: %w", err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	client := newAPI("http://"+ln.Addr().String(), conc)
	body := mustJSON(echoRequest{Token: strings.Repeat("t", 43)})
	return &baseline{
		name: BaselineHTTP,
		what: "an in-process echo server binding a redemption's JSON body as the API does and answering a 2 KB JSON document, over loopback with the load generator's client",
		op: func(ctx context.Context, w int) (int, bool, bool) {
			st, err := client.do(ctx, "POST", "/redeem", "", body, nil)
			return st, err == nil && st == http.StatusOK, false
		},
		close: func() {
			client.close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		},
	}, nil
}
