package wallettest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
	"github.com/qujat/qujat/wallet/keyfiles"
)

// Tamper runs one SQL statement directly against a store's database,
// bypassing the Store, as an attacker with database access would.
type Tamper func(t *testing.T, statement string)

// ChainDialect names the SQL that changes a stored version's content bytes.
type ChainDialect struct {
	// AppendContentByte is an UPDATE of document_versions that appends one
	// byte to content WHERE version = 2.
	AppendContentByte string
}

// changingSource answers one record whose content changes when told to.
type changingSource struct {
	subject wallet.IIN
	field   *string
}

func (s changingSource) Name() string { return "population" }

func (s changingSource) Records(ctx context.Context, iin wallet.IIN) ([]wallet.Record, error) {
	if iin != s.subject {
		return nil, nil
	}
	return []wallet.Record{{
		Source: "population", Type: wallet.IDCard, Number: "000000001", Issuer: "kz-mia", Subject: iin,
		Fields:   map[string]string{"surname": *s.field},
		IssuedAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
	}}, nil
}

// flipFirstByte is SQL (PostgreSQL's and SQLite's) for the hex column
// col with its first byte changed: "ff" unless it is "ff" already (one hash
// in 256), then "00".
func flipFirstByte(col string) string {
	return "CASE WHEN substr(" + col + ", 1, 2) = 'ff' THEN '00' ELSE 'ff' END || substr(" + col + ", 3)"
}

// RunVersionChainTamperTests stores three versions of a document through the
// real DocumentService, which commits each with its leaf in the history
// log (history.Recorder), then changes or removes stored versions with SQL
// and checks that wallet.VerifyChain detects each change. newStore returns
// a fresh, migrated store and a way to run SQL on its database.
func RunVersionChainTamperTests(t *testing.T, d ChainDialect, newStore func(t *testing.T) (Store, Tamper)) {
	cases := []struct {
		name, statement string
	}{
		{"content of a middle version changed", d.AppendContentByte},
		{"jws of a middle version changed", "UPDATE document_versions SET jws = jws || 'x' WHERE version = 2"},
		{"hash of a middle version changed", "UPDATE document_versions SET hash = " + flipFirstByte("hash") + " WHERE version = 2"},
		{"prev_hash of the last version changed", "UPDATE document_versions SET prev_hash = " + flipFirstByte("prev_hash") + " WHERE version = 3"},
		{"first version removed", "DELETE FROM document_versions WHERE version = 1"},
		{"middle version removed", "DELETE FROM document_versions WHERE version = 2"},
		{"versions renumbered", "UPDATE document_versions SET version = version + 10 WHERE version = 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, tamper := newStore(t)
			logKeys := logKeys(t)
			l, err := historylog.New(historylog.Config{Store: st, Keys: logKeys})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			keys, err := keyfiles.Open(t.TempDir(), []string{"kz-mia"}, wallet.AlgEdDSA)
			if err != nil {
				t.Fatal(err)
			}
			subject, _ := wallet.MakeIIN(time.Date(1990, 5, 5, 0, 0, 0, 0, time.UTC), false, 123)
			field := "One"
			now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			svc := &wallet.DocumentService{Store: st, Changes: history.Recorder{Log: l}, Sources: []wallet.Source{changingSource{subject, &field}},
				Keys: keys, Now: func() time.Time { return now }}
			for _, f := range []string{"One", "Two", "Three"} {
				field = f
				now = now.Add(time.Hour)
				if _, err := svc.Refresh(ctx, subject); err != nil {
					t.Fatal(err)
				}
			}
			docs, err := st.Documents(ctx, subject)
			if err != nil || len(docs) != 1 {
				t.Fatalf("documents: %v %d", err, len(docs))
			}
			vs, err := st.Versions(ctx, docs[0].ID)
			if err != nil || len(vs) != 3 {
				t.Fatalf("versions: %v %d", err, len(vs))
			}
			if err := wallet.VerifyChain(vs); err != nil {
				t.Fatalf("untouched chain does not verify: %v", err)
			}
			if _, err := history.Audit(ctx, st, logKeys.VerifierKey); err != nil {
				t.Fatalf("untouched store does not pass the audit: %v", err)
			}
			tamper(t, tc.statement)
			vs, err = st.Versions(ctx, docs[0].ID)
			if err != nil {
				t.Fatalf("versions after tampering: %v", err)
			}
			if err := wallet.VerifyChain(vs); err == nil {
				t.Fatalf("%s: not detected", tc.name)
			}
			// The audit of the rows against the log finds it too.
			var re *history.RowError
			if _, err := history.Audit(ctx, st, logKeys.VerifierKey); !errors.As(err, &re) {
				t.Fatalf("%s: history.Audit returned %v, want a *history.RowError", tc.name, err)
			}
		})
	}
}
