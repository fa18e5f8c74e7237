package loadgen

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// opFunc performs one operation for worker w. It returns the HTTP status
// (0 when there was no response) and whether the operation succeeded;
// exhausted reports that there was nothing left to do (the operation did
// not happen and the phase ends).
type opFunc func(ctx context.Context, w int) (status int, ok, exhausted bool)

// loop runs op on conc workers for d. With rate > 0 it is paced: a
// dispatcher schedules one operation every 1/rate seconds and latency is
// counted from the scheduled start; otherwise each worker runs its next
// operation as soon as the last one ends. Operations are not interrupted at
// the end of d: a worker finishes the one it is in. Every second a progress
// line goes to progress (if not nil).
func loop(ctx context.Context, name string, conc int, d time.Duration, rate float64, progress io.Writer, op opFunc) Result {
	var (
		done, failed atomic.Int64
		stop         atomic.Bool
		wg           sync.WaitGroup
	)
	tallies := make([]*tally, conc)
	for i := range tallies {
		tallies[i] = &tally{lat: make([]time.Duration, 0, 1024)}
	}
	record := func(t *tally, lat time.Duration, st int, ok bool) {
		t.add(lat, st, ok)
		done.Add(1)
		if !ok {
			failed.Add(1)
		}
	}
	start := time.Now()
	deadline := start.Add(d)
	over := func() bool { return stop.Load() || ctx.Err() != nil || !time.Now().Before(deadline) }

	tickDone := make(chan struct{})
	tickStopped := make(chan struct{})
	go func() {
		defer close(tickStopped)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-tickDone:
				return
			case now := <-tick.C:
				n := done.Load()
				if progress != nil {
					fmt.Fprintf(progress, "bench: %-18s %5.1fs %8d done %8d/s last second, %d failed\n",
						name, now.Sub(start).Seconds(), n, n-last, failed.Load())
				}
				last = n
			}
		}
	}()

	if rate <= 0 {
		for w := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := tallies[w]
				for !over() {
					t0 := time.Now()
					st, ok, exhausted := op(ctx, w)
					if exhausted {
						stop.Store(true)
						return
					}
					record(t, time.Since(t0), st, ok)
				}
			}()
		}
	} else {
		slots := make(chan time.Time, conc)
		for w := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := tallies[w]
				for at := range slots {
					if stop.Load() {
						continue // drain
					}
					st, ok, exhausted := op(ctx, w)
					if exhausted {
						stop.Store(true)
						continue
					}
					record(t, time.Since(at), st, ok)
				}
			}()
		}
		interval := time.Duration(float64(time.Second) / rate)
		n := int(d/interval) + 1 // bounded: the dispatcher never schedules more
		for i := range n {
			at := start.Add(time.Duration(i) * interval)
			if over() || !at.Before(deadline) {
				break
			}
			if wait := time.Until(at); wait > 0 {
				time.Sleep(wait)
			}
			slots <- at
		}
		close(slots)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(tickDone)
	<-tickStopped
	r := summarize(name, elapsed, tallies)
	r.Exhausted = stop.Load()
	if rate > 0 {
		r.PacedAt = rate
	}
	return r
}
