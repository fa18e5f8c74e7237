package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/qujat/qujat/wallet"
)

// safeToRetry is an error of the driver's kind that says nothing reached
// the server.
type safeToRetry struct{}

func (safeToRetry) Error() string     { return "failed to write query" }
func (safeToRetry) SafeToRetry() bool { return true }

// Every connection-level failure is 503 unavailable, never 500: the
// request may have been committed, and the client must retry (with its
// idempotency key) rather than give up.
func TestWrapErr_ConnectionLevelErrorsAreUnavailable(t *testing.T) {
	unavailable := map[string]error{
		"conn closed":              fmt.Errorf("commit: %w", pgconn.ErrConnClosed),
		"safe to retry":            fmt.Errorf("query: %w", safeToRetry{}),
		"net.OpError":              &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET},
		"connection reset":         fmt.Errorf("read: %w", syscall.ECONNRESET),
		"connection refused":       fmt.Errorf("dial: %w", syscall.ECONNREFUSED),
		"broken pipe":              fmt.Errorf("write: %w", syscall.EPIPE),
		"net.ErrClosed":            fmt.Errorf("read: %w", net.ErrClosed),
		"EOF":                      io.EOF,
		"unexpected EOF":           fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF),
		"context canceled":         fmt.Errorf("query: %w", context.Canceled),
		"context deadline":         fmt.Errorf("query: %w", context.DeadlineExceeded),
		"closed pool":              puddle.ErrClosedPool,
		"admin shutdown 57P01":     &pgconn.PgError{Code: "57P01"},
		"connection failure 08006": &pgconn.PgError{Code: "08006"},
		"too many connections":     &pgconn.PgError{Code: "53300"},
	}
	if url := os.Getenv("TEST_DATABASE_URL"); url != "" {
		// The driver's own error for a statement on a closed connection.
		ctx := context.Background()
		c, err := pgconn.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		c.Close(ctx)
		_, err = c.Exec(ctx, "select 1").ReadAll()
		if err == nil {
			t.Fatal("exec on a closed connection succeeded")
		}
		unavailable["driver conn closed"] = err
	}
	for name, err := range unavailable {
		if got := wallet.ErrorCode(wrapErr(err, "op")); got != wallet.EUNAVAILABLE {
			t.Errorf("%s (%v): %s, want %s", name, err, got, wallet.EUNAVAILABLE)
		}
	}

	others := map[string]struct {
		err  error
		code string
	}{
		"no rows":      {pgx.ErrNoRows, wallet.ENOTFOUND},
		"unique":       {&pgconn.PgError{Code: "23505"}, wallet.ECONFLICT},
		"serialize":    {&pgconn.PgError{Code: "40001"}, wallet.ECONFLICT},
		"bad data":     {&pgconn.PgError{Code: "22P02"}, wallet.EINVALID},
		"syntax":       {&pgconn.PgError{Code: "42601"}, wallet.EINTERNAL},
		"plain error":  {errors.New("something else"), wallet.EINTERNAL},
		"wallet error": {wallet.Errorf(wallet.EEXPIRED, "gone"), wallet.EEXPIRED},
	}
	for name, c := range others {
		if got := wallet.ErrorCode(wrapErr(c.err, "op")); got != c.code {
			t.Errorf("%s: %s, want %s", name, got, c.code)
		}
	}
}
