package otp_test

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/qujat/qujat/wallet"
)

// mapStore is the least wallet.ShortLivedStore the otp service needs, kept
// here so that these tests do not hang on any one store implementation. It is
// checked against shortlived/memstore by running every test on both.
type mapStore struct {
	now func() time.Time

	mu      sync.Mutex
	values  map[string]mapValue
	tickets map[string]mapTicket
}

type mapValue struct {
	n       int64
	expires time.Time
}

type mapTicket struct {
	t       wallet.Ticket
	expires time.Time
}

var _ wallet.ShortLivedStore = (*mapStore)(nil)

func newMapStore(now func() time.Time) *mapStore {
	return &mapStore{now: now, values: map[string]mapValue{}, tickets: map[string]mapTicket{}}
}

func (s *mapStore) Ping(context.Context) error { return nil }

func (s *mapStore) Put(context.Context, string, []byte, time.Duration) error {
	return wallet.Errorf(wallet.EINTERNAL, "not used by otp")
}

func (s *mapStore) PutAll(context.Context, time.Duration, ...wallet.KeyValue) error {
	return wallet.Errorf(wallet.EINTERNAL, "not used by otp")
}

func (s *mapStore) PutNew(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, wallet.Errorf(wallet.EINTERNAL, "not used by otp")
}

func (s *mapStore) Get(context.Context, string) ([]byte, error) {
	return nil, wallet.Errorf(wallet.EINTERNAL, "not used by otp")
}

func (s *mapStore) Delete(_ context.Context, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.values, k)
		delete(s.tickets, k)
	}
	return nil
}

func (s *mapStore) Incr(_ context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	v, ok := s.values[key]
	if !ok || !now.Before(v.expires) {
		v = mapValue{expires: now.Add(window)}
	}
	v.n++
	s.values[key] = v
	return v.n, v.expires.Sub(now), nil
}

func (s *mapStore) Count(_ context.Context, key string) (int64, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	v, ok := s.values[key]
	if !ok || !now.Before(v.expires) {
		return 0, 0, nil
	}
	return v.n, v.expires.Sub(now), nil
}

func (s *mapStore) PutTicket(_ context.Context, key string, t wallet.Ticket, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets := map[string]string{}
	for k, v := range t.Secrets {
		secrets[k] = v
	}
	t.Secrets = secrets
	t.Payload = append([]byte(nil), t.Payload...)
	s.tickets[key] = mapTicket{t: t, expires: s.now().Add(ttl)}
	return nil
}

func (s *mapStore) UseTicket(_ context.Context, key, name, hash string) (wallet.TicketUse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mt, ok := s.tickets[key]
	if !ok || !s.now().Before(mt.expires) {
		delete(s.tickets, key)
		return wallet.TicketUse{}, wallet.Errorf(wallet.ENOTFOUND, "no such ticket")
	}
	want, ok := mt.t.Secrets[name]
	if !ok {
		return wallet.TicketUse{}, wallet.Errorf(wallet.ENOTFOUND, "no such ticket")
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(hash)) != 1 {
		left := -1
		if mt.t.Attempts > 0 {
			mt.t.Attempts--
			left = mt.t.Attempts
		}
		if left == 0 {
			delete(s.tickets, key)
		} else {
			s.tickets[key] = mt
		}
		return wallet.TicketUse{}, &wallet.Error{Code: wallet.EINVALIDCODE, Message: "wrong code", AttemptsLeft: left}
	}
	mt.t.Uses--
	if mt.t.Uses <= 0 {
		delete(s.tickets, key)
	} else {
		s.tickets[key] = mt
	}
	return wallet.TicketUse{Payload: mt.t.Payload, UsesLeft: mt.t.Uses}, nil
}

func (s *mapStore) Reserve(_ context.Context, budgets []wallet.Budget) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var retry time.Duration
	for _, b := range budgets {
		if v, ok := s.values[b.Key]; ok && now.Before(v.expires) && v.n >= b.Limit {
			retry = max(retry, v.expires.Sub(now))
		}
	}
	if retry > 0 {
		return nil, &wallet.Error{Code: wallet.ERATELIMITED, Message: "limit reached", RetryAfter: retry}
	}
	out := make([]int64, len(budgets))
	for i, b := range budgets {
		v, ok := s.values[b.Key]
		if !ok || !now.Before(v.expires) {
			v = mapValue{expires: now.Add(b.Window)}
		}
		v.n++
		s.values[b.Key] = v
		out[i] = v.n
	}
	return out, nil
}

func (s *mapStore) Unreserve(context.Context, ...string) error {
	return wallet.Errorf(wallet.EINTERNAL, "not used by otp")
}

// recordingStore passes everything to a real store and remembers every ticket
// written, so that tests can look at what the service stores.
type recordingStore struct {
	wallet.ShortLivedStore

	mu      sync.Mutex
	puts    []putTicket
	deleted []string
}

type putTicket struct {
	key    string
	ticket wallet.Ticket
	ttl    time.Duration
}

func (r *recordingStore) PutTicket(ctx context.Context, key string, t wallet.Ticket, ttl time.Duration) error {
	r.mu.Lock()
	r.puts = append(r.puts, putTicket{key, t, ttl})
	r.mu.Unlock()
	return r.ShortLivedStore.PutTicket(ctx, key, t, ttl)
}

func (r *recordingStore) Delete(ctx context.Context, keys ...string) error {
	r.mu.Lock()
	r.deleted = append(r.deleted, keys...)
	r.mu.Unlock()
	return r.ShortLivedStore.Delete(ctx, keys...)
}

func (r *recordingStore) tickets() []putTicket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]putTicket(nil), r.puts...)
}
