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

// appendConcurrently appends n views to l from appenders goroutines.
func appendConcurrently(t testing.TB, l *historylog.Log, appenders, n int) {
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
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
}

// BenchmarkGroupCommitVsOneTxPerEvent measures, in the same run, appends per
// second with group commit and with one transaction per event: each
// iteration has appenders goroutines append n views to a group-commit Log,
// then n to a one-transaction-per-event Log, each on a store of its own from
// newStore. It reports both rates and their ratio (group-x).
func BenchmarkGroupCommitVsOneTxPerEvent(b *testing.B, newStore func(b *testing.B) historylog.LogStore, appenders, n int) {
	group := newLog(b, newStore(b), newKeys(b), 0)
	one := newLog(b, newStore(b), newKeys(b), 1)
	var groupTime, oneTime time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		appendConcurrently(b, group, appenders, n)
		mid := time.Now()
		appendConcurrently(b, one, appenders, n)
		groupTime += mid.Sub(start)
		oneTime += time.Since(mid)
	}
	total := float64(b.N * n)
	b.ReportMetric(total/groupTime.Seconds(), "group-appends/s")
	b.ReportMetric(total/oneTime.Seconds(), "one-tx-appends/s")
	b.ReportMetric(oneTime.Seconds()/groupTime.Seconds(), "group-x")
}

// BenchmarkInstances measures, in the same run, appends per second to a log
// written by one Log (one service instance) and by instances Logs on one
// store (one per instance, each with its own sequencer, their batches
// serialised by the store's append lock). Each iteration has appenders
// goroutines append n views through one Log, then through instances Logs
// (appenders spread over them), each on a store of its own from newStore.
// It reports both rates and their ratio (instances-x).
func BenchmarkInstances(b *testing.B, newStore func(b *testing.B) historylog.LogStore, instances, appenders, n int) {
	one := newLog(b, newStore(b), newKeys(b), 0)
	shared := newStore(b)
	keys := newKeys(b)
	many := make([]*historylog.Log, instances)
	for i := range many {
		many[i] = newLog(b, shared, keys, 0)
	}
	var oneTime, manyTime time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		appendConcurrently(b, one, appenders, n)
		mid := time.Now()
		var wg sync.WaitGroup
		for _, l := range many {
			wg.Add(1)
			go func() {
				defer wg.Done()
				appendConcurrently(b, l, appenders/instances, n/instances)
			}()
		}
		wg.Wait()
		oneTime += mid.Sub(start)
		manyTime += time.Since(mid)
	}
	perIter := float64(b.N)
	b.ReportMetric(perIter*float64(n)/oneTime.Seconds(), "one-instance-appends/s")
	b.ReportMetric(perIter*float64(n/instances*instances)/manyTime.Seconds(), "instances-appends/s")
	b.ReportMetric((float64(n/instances*instances)/manyTime.Seconds())/(float64(n)/oneTime.Seconds()), "instances-x")
}
