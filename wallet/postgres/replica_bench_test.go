package postgres_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/internal/servicetest"
	"github.com/qujat/qujat/wallet/postgres"
)

// BenchmarkLagTolerantReads: inclusion proofs on a log of 20,000 leaves,
// 8×GOMAXPROCS readers at once, served by the primary and then by a
// streaming replica (servers started by the benchmark, on this machine).
// The rate a replica adds is the rate it serves: what the primary no
// longer does.
func BenchmarkLagTolerantReads(b *testing.B) {
	const leaves = 20000
	primary := servicetest.StartPostgresPrimary(b)
	standby := primary.StartReplica()
	ctx := context.Background()
	store, err := postgres.Open(ctx, primary.URL(""))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	r, err := postgres.OpenReplica(ctx, store, standby.URL(""), postgres.ReplicaOptions{
		MaxLag: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	keys, err := historylog.NewKeys("replica.bench/log", rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	newLog := func(reads historylog.LogReader) *historylog.Log {
		l, err := historylog.New(historylog.Config{Store: store, Reads: reads, Keys: keys})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		return l
	}
	onPrimary, onReplica := newLog(nil), newLog(r)
	// The log, appended by 64 writers at once (group commit).
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < leaves; i += 64 {
				_, err := onPrimary.Commit(ctx, historylog.Change{Entries: []historylog.Entry{{
					Kind: "bench_event", At: time.Now(), Subjects: []string{fmt.Sprintf("citizen:%d", i%1000)},
				}}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var n int64
		if err := standby.Exec("", "SELECT count(*) FROM log_leaves", &n); err != nil {
			b.Fatal(err)
		}
		if n == leaves && r.State() == postgres.ReplicaOK {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the replica has %d of %d leaves, state %s", n, leaves, r.State())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, side := range []struct {
		name string
		log  *historylog.Log
	}{{"primary", onPrimary}, {"replica", onReplica}} {
		b.Run(side.name, func(b *testing.B) {
			rep0, _ := r.Served()
			b.SetParallelism(8)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				i := int64(0)
				for pb.Next() {
					i++
					if _, err := side.log.InclusionProof(ctx, (i*7919)%leaves, leaves); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "proofs/s")
			rep, _ := r.Served()
			if side.name == "replica" && rep-rep0 < int64(b.N) {
				b.Fatalf("the replica served %d reads for %d proofs", rep-rep0, b.N)
			}
			if side.name == "primary" && rep != rep0 {
				b.Fatalf("the replica served %d reads of the primary's run", rep-rep0)
			}
		})
	}
}
