package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/wallettest"
)

// makeHistory runs the service, has a few events logged, and stops it.
func makeHistory(t *testing.T, env map[string]string) {
	t.Helper()
	svc := startServiceStoppable(t, env)
	defer svc.stop()
	c := client{t, svc.base}
	a := c.signIn("880412310009", "+77011234567")
	b := c.signIn("800519347947", "+77072675825")
	_, m := c.call("GET", "/v1/documents", a, nil)
	docs := m["documents"].([]any)
	for i := 0; i < 3; i++ {
		_, sh := c.call("POST", "/v1/documents/"+docs[i].(map[string]any)["id"].(string)+"/shares", a, map[string]any{})
		if st, r := c.call("POST", "/v1/shares/redeem", b, map[string]string{"token": sh["token"].(string)}); st != 200 || r["log_index"] == nil {
			t.Fatalf("redeem: %d %v", st, r)
		}
	}
}

func audit(t *testing.T, env map[string]string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"audit", "verify"}, func(k string) string { return env[k] }, &out)
	return out.String(), err
}

func auditVerifyCase(t *testing.T, env map[string]string, tamper func(statement string)) {
	makeHistory(t, env)
	out, err := audit(t, env)
	if err != nil || !strings.Contains(out, "OK:") || !strings.Contains(out, "each with its leaf") {
		t.Fatalf("audit of an untouched log: %v\n%s", err, out)
	}
	// A view stored without its leaf fails the audit, naming the view.
	tamper(`UPDATE views SET log_index = NULL WHERE id = (SELECT min(id) FROM views)`)
	out, err = audit(t, env)
	if err == nil || exitCode(err) != 3 || !strings.Contains(out, "has no leaf in the history log") {
		t.Fatalf("an unlogged view was not reported: %v\n%s", err, out)
	}
	// Deleting a leaf is found at its index. (Every other kind of tampering
	// is tested on both stores in historylog/historylogtest and
	// wallet/wallettest; this checks that the command reports it and exits
	// non-zero.)
	tamper(`DELETE FROM log_leaves WHERE idx = 2`)
	out, err = audit(t, env)
	if err == nil || exitCode(err) != 3 || !strings.Contains(out, "index 2") {
		t.Fatalf("a deleted leaf was not found at index 2: %v\n%s", err, out)
	}
}

// testAuditChainRewrite rewrites one document's whole version chain by SQL,
// consistently (every hash recomputed, so the chain alone still verifies),
// and checks that audit verify names that document.
func auditChainRewriteCase(t *testing.T, env map[string]string, tamper func(statement string)) {
	makeHistory(t, env)
	if out, err := audit(t, env); err != nil {
		t.Fatalf("audit of an untouched log: %v\n%s", err, out)
	}
	ctx := context.Background()
	cfg, err := loadConfig(func(k string) string { return env[k] }, flag.NewFlagSet("test", flag.ContinueOnError), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := st.Documents(ctx, "880412310009")
	if err != nil || len(docs) == 0 {
		t.Fatalf("documents: %v %v", docs, err)
	}
	target := docs[len(docs)-1].ID
	versions, err := st.Versions(ctx, target)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	prev := ""
	for _, v := range versions {
		jws := v.JWS + "forged"
		hash := wallet.VersionHash(prev, v.Content, jws)
		tamper(fmt.Sprintf(`UPDATE document_versions SET jws = '%s', prev_hash = '%s', hash = '%s' WHERE document_id = '%s' AND version = %d`,
			jws, prev, hash, target, v.Version))
		prev = hash
	}
	out, err := audit(t, env)
	if err == nil || exitCode(err) != 3 || !strings.Contains(out, "document "+target) {
		t.Fatalf("a rewritten chain was not named (want document %s): %v\n%s", target, err, out)
	}
}

// sqliteCase is a data directory on the embedded default and a way to
// change its database behind the service's back.
func sqliteCase(t *testing.T) (map[string]string, func(string)) {
	dir := t.TempDir()
	return map[string]string{"QUJAT_DATA_DIR": dir}, func(statement string) {
		db, err := sql.Open("sqlite", filepath.Join(dir, "qujat.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(statement); err != nil {
			t.Fatal(err)
		}
	}
}

// postgresCase is the same on a PostgreSQL schema of the test's own.
func postgresCase(t *testing.T) (map[string]string, func(string)) {
	url := wallettest.PostgresSchemaURL(t)
	return map[string]string{"QUJAT_DATA_DIR": t.TempDir(), "QUJAT_DATABASE_URL": url, "QUJAT_DEV": "1"}, func(statement string) {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), statement); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditVerify_SQLite(t *testing.T) {
	env, tamper := sqliteCase(t)
	auditVerifyCase(t, env, tamper)
}

func TestAuditVerify_Postgres(t *testing.T) {
	skipIfShort(t)
	env, tamper := postgresCase(t)
	auditVerifyCase(t, env, tamper)
}

func TestAuditVerify_RewrittenChainIsNamed_SQLite(t *testing.T) {
	env, tamper := sqliteCase(t)
	auditChainRewriteCase(t, env, tamper)
}

func TestAuditVerify_RewrittenChainIsNamed_Postgres(t *testing.T) {
	skipIfShort(t)
	env, tamper := postgresCase(t)
	auditChainRewriteCase(t, env, tamper)
}

// TestAuditVerify_CreatesNoKeys: on an empty data directory, or one that
// does not exist, audit verify fails naming the missing key and leaves the
// directory as it was.
func TestAuditVerify_CreatesNoKeys(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{root, filepath.Join(root, "missing")} {
		out, err := audit(t, map[string]string{"QUJAT_DATA_DIR": dir})
		if err == nil || exitCode(err) == 0 {
			t.Fatalf("audit verify on %s succeeded:\n%s", dir, out)
		}
		if !strings.Contains(err.Error(), historylog.SigningKeyFile) || !strings.Contains(err.Error(), "creates no keys") {
			t.Errorf("error does not say which key is missing: %v", err)
		}
		if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
			t.Fatalf("audit verify created %v (%v)", entries, err)
		}
	}
}

// TestAuditVerify_WithAKeyCreatesNoDatabase: given the verifier key, audit
// verify on an empty data directory fails and creates nothing there.
func TestAuditVerify_WithAKeyCreatesNoDatabase(t *testing.T) {
	root := t.TempDir()
	keys, err := historylog.NewKeys("qujat.test/history", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run(context.Background(), []string{"audit", "verify", "--verifier-key", keys.VerifierKey},
		func(k string) string { return map[string]string{"QUJAT_DATA_DIR": root}[k] }, &out)
	if err == nil || !strings.Contains(err.Error(), "creates none") {
		t.Fatalf("audit verify on an empty directory: %v\n%s", err, out.String())
	}
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
		t.Fatalf("audit verify created %v (%v)", entries, err)
	}
}
