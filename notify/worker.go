package notify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/wallet"
)

// Defaults of a Worker; zero fields take them.
const (
	DefaultLease = 30 * time.Second
	DefaultBatch = 32
	DefaultPoll  = 500 * time.Millisecond
	// DefaultDropAfter is how many failed deliveries in a row drop a
	// device: with the default backoff (5 s doubling, at most an hour) the
	// eighth comes about 21 minutes after the first.
	DefaultDropAfter = 8
)

// DefaultBackoff is the wait before the next attempt after n failed ones:
// 5 s doubling up to an hour.
func DefaultBackoff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Worker fans the history out into notifications and delivers them.
// Fanout, Store, Drivers and Seal are required. Several workers (one per
// instance) may run on one store.
type Worker struct {
	Fanout *Fanout
	Store  wallet.NotificationStore
	// Drivers deliver by device platform.
	Drivers map[string]Driver
	Seal    *outbox.Sealer
	Now     func() time.Time
	Log     *slog.Logger
	Lease   time.Duration
	Batch   int
	Poll    time.Duration
	// Backoff is the wait before the attempt after n failed ones
	// (DefaultBackoff if nil).
	Backoff func(n int) time.Duration
	// DropAfter is how many failed deliveries in a row drop a device.
	DropAfter int

	once   sync.Once
	kick   chan struct{}
	passes sync.RWMutex
}

// Kick makes a running worker look for work now.
func (w *Worker) Kick() {
	w.init()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *Worker) init() { w.once.Do(func() { w.kick = make(chan struct{}, 1) }) }

// Run fans out and delivers until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	t := time.NewTicker(w.poll())
	defer t.Stop()
	for {
		more, err := w.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			w.log().Warn("notify: pass failed", "err", err)
		}
		if more && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-t.C:
		}
	}
}

// Pass fans out one batch of history, then claims the due notifications
// and delivers them, concurrently. It reports whether more may be waiting.
func (w *Worker) Pass(ctx context.Context) (more bool, err error) {
	w.passes.RLock()
	defer w.passes.RUnlock()
	return w.pass(ctx)
}

// Flush waits for the passes running in this process, then fans out and
// delivers everything due now (development and tests).
func (w *Worker) Flush(ctx context.Context) error {
	w.passes.Lock()
	defer w.passes.Unlock()
	for {
		more, err := w.pass(ctx)
		if err != nil || !more {
			return err
		}
	}
}

func (w *Worker) pass(ctx context.Context) (bool, error) {
	// A fan-out that cannot go on (the registry is down) does not hold up
	// the delivery of what is scheduled already.
	fanned, fanErr := w.Fanout.Pass(ctx)
	ns, err := w.Store.ClaimNotifications(ctx, w.now(), w.lease(), w.batch())
	if err != nil {
		return false, errors.Join(fanErr, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ns))
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.deliver(ctx, n)
		}()
	}
	wg.Wait()
	return (fanned && fanErr == nil) || len(ns) == w.batch(), errors.Join(append(errs, fanErr)...)
}

// deliver sends one claimed notification and records the outcome, even if
// ctx ended meanwhile (bounded, as the SMS outbox does).
func (w *Worker) deliver(ctx context.Context, n wallet.Notification) error {
	rec, cancelRec := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelRec()
	d, err := w.Store.Device(ctx, n.DeviceID)
	if err != nil {
		return err // removed meanwhile: its notifications were failed with it
	}
	err = w.send(ctx, d, n)
	switch {
	case err == nil:
		return w.Store.NotificationSent(rec, n.ID, w.now())
	case errors.Is(err, ErrDeviceGone):
		w.log().Info("notify: device gone, removed", "device", d.ID, "platform", d.Platform)
		if err := w.Store.RemoveDevice(rec, d.OwnerIIN, d.ID); err != nil && !wallet.IsCode(err, wallet.ENOTFOUND) {
			return err
		}
		return nil
	}
	next := w.now().Add(w.backoff(n.Attempts))
	dev, rerr := w.Store.NotificationRetry(rec, n.ID, next, failure(err), w.dropAfter())
	if rerr == nil && dev.Status == wallet.DeviceDropped {
		w.log().Warn("notify: device dropped after failed deliveries", "device", d.ID, "failures", dev.Failures, "last_error", failure(err))
	}
	return rerr
}

func (w *Worker) send(ctx context.Context, d wallet.Device, n wallet.Notification) error {
	driver := w.Drivers[d.Platform]
	if driver == nil {
		return wallet.Errorf(wallet.EUNAVAILABLE, "no driver for platform %s", d.Platform)
	}
	secret, err := OpenSecret(w.Seal, d)
	if err != nil {
		return err
	}
	text, err := w.Seal.Open(n.ID, n.Sealed)
	if err != nil {
		return err
	}
	sendCtx, cancel := context.WithTimeout(ctx, w.lease()-time.Second)
	defer cancel()
	return driver.Deliver(sendCtx, d, secret, Push{EventID: n.EventID, Kind: n.Kind, At: n.At, Language: n.Language, Text: text})
}

// failure is what is kept of a failed delivery: the code and its
// client-safe message.
func failure(err error) string {
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
	if w.Lease <= 0 {
		return DefaultLease
	}
	return w.Lease
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
	if w.Backoff == nil {
		return DefaultBackoff(n)
	}
	return w.Backoff(n)
}

func (w *Worker) dropAfter() int {
	if w.DropAfter <= 0 {
		return DefaultDropAfter
	}
	return w.DropAfter
}
