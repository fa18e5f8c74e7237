package postgres_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/internal/servicetest"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/postgres"
)

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func appendEvents(t *testing.T, l *historylog.Log, n int) {
	t.Helper()
	for i := range n {
		_, err := l.Commit(context.Background(), historylog.Change{Entries: []historylog.Entry{{
			Kind: "test_event", At: time.Now(), Subjects: []string{fmt.Sprintf("citizen:%d", i)},
		}}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func checkpoint(t *testing.T, l *historylog.Log) historylog.Checkpoint {
	t.Helper()
	note, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := historylog.ParseCheckpoint(note)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func leavesOn(t *testing.T, s *servicetest.PGServer) int64 {
	t.Helper()
	var n int64
	if err := s.Exec("", "SELECT count(*) FROM log_leaves", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A primary and a streaming replica started by the test (pg_basebackup
// -R): the reads that tolerate lag are served by the replica while it is
// well (shown by its counter and by the older checkpoint it serves while
// its replay is paused); what it does not have yet, the primary serves; a
// replica further behind than MaxLag, stopped, stalled or promoted serves
// nothing and no read fails.
func TestReplica_LagTolerantReadsGoToTheReplicaAndFallBackToThePrimary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers; skipped with -short")
	}
	primary := servicetest.StartPostgresPrimary(t)
	standby := primary.StartReplica()
	ctx := context.Background()
	store := openStore(t, primary.URL(""))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(maxLag time.Duration) *postgres.Replica {
		r, err := postgres.OpenReplica(ctx, store, standby.URL(""), postgres.ReplicaOptions{
			MaxLag: maxLag, Probe: 50 * time.Millisecond, ReadTimeout: time.Second, Logger: quiet,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	// r tolerates any lag this test makes; strict is left behind at once.
	r, strict := open(time.Hour), open(300*time.Millisecond)
	keys, err := historylog.NewKeys("replica.test/log", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	newLog := func(reads historylog.LogReader) *historylog.Log {
		l, err := historylog.New(historylog.Config{Store: store, Reads: reads, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	l, lStrict := newLog(r), newLog(strict)

	appendEvents(t, l, 5)
	waitFor(t, "the replica replays the first five leaves", func() bool {
		return leavesOn(t, standby) == 5 && r.State() == postgres.ReplicaOK && strict.State() == postgres.ReplicaOK
	})

	// Served by the replica.
	rep0, pri0 := r.Served()
	if cp := checkpoint(t, l); cp.Size != 5 {
		t.Fatalf("checkpoint of size %d, want 5", cp.Size)
	}
	if _, err := r.Staff(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, pri := r.Served(); rep != rep0+2 || pri != pri0 {
		t.Fatalf("served by the replica %d → %d, by the primary %d → %d; want 2 more by the replica", rep0, rep, pri0, pri)
	}
	// A row neither has keeps its error (asked of the primary too).
	if _, err := r.Document(ctx, "doc_missing"); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("missing document: %v, want not_found", err)
	}

	// The replica stops replaying: it is behind. The checkpoint it serves
	// is its own, older one; the newer leaves and proofs over them come
	// from the primary.
	if err := standby.Exec("", "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, l, 3)
	primaryCP, err := store.LatestCheckpoint(ctx)
	if err != nil || primaryCP.Size != 8 {
		t.Fatalf("primary's checkpoint: size %d, %v", primaryCP.Size, err)
	}
	if cp := checkpoint(t, l); cp.Size != 5 {
		t.Fatalf("the lagging replica served a checkpoint of size %d, want its own 5", cp.Size)
	}
	if _, _, err := l.Leaf(ctx, 7); err != nil {
		t.Fatalf("leaf 7, on the primary only: %v", err)
	}
	p, err := l.InclusionProof(ctx, 7, 8)
	if err != nil {
		t.Fatalf("inclusion proof of leaf 7 in 8: %v", err)
	}
	if err := tlog.CheckRecord(p.Proof, 8, primaryCP.Root, 7, p.LeafHash); err != nil {
		t.Fatalf("the proof does not check against the primary's root: %v", err)
	}
	if _, err := l.ConsistencyProof(ctx, 5, 8); err != nil {
		t.Fatalf("consistency proof 5 → 8: %v", err)
	}

	// Further behind than strict's MaxLag: strict sends every read to
	// the primary.
	waitFor(t, "the strict replica to report lagging", func() bool { return strict.State() == postgres.ReplicaLagging })
	rep0, pri0 = strict.Served()
	if cp := checkpoint(t, lStrict); cp.Size != 8 {
		t.Fatalf("a replica beyond MaxLag: checkpoint of size %d, want the primary's 8", cp.Size)
	}
	if rep, pri := strict.Served(); rep != rep0 || pri != pri0+1 {
		t.Fatalf("beyond MaxLag: served by the replica %d → %d, by the primary %d → %d", rep0, rep, pri0, pri)
	}
	if err := standby.Exec("", "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica catches up", func() bool {
		return leavesOn(t, standby) == 8 && strict.State() == postgres.ReplicaOK
	})
	if cp := checkpoint(t, l); cp.Size != 8 {
		t.Fatalf("caught up: checkpoint of size %d, want 8", cp.Size)
	}

	// The replica goes down: the primary answers, without an error.
	standby.Stop()
	if cp := checkpoint(t, l); cp.Size != 8 {
		t.Fatalf("replica down: checkpoint of size %d, want 8", cp.Size)
	}
	waitFor(t, "the replica to be found unavailable", func() bool { return r.State() == postgres.ReplicaUnavailable })
	_, pri0 = r.Served()
	appendEvents(t, l, 1)
	if cp := checkpoint(t, l); cp.Size != 9 {
		t.Fatalf("replica down: checkpoint of size %d, want 9", cp.Size)
	}
	if _, pri := r.Served(); pri != pri0+1 {
		t.Fatalf("replica down: the primary served %d → %d", pri0, pri)
	}
	standby.Restart()
	waitFor(t, "the restarted replica catches up", func() bool {
		return leavesOn(t, standby) == 9 && r.State() == postgres.ReplicaOK
	})

	// The replica stalls, as a machine that hangs: a read waits at most
	// ReadTimeout on it before the primary answers, and the probe keeps
	// the next reads off it.
	standby.Stall()
	appendEvents(t, l, 1)
	if cp := checkpoint(t, l); cp.Size != 10 {
		t.Fatalf("replica stalled: checkpoint of size %d, want 10", cp.Size)
	}
	waitFor(t, "the stalled replica to be found unavailable", func() bool { return r.State() == postgres.ReplicaUnavailable })
	if _, err := l.InclusionProof(ctx, 9, 10); err != nil {
		t.Fatalf("replica stalled: inclusion proof: %v", err)
	}
	standby.Resume()
	waitFor(t, "the resumed replica catches up", func() bool {
		return leavesOn(t, standby) == 10 && r.State() == postgres.ReplicaOK
	})

	// Promoted, it leaves the primary's timeline: never read again.
	standby.Promote()
	waitFor(t, "the replica to be found promoted", func() bool { return r.State() == postgres.ReplicaPromoted })
	appendEvents(t, l, 2)
	if cp := checkpoint(t, l); cp.Size != 12 {
		t.Fatalf("after the promotion: checkpoint of size %d, want the primary's 12", cp.Size)
	}
	if n := leavesOn(t, standby); n != 10 {
		t.Fatalf("the promoted server has %d leaves, want the 10 it had", n)
	}
}
