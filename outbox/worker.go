package outbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Defaults of a Worker; zero fields take them.
const (
	DefaultLease = 30 * time.Second // longer than a gateway call may take
	DefaultBatch = 32
	DefaultPoll  = 500 * time.Millisecond
	// DefaultKeep is how long a finished message (delivered, given up or
	// a decoy, its phone and text already erased) stays in the outbox.
	DefaultKeep = 30 * 24 * time.Hour
)

// purgeEvery is how often a worker deletes finished messages past Keep.
const purgeEvery = time.Minute

// Worker delivers the outbox's messages. Store, Sender and Seal are
// required. Several workers (one per instance) may run on one store: a
// claimed message is leased to one of them, and a worker that dies with a
// lease lets the message be claimed again when it runs out.
type Worker struct {
	Store  wallet.OutboxStore
	Sender Sender
	Seal   *Sealer
	Now    func() time.Time
	Log    *slog.Logger
	// Lease is how long a claimed message is the worker's alone.
	Lease time.Duration
	// Batch is how many messages one pass claims and sends at once.
	Batch int
	// Poll is how often the worker looks for due messages when not kicked.
	Poll time.Duration
	// Backoff is the wait before attempt n+1 after n failed attempts;
	// default 1 s doubling up to 30 s.
	Backoff func(n int) time.Duration
	// GaveUp, if set, is told of each message given up at its NotAfter
	// (phone and text already erased), so that what it was about can be
	// settled (a consent request that could not be delivered).
	GaveUp func(ctx context.Context, m wallet.Message)
	// Keep is how long finished messages are kept (DefaultKeep if zero).
	Keep time.Duration

	lastPurge atomic.Int64 // unix nanoseconds of the last purge
	once      sync.Once
	kick      chan struct{}
	// passes lets Flush wait for the passes running (read-locked) and
	// run its own alone.
	passes sync.RWMutex
}

// Kick makes a running worker look for due messages now.
func (w *Worker) Kick() {
	w.init()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *Worker) init() { w.once.Do(func() { w.kick = make(chan struct{}, 1) }) }

// Run delivers messages until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	t := time.NewTicker(w.poll())
	defer t.Stop()
	for {
		full, err := w.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			w.log().Warn("outbox: pass failed", "err", err)
		}
		if full && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-t.C:
		}
	}
}

// Pass gives up the messages past their NotAfter, then claims the due ones
// and sends them, concurrently, and records each outcome. It reports
// whether a whole batch was claimed (more may be due). Errors are the
// store's; a failed send is not an error of the pass (it is retried).
func (w *Worker) Pass(ctx context.Context) (full bool, err error) {
	w.passes.RLock()
	defer w.passes.RUnlock()
	return w.pass(ctx)
}

// Flush waits for the passes running in this process, then delivers every
// message due now, pass after pass, until none is left (messages waiting
// for a retry are not due). It is for development and tests: the
// development SMS endpoint shows what was sent, not what is on its way.
func (w *Worker) Flush(ctx context.Context) error {
	w.passes.Lock()
	defer w.passes.Unlock()
	for {
		full, err := w.pass(ctx)
		if err != nil || !full {
			return err
		}
	}
}

func (w *Worker) pass(ctx context.Context) (full bool, err error) {
	now := w.now()
	if last := w.lastPurge.Load(); now.UnixNano()-last >= int64(purgeEvery) && w.lastPurge.CompareAndSwap(last, now.UnixNano()) {
		if _, err := w.Store.PurgeMessages(ctx, now.Add(-w.keep()), 1000); err != nil {
			return false, err
		}
	}
	expired, err := w.Store.ExpireMessages(ctx, now, w.batch())
	if err != nil {
		return false, err
	}
	for _, m := range expired {
		w.log().Warn("outbox: message given up", "id", m.ID, "purpose", m.Purpose, "attempts", m.Attempts, "last_error", m.LastError)
		if w.GaveUp != nil {
			w.GaveUp(ctx, m)
		}
	}
	msgs, err := w.Store.ClaimMessages(ctx, now, w.lease(), w.batch())
	if err != nil {
		return false, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.deliver(ctx, m)
		}()
	}
	wg.Wait()
	return len(msgs) == w.batch() || len(expired) == w.batch(), errors.Join(errs...)
}

// deliver sends one claimed message and records the outcome. The send has
// until the lease runs out; the record is made even if ctx ended meanwhile
// (the message was sent or not: that must be written down).
func (w *Worker) deliver(ctx context.Context, m wallet.Message) error {
	text, err := w.Seal.Open(m.ID, m.Sealed)
	if err != nil {
		// A text that does not open never will: let it run out to its
		// NotAfter and be given up, without hammering the store.
		rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return w.Store.MessageRetry(rec, m.ID, m.NotAfter, "sealed text does not open")
	}
	sendCtx, cancel := context.WithTimeout(ctx, w.lease()-time.Second)
	if s, ok := w.Sender.(IDSender); ok {
		err = s.SendID(sendCtx, m.ID, m.To, text)
	} else {
		err = w.Sender.Send(sendCtx, m.To, text)
	}
	cancel()
	// The outcome is recorded even if ctx ended meanwhile, within a bound:
	// a store that stalls must not hold the worker (the lease runs out and
	// the message is sent again, which is harmless).
	rec, cancelRec := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelRec()
	if err != nil {
		next := w.now().Add(w.backoff(m.Attempts))
		return w.Store.MessageRetry(rec, m.ID, next, sendFailure(err))
	}
	return w.Store.MessageSent(rec, m.ID, w.now())
}

// sendFailure is what is kept of a failed send: the error's code and its
// client-safe message, never a text.
func sendFailure(err error) string {
	msg := wallet.ErrorMessage(err)
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return wallet.ErrorCode(err) + ": " + msg
}

func (w *Worker) now() time.Time {
	if w.Now == nil {
		return time.Now().UTC()
	}
	return w.Now().UTC()
}

func (w *Worker) log() *slog.Logger {
	if w.Log == nil {
		return slog.Default()
	}
	return w.Log
}

func (w *Worker) lease() time.Duration {
	if w.Lease <= time.Second {
		return DefaultLease
	}
	return w.Lease
}

func (w *Worker) keep() time.Duration {
	if w.Keep <= 0 {
		return DefaultKeep
	}
	return w.Keep
}

func (w *Worker) batch() int {
	if w.Batch <= 0 {
		return DefaultBatch
	}
	return w.Batch
}

func (w *Worker) poll() time.Duration {
	if w.Poll <= 0 {
		return DefaultPoll
	}
	return w.Poll
}

func (w *Worker) backoff(n int) time.Duration {
	if w.Backoff != nil {
		return w.Backoff(n)
	}
	d := time.Second
	for i := 1; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}
