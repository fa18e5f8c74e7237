// Package memstore is a wallet.ShortLivedStore in process memory: the
// embedded default when no Redis is configured. It has the same semantics as
// shortlived/redisstore (both pass the suite in shortlived/shortlivedtest); data is lost
// when the process exits, which for minutes-long codes and counters is fine.
package memstore

import (
	"context"
	"crypto/subtle"
	"strconv"
	"sync"
	"time"

	"github.com/qujat/qujat/wallet"
)

var _ wallet.ShortLivedStore = (*Store)(nil)

// minSweepInterval is the fewest writes between two sweeps, so that a small
// store is not scanned on every write.
const minSweepInterval = 1024

// Store keeps short-lived entries in a map guarded by one mutex. It is safe
// for concurrent use.
//
// Expired entries are invisible from the moment they expire and are removed
// when read. So that entries nobody reads again do not pile up, every write
// counts towards a sweep of the whole map, run once the writes since the last
// sweep reach the number of entries the last sweep left (at least
// minSweepInterval): each sweep's cost is paid by as many writes, and the map
// never holds more than about twice the live entries plus minSweepInterval.
type Store struct {
	now func() time.Time

	mu         sync.Mutex
	entries    map[string]*entry
	writes     int // writes since the last sweep
	sweepAfter int // writes that trigger the next sweep
}

// entry is a plain value (which Incr treats as a decimal counter, as Redis
// does) or a ticket.
type entry struct {
	value   []byte
	ticket  *wallet.Ticket // nil for a plain value
	expires time.Time
}

// New returns an empty store that reads the time from now (time.Now if nil).
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, entries: make(map[string]*entry), sweepAfter: minSweepInterval}
}

// Ping always succeeds: memory is always reachable.
func (s *Store) Ping(ctx context.Context) error { return checkContext(ctx) }

// Put sets key to value, replacing any value or ticket, expiring after ttl.
// EINVALID if ttl is not positive.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.PutAll(ctx, ttl, wallet.KeyValue{Key: key, Value: value})
}

// PutAll sets each entry as Put does, under one lock. EINVALID if ttl is
// not positive.
func (s *Store) PutAll(ctx context.Context, ttl time.Duration, entries ...wallet.KeyValue) error {
	if err := checkContext(ctx); err != nil {
		return err
	}
	if ttl <= 0 {
		return wallet.Errorf(wallet.EINVALID, "ttl must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, e := range entries {
		s.set(now, e.Key, &entry{value: clone(e.Value), expires: now.Add(ttl)})
	}
	return nil
}

// PutNew sets key to value only if the key holds nothing live, and reports
// whether it did. EINVALID if ttl is not positive.
func (s *Store) PutNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkContext(ctx); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, wallet.Errorf(wallet.EINVALID, "ttl must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.live(now, key) != nil {
		return false, nil
	}
	s.set(now, key, &entry{value: clone(value), expires: now.Add(ttl)})
	return true, nil
}

// Get returns a copy of the value at key. ENOTFOUND if absent or expired,
// EINTERNAL if the key holds a ticket.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(s.now(), key)
	if e == nil {
		return nil, wallet.Errorf(wallet.ENOTFOUND, "no such key")
	}
	if e.ticket != nil {
		return nil, wrongKind()
	}
	return clone(e.value), nil
}

// Delete removes the keys, whatever they hold; absent keys are ignored.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if err := checkContext(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.entries, k)
	}
	return nil
}

// Incr adds one to the counter at key and returns the new count and the time
// left in its window. A new counter expires after window; later increments
// keep its expiry. EINVALID if window is not positive, EINTERNAL if the key
// holds a ticket or a value that is not a decimal integer.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if err := checkContext(ctx); err != nil {
		return 0, 0, err
	}
	if window <= 0 {
		return 0, 0, wallet.Errorf(wallet.EINVALID, "window must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e := s.live(now, key)
	if e == nil {
		s.set(now, key, &entry{value: []byte("1"), expires: now.Add(window)})
		return 1, window, nil
	}
	n, err := counterValue(e)
	if err != nil {
		return 0, 0, err
	}
	n++
	e.value = strconv.AppendInt(e.value[:0], n, 10)
	return n, e.expires.Sub(now), nil
}

// Count returns the counter at key and the time it has left; 0, 0 if absent.
// EINTERNAL if the key holds a ticket or a value that is not a decimal integer.
func (s *Store) Count(ctx context.Context, key string) (int64, time.Duration, error) {
	if err := checkContext(ctx); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e := s.live(now, key)
	if e == nil {
		return 0, 0, nil
	}
	n, err := counterValue(e)
	if err != nil {
		return 0, 0, err
	}
	return n, e.expires.Sub(now), nil
}

// PutTicket stores a copy of t at key, replacing whatever the key held,
// expiring after ttl. EINVALID if ttl is not positive, t.Uses < 1 or
// t.Attempts < 0.
func (s *Store) PutTicket(ctx context.Context, key string, t wallet.Ticket, ttl time.Duration) error {
	if err := checkContext(ctx); err != nil {
		return err
	}
	if err := validTicket(t, ttl); err != nil {
		return err
	}
	c := wallet.Ticket{
		Secrets:  make(map[string]string, len(t.Secrets)),
		Uses:     t.Uses,
		Attempts: t.Attempts,
		Payload:  clone(t.Payload),
	}
	for name, h := range t.Secrets {
		c.Secrets[name] = h
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.set(now, key, &entry{ticket: &c, expires: now.Add(ttl)})
	return nil
}

// UseTicket checks hash against the ticket's secret called name, in constant
// time. On a match it spends one use, deleting the ticket when none is left,
// and returns the payload. A wrong hash spends one attempt of a ticket with
// limited attempts (deleting it when none is left) and returns EINVALIDCODE
// with AttemptsLeft, or -1 when attempts are unlimited. ENOTFOUND if there is
// no ticket at key or it has no secret called name; EINTERNAL if the key holds
// a plain value.
func (s *Store) UseTicket(ctx context.Context, key, name, hash string) (wallet.TicketUse, error) {
	if err := checkContext(ctx); err != nil {
		return wallet.TicketUse{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(s.now(), key)
	if e == nil {
		return wallet.TicketUse{}, wallet.Errorf(wallet.ENOTFOUND, "no such ticket")
	}
	t := e.ticket
	if t == nil {
		return wallet.TicketUse{}, wrongKind()
	}
	want, ok := t.Secrets[name]
	if !ok {
		return wallet.TicketUse{}, wallet.Errorf(wallet.ENOTFOUND, "no such ticket")
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(hash)) == 1 {
		t.Uses--
		if t.Uses <= 0 {
			delete(s.entries, key)
		}
		return wallet.TicketUse{Payload: clone(t.Payload), UsesLeft: max(t.Uses, 0)}, nil
	}
	left := -1
	if t.Attempts > 0 {
		t.Attempts--
		left = t.Attempts
		if left == 0 {
			delete(s.entries, key)
		}
	}
	return wallet.TicketUse{}, invalidCode(left)
}

// Reserve adds one to every counter of budgets if each is below its
// limit, and nothing otherwise, under one lock. It returns the new counts.
// ERATELIMITED (RetryAfter set) if a counter is full; EINVALID for a budget
// without a positive window or limit; EINTERNAL if a key holds a ticket or a
// value that is not a decimal integer.
func (s *Store) Reserve(ctx context.Context, budgets []wallet.Budget) ([]int64, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	for _, b := range budgets {
		if b.Window <= 0 || b.Limit <= 0 {
			return nil, wallet.Errorf(wallet.EINVALID, "a budget needs a positive limit and window")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	counts := make([]int64, len(budgets))
	var wait time.Duration
	for i, b := range budgets {
		if e := s.live(now, b.Key); e != nil {
			n, err := counterValue(e)
			if err != nil {
				return nil, err
			}
			counts[i] = n
			if n >= b.Limit {
				wait = max(wait, e.expires.Sub(now), time.Second)
			}
		}
	}
	if wait > 0 {
		return nil, rateLimited(wait)
	}
	for i, b := range budgets {
		counts[i]++
		if e := s.live(now, b.Key); e != nil {
			e.value = strconv.AppendInt(e.value[:0], counts[i], 10)
			continue
		}
		s.set(now, b.Key, &entry{value: []byte("1"), expires: now.Add(b.Window)})
	}
	return counts, nil
}

// Unreserve takes one back from each live counter above zero; absent keys
// are ignored. EINTERNAL if a key holds a ticket or a value that is not a
// decimal integer (nothing is changed then).
func (s *Store) Unreserve(ctx context.Context, keys ...string) error {
	if err := checkContext(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, k := range keys {
		if e := s.live(now, k); e != nil {
			if _, err := counterValue(e); err != nil {
				return err
			}
		}
	}
	for _, k := range keys {
		if e := s.live(now, k); e != nil {
			if n, _ := counterValue(e); n > 0 {
				e.value = strconv.AppendInt(e.value[:0], n-1, 10)
			}
		}
	}
	return nil
}

func rateLimited(wait time.Duration) *wallet.Error {
	e := wallet.Errorf(wallet.ERATELIMITED, "too many attempts; try again later")
	e.RetryAfter = wait
	return e
}

// live returns the unexpired entry at key, removing an expired one. The
// caller holds s.mu.
func (s *Store) live(now time.Time, key string) *entry {
	e, ok := s.entries[key]
	if !ok {
		return nil
	}
	if !now.Before(e.expires) {
		delete(s.entries, key)
		return nil
	}
	return e
}

// set stores e at key and pays towards the next sweep. The caller holds s.mu.
func (s *Store) set(now time.Time, key string, e *entry) {
	s.entries[key] = e
	s.writes++
	if s.writes >= s.sweepAfter {
		s.sweep(now)
	}
}

// sweep removes every expired entry. The caller holds s.mu.
func (s *Store) sweep(now time.Time) {
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
		}
	}
	s.writes = 0
	s.sweepAfter = max(len(s.entries), minSweepInterval)
}

func validTicket(t wallet.Ticket, ttl time.Duration) error {
	switch {
	case ttl <= 0:
		return wallet.Errorf(wallet.EINVALID, "ttl must be positive")
	case t.Uses < 1:
		return wallet.Errorf(wallet.EINVALID, "a ticket needs at least one use")
	case t.Attempts < 0:
		return wallet.Errorf(wallet.EINVALID, "ticket attempts must not be negative")
	}
	return nil
}

func counterValue(e *entry) (int64, error) {
	if e.ticket != nil {
		return 0, wrongKind()
	}
	n, err := strconv.ParseInt(string(e.value), 10, 64)
	if err != nil {
		return 0, wallet.Wrap(wallet.EINTERNAL, err, "key does not hold a counter")
	}
	return n, nil
}

func invalidCode(attemptsLeft int) *wallet.Error {
	e := wallet.Errorf(wallet.EINVALIDCODE, "wrong code")
	e.AttemptsLeft = attemptsLeft
	return e
}

// wrongKind reports a caller bug: a key used both as a value and as a ticket.
func wrongKind() *wallet.Error {
	return wallet.Errorf(wallet.EINTERNAL, "key holds another kind of entry")
}

// checkContext fails as Redis would for a request whose context is done.
func checkContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return wallet.Wrap(wallet.EUNAVAILABLE, err, "short-lived store request abandoned")
	}
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}
