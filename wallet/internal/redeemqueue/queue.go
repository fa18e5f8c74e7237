// Package redeemqueue is the queue and committer behind the stores' group
// commit of share redemptions (wallet/sqlite, wallet/postgres): callers of
// RedeemShare wait while one goroutine per store takes everything queued
// (up to MaxBatch) and runs it as one batch, answering every caller only
// after the batch's commit. How a batch runs is the store's business.
package redeemqueue

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/qujat/qujat/wallet"
)

// MaxBatch is the most redemptions one batch takes.
const MaxBatch = 128

// States of a queued request.
const (
	queued    int32 = iota
	taken           // taken into a batch: it is committed or not, whatever its ctx
	abandoned       // its caller's ctx ended first: it is never run
)

// Request is one RedeemShare call waiting for, or taken into, a batch.
type Request struct {
	Ctx     context.Context
	ShareID string
	View    wallet.View
	state   atomic.Int32
	result  chan result // buffered, 1
}

type result struct {
	view wallet.View
	err  error
}

// NewTaken returns a request already taken into a batch, for tests that run
// a store's batch executor directly.
func NewTaken(ctx context.Context, shareID string, v wallet.View) *Request {
	r := &Request{Ctx: ctx, ShareID: shareID, View: v, result: make(chan result, 1)}
	r.state.Store(taken)
	return r
}

// Answer delivers the request's outcome; the batch executor calls it once
// per request, after the commit (or with the batch's error). It never blocks.
func (r *Request) Answer(v wallet.View, err error) { r.result <- result{v, err} }

// Outcome waits for the answer (for tests that run an executor directly).
func (r *Request) Outcome() (wallet.View, error) {
	res := <-r.result
	return res.view, res.err
}

// take marks the request taken into a batch. False if its caller gave up
// first, or its ctx has ended (then it is answered EUNAVAILABLE): it is not
// to be run.
func (r *Request) take() bool {
	if !r.state.CompareAndSwap(queued, taken) {
		return false
	}
	if err := r.Ctx.Err(); err != nil {
		r.Answer(wallet.View{}, notRedeemed(err))
		return false
	}
	return true
}

func notRedeemed(err error) error {
	return wallet.Wrap(wallet.EUNAVAILABLE, err, "redeem share: not redeemed")
}

// Queue is the queue and committer of one store. Its zero value is ready:
// the committer starts with the first redemption and stops in Close.
type Queue struct {
	mu      sync.RWMutex // guards closed against sends on queue
	closed  bool
	once    sync.Once
	started bool // set in once, under mu's read lock; read under its write lock
	queue   chan *Request
	done    chan struct{} // closed when the committer has returned
}

// Redeem queues the redemption, with run as the batch executor (used by the
// first call, which starts the committer), and waits for the outcome.
// EUNAVAILABLE if the queue is closed, or ctx ends before the redemption is
// taken into a batch (it is then never run). Once taken, the caller waits
// for the batch whatever happens to ctx.
func (q *Queue) Redeem(ctx context.Context, shareID string, v wallet.View, run func([]*Request)) (wallet.View, error) {
	req := &Request{Ctx: ctx, ShareID: shareID, View: v, result: make(chan result, 1)}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return wallet.View{}, wallet.Errorf(wallet.EUNAVAILABLE, "redeem share: the store is closed")
	}
	q.once.Do(func() {
		q.queue = make(chan *Request, 4*MaxBatch)
		q.done = make(chan struct{})
		q.started = true
		go q.commit(run)
	})
	select {
	case q.queue <- req:
	case <-ctx.Done():
		q.mu.RUnlock()
		return wallet.View{}, notRedeemed(ctx.Err())
	}
	q.mu.RUnlock()
	select {
	case r := <-req.result:
		return r.view, r.err
	case <-ctx.Done():
		if req.state.CompareAndSwap(queued, abandoned) {
			return wallet.View{}, notRedeemed(ctx.Err())
		}
		r := <-req.result // taken: wait for its batch
		return r.view, r.err
	}
}

// Queued returns how many requests wait for a batch.
func (q *Queue) Queued() int {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return len(q.queue)
}

// Close stops taking redemptions and waits until every one already queued
// has been committed (or failed). It may be called more than once.
func (q *Queue) Close() {
	q.mu.Lock()
	wasStarted := q.started && !q.closed
	q.closed = true
	if wasStarted {
		close(q.queue)
	}
	q.mu.Unlock()
	if q.started {
		<-q.done
	}
}

// commit is the committer goroutine: it takes what has queued up, up to
// MaxBatch, and runs it as one batch, until the queue is closed and drained.
func (q *Queue) commit(run func([]*Request)) {
	defer close(q.done)
	batch := make([]*Request, 0, MaxBatch)
	for {
		r, ok := <-q.queue
		if !ok {
			return
		}
		batch = batch[:0]
		if r.take() {
			batch = append(batch, r)
		}
	collect:
		for len(batch) < MaxBatch {
			select {
			case r, ok := <-q.queue:
				if !ok {
					break collect
				}
				if r.take() {
					batch = append(batch, r)
				}
			default:
				break collect
			}
		}
		if len(batch) > 0 {
			run(batch)
		}
		clear(batch[:cap(batch)])
	}
}
