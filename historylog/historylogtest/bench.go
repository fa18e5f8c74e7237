package historylogtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
)

// BenchmarkAppend measures Log.Append of one view per call, called by
// parallelism×GOMAXPROCS goroutines at once (b.SetParallelism), on a Log
// whose batches take up to maxBatch entries: 1 is one transaction per
// event, more is group commit. It reports appends/s.
func BenchmarkAppend(b *testing.B, s historylog.LogStore, maxBatch, parallelism int) {
	keys := newKeys(b)
	l := newLog(b, s, keys, maxBatch)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := l.Append(context.Background(), entry(citizen(int(i%1000)), citizen(int(5000+i%77)), t0)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "appends/s")
}

// AppendRate appends n views from appenders goroutines on a Log with the
// given maxBatch and returns appends per second and the batches it took.
func AppendRate(t testing.TB, s historylog.LogStore, maxBatch, appenders, n int) (rate float64, batches int64) {
	t.Helper()
	keys := newKeys(t)
	l := newLog(t, s, keys, maxBatch)
	before, err := s.Checkpoints(context.Background(), 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	start := time.Now()
	for range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if _, err := l.Append(context.Background(), entry(citizen(int(i%1000)), citizen(int(5000+i%77)), t0)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := s.Checkpoints(context.Background(), 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	mustAudit(t, s, keys)
	return float64(n) / elapsed.Seconds(), int64(len(after) - len(before))
}

// CompareGroupCommit measures, in the same run, appends per second with
// group commit and with one transaction per event, each by appenders
// goroutines on a fresh store, logs both and their ratio; both logs must
// pass the audit.
func CompareGroupCommit(t *testing.T, newStore func(t *testing.T) historylog.LogStore, appenders, n int) {
	group := newStore(t)
	gRate, gBatches := AppendRate(t, group, 0, appenders, n)
	one := newStore(t)
	oRate, oBatches := AppendRate(t, one, 1, appenders, n)
	t.Logf("%d appenders, %d appends: group commit %.0f appends/s (%d batches, %.1f per batch); one transaction per event %.0f appends/s (%d batches); ratio %.1fx",
		appenders, n, gRate, gBatches, float64(n)/float64(max(gBatches, 1)), oRate, oBatches, gRate/oRate)
	if oBatches != int64(n) {
		t.Errorf("one transaction per event took %d batches for %d appends", oBatches, n)
	}
}
