package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/historylog/historylogtest"
	"github.com/qujat/qujat/internal/servicetest"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/wallettest"
)

func newLogStore(t *testing.T) historylog.LogStore {
	return openStore(t, wallettest.PostgresSchemaURL(t))
}

func TestLogStore(t *testing.T) {
	wallettest.PostgresURL(t)
	historylogtest.RunLogStoreTests(t, newLogStore)
}

func TestLog(t *testing.T) {
	wallettest.PostgresURL(t)
	historylogtest.RunLogTests(t, newLogStore)
}

// numbered turns the suite's "?" placeholders into $1, $2, ...
func numbered(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestAudit(t *testing.T) {
	wallettest.PostgresURL(t)
	historylogtest.RunAuditTests(t, func(t *testing.T) historylogtest.Tamperable {
		u := wallettest.PostgresSchemaURL(t)
		s := openStore(t, u)
		// Tampering goes through a connection of its own, as the owner's would.
		conn, err := pgx.Connect(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return historylogtest.Tamperable{Store: s, Exec: func(t *testing.T, query string, args ...any) {
			t.Helper()
			if _, err := conn.Exec(context.Background(), numbered(query), args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}}
	})
}

// TestServiceRole_MayOnlyInsertAndReadTheLog applies
// scripts/postgres-log-role.sql and connects as a login role of
// qujat_service: the Log appends and proves, but UPDATE, DELETE and
// TRUNCATE of the log tables are refused.
func TestServiceRole_MayOnlyInsertAndReadTheLog(t *testing.T) {
	ctx := context.Background()
	ownerURL := wallettest.PostgresSchemaURL(t)
	openStore(t, ownerURL) // migrated by the owner
	script, err := os.ReadFile(filepath.Join("..", "..", "scripts", "postgres-log-role.sql"))
	if err != nil {
		t.Fatal(err)
	}
	owner, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	if _, err := owner.Exec(ctx, string(script)); err != nil {
		t.Fatalf("postgres-log-role.sql: %v", err)
	}
	// A login role of the group, for this test only.
	var b [6]byte
	rand.Read(b[:])
	login, password := "qujat_app_test_"+hex.EncodeToString(b[:]), hex.EncodeToString(b[:])+"pw"
	if _, err := owner.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE qujat_service", login, password)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Runs after the service's pool is closed (registered before it).
		c, err := pgx.Connect(context.Background(), ownerURL)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP ROLE "+login); err != nil {
			t.Errorf("drop role: %v", err)
		}
	})
	u, err := url.Parse(ownerURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// A keyword/value connection string parses as a URL without a scheme.
		servicetest.Skip(t, servicetest.Postgres, "TEST_DATABASE_URL is not a postgres:// URL, which "+t.Name()+" needs to log in as another role")
	}
	u.User = url.UserPassword(login, password)
	svc, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })

	// The service appends, proves and erases payloads.
	keys, err := historylog.NewKeys("qujat.test/log", nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := historylog.New(historylog.Config{Store: svc, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 3 {
		if _, err := l.Append(ctx, historylog.Entry{Kind: history.KindView, At: time.Now(), Subjects: []string{"900101100001", fmt.Sprint("90010110000", i+2)}, Payload: []byte("p")}); err != nil {
			t.Fatalf("append as the service role: %v", err)
		}
	}
	// And commits the wallet's changes with their leaves: a share opened
	// and redeemed, in one transaction with the log's rows.
	now := time.Now()
	idx, err := history.Recorder{Log: l}.Commit(ctx, wallet.Change{
		Ops: []wallet.Op{
			wallet.CreateShare{Share: wallet.Share{ID: "sh-1", DocumentID: "doc-1", OwnerIIN: "900101100001", CreatedBy: "900101100001",
				MaxViews: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}},
			wallet.RedeemShare{ShareID: "sh-1", View: wallet.View{ID: "v-1", DocumentID: "doc-1", OwnerIIN: "900101100001",
				ViewerKind: wallet.ViewerCitizen, ViewerID: "900101100009", Channel: wallet.ChannelQR, At: now, LogIndex: -1}},
		},
		Events: []wallet.Event{{ID: "e-1", Kind: wallet.EventShareOpened, SubjectIIN: "900101100001", ActorKind: wallet.ViewerCitizen,
			ActorID: "900101100001", ObjectID: "sh-1", At: now, LogIndex: -1}},
	})
	if err != nil || len(idx) != 2 || idx[0] != 3 {
		t.Fatalf("commit a change as the service role: %v, %v", idx, err)
	}
	if _, err := l.InclusionProof(ctx, 1, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ErasePayloads(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("erase payloads as the service role: %v", err)
	}
	if _, err := historylog.Audit(ctx, svc, keys.VerifierKey); err != nil {
		t.Fatal(err)
	}
	// The wallet's other tables stay writable.
	if err := svc.CreateClient(ctx, wallet.Client{ID: "bank-1", Name: "Bank", Kind: "bank"}); err != nil {
		t.Fatalf("service role on the wallet's tables: %v", err)
	}

	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		`UPDATE log_leaves SET leaf = leaf`,
		`DELETE FROM log_leaves WHERE idx = 1`,
		`TRUNCATE log_leaves`,
		`UPDATE log_hashes SET hash = hash`,
		`DELETE FROM log_hashes`,
		`UPDATE log_checkpoints SET note = note`,
		`DELETE FROM log_checkpoints`,
		`DELETE FROM log_parties`,
		`UPDATE log_payloads SET payload = payload`,
	} {
		_, err := conn.Exec(ctx, stmt)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" { // insufficient_privilege
			t.Errorf("%s as the service role: %v, want permission denied (42501)", stmt, err)
		}
	}
	if n, _ := svc.LogSize(ctx); n != 5 {
		t.Fatalf("LogSize = %d, want 5", n)
	}
}
