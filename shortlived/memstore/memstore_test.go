package memstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
)

func TestShortLivedStoreConformance(t *testing.T) {
	shortlivedtest.RunShortLivedStoreTests(t, func(*testing.T) wallet.ShortLivedStore {
		return memstore.New(time.Now)
	})
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestValueExpiresExactlyAtTTL(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s := memstore.New(clock.Now)
	if err := s.Put(ctx, "k", []byte("v"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10*time.Second - time.Nanosecond)
	if _, err := s.Get(ctx, "k"); err != nil {
		t.Fatalf("Get just before expiry: %v", err)
	}
	clock.Advance(time.Nanosecond)
	if _, err := s.Get(ctx, "k"); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("Get at expiry = %v, want %s", err, wallet.ENOTFOUND)
	}
}

func TestIncrWindowIsFixedFromFirstIncr(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s := memstore.New(clock.Now)
	const window = time.Minute
	check := func(wantN int64, wantLeft time.Duration) {
		t.Helper()
		n, left, err := s.Incr(ctx, "n", window)
		if err != nil || n != wantN || left != wantLeft {
			t.Fatalf("Incr = %d, %v, %v; want %d, %v", n, left, err, wantN, wantLeft)
		}
		c, cleft, err := s.Count(ctx, "n")
		if err != nil || c != wantN || cleft != wantLeft {
			t.Fatalf("Count = %d, %v, %v; want %d, %v", c, cleft, err, wantN, wantLeft)
		}
	}
	check(1, window)
	clock.Advance(20 * time.Second)
	check(2, 40*time.Second)
	clock.Advance(39 * time.Second)
	check(3, time.Second)
	clock.Advance(time.Second)
	check(1, window)
}

func TestTicketExpiresExactlyAtTTL(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s := memstore.New(clock.Now)
	tk := wallet.Ticket{Secrets: map[string]string{"code": "h"}, Uses: 5, Attempts: 3}
	if err := s.PutTicket(ctx, "t", tk, time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute - time.Millisecond)
	if _, err := s.UseTicket(ctx, "t", "code", "h"); err != nil {
		t.Fatalf("UseTicket before expiry: %v", err)
	}
	clock.Advance(time.Millisecond)
	if _, err := s.UseTicket(ctx, "t", "code", "h"); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("UseTicket at expiry = %v, want %s", err, wallet.ENOTFOUND)
	}
}

func TestStoredTicketIsACopy(t *testing.T) {
	ctx := t.Context()
	s := memstore.New(nil)
	tk := wallet.Ticket{Secrets: map[string]string{"code": "h"}, Uses: 2, Payload: []byte("payload")}
	if err := s.PutTicket(ctx, "t", tk, time.Minute); err != nil {
		t.Fatal(err)
	}
	tk.Secrets["code"] = "changed"
	tk.Payload[0] = 'X'
	u, err := s.UseTicket(ctx, "t", "code", "h")
	if err != nil {
		t.Fatalf("UseTicket after the caller changed its ticket: %v", err)
	}
	if string(u.Payload) != "payload" {
		t.Fatalf("Payload = %q, want %q", u.Payload, "payload")
	}
	u.Payload[0] = 'Y'
	u, err = s.UseTicket(ctx, "t", "code", "h")
	if err != nil || string(u.Payload) != "payload" {
		t.Fatalf("second UseTicket = %q, %v; want %q", u.Payload, err, "payload")
	}
}

func TestDoneContextIsUnavailable(t *testing.T) {
	s := memstore.New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, "k", []byte("v"), time.Minute); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Fatalf("Put with a cancelled context = %v, want %s", err, wallet.EUNAVAILABLE)
	}
	if _, err := s.UseTicket(ctx, "t", "code", "h"); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Fatalf("UseTicket with a cancelled context = %v, want %s", err, wallet.EUNAVAILABLE)
	}
}
