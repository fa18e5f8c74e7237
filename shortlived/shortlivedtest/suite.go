// Package shortlivedtest holds the conformance suite that every
// wallet.ShortLivedStore passes (RunShortLivedStoreTests) and helpers for
// tests that need Redis: RedisURL for the shared test server, StartRedis for
// a private one that can be stopped and restarted, UniquePrefix to keep tests
// apart on one server.
package shortlivedtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Expiry subtests use short real TTLs and poll until the data is gone.
const (
	shortTTL     = 200 * time.Millisecond
	pollInterval = 20 * time.Millisecond
	// vanishDeadline bounds the wait for something to expire; it is not a
	// claim about how soon expiry happens, only a guard against waiting
	// forever.
	vanishDeadline = 10 * time.Second
	longTTL        = time.Minute
)

// RunShortLivedStoreTests runs the conformance suite on stores made by
// newStore, a fresh empty store (or one with a fresh key prefix) per call.
// Subtests run in parallel. Stores must use the real clock: the expiry
// subtests sleep past short TTLs.
func RunShortLivedStoreTests(t *testing.T, newStore func(t *testing.T) wallet.ShortLivedStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s wallet.ShortLivedStore)
	}{
		{"Ping", testPing},
		{"GetMissingIsNotFound", testGetMissing},
		{"PutThenGetReturnsValue", testPutGet},
		{"PutReplacesValue", testPutReplaces},
		{"PutAllSetsEachAndExpires", testPutAll},
		{"ValuesAreCopied", testValuesCopied},
		{"DeleteRemovesKeysAndIgnoresAbsentOnes", testDelete},
		{"PutNewSetsOnlyAbsentKeys", testPutNew},
		{"NonPositiveTTLIsInvalid", testNonPositiveTTL},
		{"ValueExpires", testValueExpires},
		{"PutNewSucceedsAfterExpiry", testPutNewAfterExpiry},
		{"CountOfMissingCounterIsZero", testCountMissing},
		{"IncrCountsWithinWindow", testIncr},
		{"CounterExpires", testCounterExpires},
		{"FixedWindowIsNotExtendedByIncr", testFixedWindow},
		{"UseTicketMissingIsNotFound", testUseTicketMissing},
		{"UseTicketUnknownSecretIsNotFound", testUseTicketUnknownSecret},
		{"UseTicketSpendsUsesThenDeletes", testUseTicketUses},
		{"UseTicketAcceptsEverySecretName", testUseTicketSecrets},
		{"WrongCodeSpendsLimitedAttemptsThenDeletes", testWrongCodeLimited},
		{"WrongCodeDoesNotResetAfterSuccess", testWrongCodeThenRight},
		{"WrongCodeWithUnlimitedAttemptsChangesNothing", testWrongCodeUnlimited},
		{"ReserveCountsAllOrNothing", testReserve},
		{"ReserveWindowExpires", testReserveExpires},
		{"ConcurrentReserveAdmitsExactlyTheLimit", testConcurrentReserve},
		{"PutTicketReplacesTicket", testPutTicketReplaces},
		{"PutTicketRejectsInvalidTicket", testPutTicketInvalid},
		{"DeleteRemovesTicket", testDeleteTicket},
		{"TicketExpires", testTicketExpires},
		{"KeyOfAnotherKindIsInternalError", testWrongKind},
		{"ConcurrentUseOfSingleUseTicketSucceedsOnce", testConcurrentSingleUse},
		{"ConcurrentUseSpendsExactlyTheUses", testConcurrentThreeUses},
		{"ConcurrentWrongCodesSpendExactlyTheAttempts", testConcurrentWrongCodes},
		{"ConcurrentIncrCountsEveryCall", testConcurrentIncr},
		{"ConcurrentPutNewSucceedsOnce", testConcurrentPutNew},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// wantCode fails t unless err carries code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := wallet.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// waitUntil polls cond until it reports true, failing t after vanishDeadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(vanishDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %v", what, vanishDeadline)
		}
		time.Sleep(pollInterval)
	}
}

func testPing(t *testing.T, s wallet.ShortLivedStore) {
	noErr(t, s.Ping(t.Context()))
}

func testGetMissing(t *testing.T, s wallet.ShortLivedStore) {
	_, err := s.Get(t.Context(), "missing")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testPutGet(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	values := map[string][]byte{
		"text":   []byte("hello"),
		"binary": {0, 1, 2, 0xff, 0, '\r', '\n'},
		"empty":  {},
	}
	for k, v := range values {
		noErr(t, s.Put(ctx, k, v, longTTL))
	}
	for k, v := range values {
		got, err := s.Get(ctx, k)
		noErr(t, err)
		if !bytes.Equal(got, v) {
			t.Errorf("Get(%q) = %q, want %q", k, got, v)
		}
	}
}

func testPutAll(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.Put(ctx, "old", []byte("before"), longTTL))
	noErr(t, s.PutAll(ctx, longTTL))
	noErr(t, s.PutAll(ctx, longTTL, wallet.KeyValue{Key: "old", Value: []byte("after")},
		wallet.KeyValue{Key: "{x}a", Value: []byte("1")}, wallet.KeyValue{Key: "{y}b", Value: []byte{0, 0xff}}))
	for k, want := range map[string]string{"old": "after", "{x}a": "1", "{y}b": "\x00\xff"} {
		got, err := s.Get(ctx, k)
		noErr(t, err)
		if string(got) != want {
			t.Fatalf("Get(%q) = %q, want %q", k, got, want)
		}
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		wantCode(t, s.PutAll(ctx, ttl, wallet.KeyValue{Key: "z", Value: []byte("v")}), wallet.EINVALID)
	}
	_, err := s.Get(ctx, "z")
	wantCode(t, err, wallet.ENOTFOUND)
	start := time.Now()
	noErr(t, s.PutAll(ctx, shortTTL, wallet.KeyValue{Key: "s1", Value: []byte("v")}, wallet.KeyValue{Key: "s2", Value: []byte("w")}))
	if _, err := s.Get(ctx, "s2"); time.Since(start) < shortTTL {
		noErr(t, err)
	}
	waitUntil(t, "entries expired", func() bool {
		_, err1 := s.Get(ctx, "s1")
		_, err2 := s.Get(ctx, "s2")
		return err1 != nil && err2 != nil
	})
}

func testPutReplaces(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.Put(ctx, "k", []byte("one"), longTTL))
	noErr(t, s.Put(ctx, "k", []byte("two"), longTTL))
	got, err := s.Get(ctx, "k")
	noErr(t, err)
	if string(got) != "two" {
		t.Fatalf("Get = %q, want %q", got, "two")
	}
}

func testValuesCopied(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	v := []byte("original")
	noErr(t, s.Put(ctx, "k", v, longTTL))
	v[0] = 'X'
	got, err := s.Get(ctx, "k")
	noErr(t, err)
	if string(got) != "original" {
		t.Fatalf("Get after changing the put slice = %q, want %q", got, "original")
	}
	got[0] = 'Y'
	again, err := s.Get(ctx, "k")
	noErr(t, err)
	if string(again) != "original" {
		t.Fatalf("Get after changing a returned slice = %q, want %q", again, "original")
	}
}

func testDelete(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.Put(ctx, "a", []byte("1"), longTTL))
	noErr(t, s.Put(ctx, "b", []byte("2"), longTTL))
	noErr(t, s.Put(ctx, "c", []byte("3"), longTTL))
	noErr(t, s.Delete(ctx))
	noErr(t, s.Delete(ctx, "a", "absent", "b"))
	for _, k := range []string{"a", "b"} {
		_, err := s.Get(ctx, k)
		wantCode(t, err, wallet.ENOTFOUND)
	}
	if _, err := s.Get(ctx, "c"); err != nil {
		t.Fatalf("Get of a key not deleted: %v", err)
	}
	noErr(t, s.Delete(ctx, "absent"))
}

func testPutNew(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	ok, err := s.PutNew(ctx, "k", []byte("first"), longTTL)
	noErr(t, err)
	if !ok {
		t.Fatal("PutNew on an absent key = false, want true")
	}
	ok, err = s.PutNew(ctx, "k", []byte("second"), longTTL)
	noErr(t, err)
	if ok {
		t.Fatal("PutNew on an existing key = true, want false")
	}
	got, err := s.Get(ctx, "k")
	noErr(t, err)
	if string(got) != "first" {
		t.Fatalf("Get = %q, want the first value", got)
	}
	noErr(t, s.Delete(ctx, "k"))
	ok, err = s.PutNew(ctx, "k", []byte("third"), longTTL)
	noErr(t, err)
	if !ok {
		t.Fatal("PutNew after Delete = false, want true")
	}
	// A key holding a ticket exists too.
	noErr(t, s.PutTicket(ctx, "t", wallet.Ticket{Secrets: map[string]string{"code": "h"}, Uses: 1}, longTTL))
	ok, err = s.PutNew(ctx, "t", []byte("x"), longTTL)
	noErr(t, err)
	if ok {
		t.Fatal("PutNew on a key holding a ticket = true, want false")
	}
}

func testNonPositiveTTL(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	for _, ttl := range []time.Duration{0, -time.Second} {
		wantCode(t, s.Put(ctx, "k", []byte("v"), ttl), wallet.EINVALID)
		_, err := s.PutNew(ctx, "k", []byte("v"), ttl)
		wantCode(t, err, wallet.EINVALID)
		_, _, err = s.Incr(ctx, "n", ttl)
		wantCode(t, err, wallet.EINVALID)
		wantCode(t, s.PutTicket(ctx, "t", wallet.Ticket{Secrets: map[string]string{"code": "h"}, Uses: 1}, ttl), wallet.EINVALID)
	}
	_, err := s.Get(ctx, "k")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testValueExpires(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	start := time.Now()
	noErr(t, s.Put(ctx, "k", []byte("v"), shortTTL))
	_, err := s.Get(ctx, "k")
	// Only a read that surely came before the TTL ran out must find the value.
	if time.Since(start) < shortTTL {
		noErr(t, err)
	}
	waitUntil(t, "value expired", func() bool {
		_, err := s.Get(ctx, "k")
		if err != nil && !wallet.IsCode(err, wallet.ENOTFOUND) {
			t.Fatalf("Get: %v", err)
		}
		return err != nil
	})
}

func testPutNewAfterExpiry(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	ok, err := s.PutNew(ctx, "k", []byte("first"), shortTTL)
	noErr(t, err)
	if !ok {
		t.Fatal("PutNew on an absent key = false, want true")
	}
	waitUntil(t, "PutNew succeeds after expiry", func() bool {
		ok, err := s.PutNew(ctx, "k", []byte("second"), longTTL)
		noErr(t, err)
		return ok
	})
	got, err := s.Get(ctx, "k")
	noErr(t, err)
	if string(got) != "second" {
		t.Fatalf("Get = %q, want %q", got, "second")
	}
}

func testCountMissing(t *testing.T, s wallet.ShortLivedStore) {
	n, ttl, err := s.Count(t.Context(), "missing")
	noErr(t, err)
	if n != 0 || ttl != 0 {
		t.Fatalf("Count = %d, %v; want 0, 0", n, ttl)
	}
}

func testIncr(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	const window = time.Minute
	for want := int64(1); want <= 3; want++ {
		n, ttl, err := s.Incr(ctx, "n", window)
		noErr(t, err)
		if n != want {
			t.Fatalf("Incr = %d, want %d", n, want)
		}
		if ttl <= 0 || ttl > window {
			t.Fatalf("Incr time left = %v, want in (0, %v]", ttl, window)
		}
	}
	n, ttl, err := s.Count(ctx, "n")
	noErr(t, err)
	if n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
	if ttl <= 0 || ttl > window {
		t.Fatalf("Count time left = %v, want in (0, %v]", ttl, window)
	}
	// Counters are independent.
	n, _, err = s.Incr(ctx, "other", window)
	noErr(t, err)
	if n != 1 {
		t.Fatalf("Incr of another counter = %d, want 1", n)
	}
}

func testCounterExpires(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	_, _, err := s.Incr(ctx, "n", shortTTL)
	noErr(t, err)
	_, _, err = s.Incr(ctx, "n", shortTTL)
	noErr(t, err)
	waitUntil(t, "counter expired", func() bool {
		n, ttl, err := s.Count(ctx, "n")
		noErr(t, err)
		return n == 0 && ttl == 0
	})
	n, _, err := s.Incr(ctx, "n", longTTL)
	noErr(t, err)
	if n != 1 {
		t.Fatalf("Incr after expiry = %d, want 1", n)
	}
}

// testFixedWindow increments a counter more often than its window is long.
// A sliding window (one extended by every increment) would never reset; a
// fixed one resets once its first window is over.
func testFixedWindow(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	const window = 300 * time.Millisecond
	n, first, err := s.Incr(ctx, "n", window)
	noErr(t, err)
	if n != 1 {
		t.Fatalf("first Incr = %d, want 1", n)
	}
	time.Sleep(window / 3)
	n, later, err := s.Incr(ctx, "n", window)
	noErr(t, err)
	if n == 2 && later >= first {
		t.Fatalf("time left grew from %v to %v after a later Incr", first, later)
	}
	waitUntil(t, "counter reset although increments keep coming", func() bool {
		n, _, err := s.Incr(ctx, "n", window)
		noErr(t, err)
		return n == 1
	})
}

func testTicket(uses, attempts int) wallet.Ticket {
	return wallet.Ticket{
		Secrets:  map[string]string{"token": "token-hash", "code": "code-hash"},
		Uses:     uses,
		Attempts: attempts,
		Payload:  []byte(`{"share":"s1"}`),
	}
}

func testUseTicketMissing(t *testing.T, s wallet.ShortLivedStore) {
	_, err := s.UseTicket(t.Context(), "missing", "code", "code-hash")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testUseTicketUnknownSecret(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.PutTicket(ctx, "t", testTicket(1, 1), longTTL))
	for range 3 {
		_, err := s.UseTicket(ctx, "t", "otp", "code-hash")
		wantCode(t, err, wallet.ENOTFOUND)
	}
	// Asking for a secret the ticket does not have spends no attempt.
	u, err := s.UseTicket(ctx, "t", "code", "code-hash")
	noErr(t, err)
	if u.UsesLeft != 0 {
		t.Fatalf("UsesLeft = %d, want 0", u.UsesLeft)
	}
}

func testUseTicketUses(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	tk := testTicket(3, 3)
	noErr(t, s.PutTicket(ctx, "t", tk, longTTL))
	for want := 2; want >= 0; want-- {
		u, err := s.UseTicket(ctx, "t", "token", "token-hash")
		noErr(t, err)
		if u.UsesLeft != want {
			t.Fatalf("UsesLeft = %d, want %d", u.UsesLeft, want)
		}
		if !bytes.Equal(u.Payload, tk.Payload) {
			t.Fatalf("Payload = %q, want %q", u.Payload, tk.Payload)
		}
	}
	_, err := s.UseTicket(ctx, "t", "token", "token-hash")
	wantCode(t, err, wallet.ENOTFOUND)
	// A used-up ticket is deleted, not kept with zero uses.
	ok, err := s.PutNew(ctx, "t", []byte("x"), longTTL)
	noErr(t, err)
	if !ok {
		t.Fatal("the key of a used-up ticket still exists")
	}
}

func testUseTicketSecrets(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	tk := testTicket(2, 3)
	tk.Payload = []byte{0, 1, 0xfe, 0xff}
	noErr(t, s.PutTicket(ctx, "t", tk, longTTL))
	u, err := s.UseTicket(ctx, "t", "code", "code-hash")
	noErr(t, err)
	if u.UsesLeft != 1 || !bytes.Equal(u.Payload, tk.Payload) {
		t.Fatalf("UseTicket by code = %d, %x; want 1, %x", u.UsesLeft, u.Payload, tk.Payload)
	}
	// The secrets share one count of uses.
	u, err = s.UseTicket(ctx, "t", "token", "token-hash")
	noErr(t, err)
	if u.UsesLeft != 0 {
		t.Fatalf("UseTicket by token: UsesLeft = %d, want 0", u.UsesLeft)
	}
	_, err = s.UseTicket(ctx, "t", "code", "code-hash")
	wantCode(t, err, wallet.ENOTFOUND)
	// One secret's hash does not open the other.
	noErr(t, s.PutTicket(ctx, "t2", tk, longTTL))
	_, err = s.UseTicket(ctx, "t2", "code", "token-hash")
	wantCode(t, err, wallet.EINVALIDCODE)
	// A ticket without payload returns an empty one.
	noErr(t, s.PutTicket(ctx, "t3", wallet.Ticket{Secrets: map[string]string{"otp": "h"}, Uses: 1}, longTTL))
	u, err = s.UseTicket(ctx, "t3", "otp", "h")
	noErr(t, err)
	if len(u.Payload) != 0 {
		t.Fatalf("Payload = %q, want empty", u.Payload)
	}
}

func testWrongCodeLimited(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.PutTicket(ctx, "t", testTicket(1, 3), longTTL))
	for want := 2; want >= 0; want-- {
		_, err := s.UseTicket(ctx, "t", "code", "wrong")
		wantCode(t, err, wallet.EINVALIDCODE)
		if e := wallet.AsError(err); e.AttemptsLeft != want {
			t.Fatalf("AttemptsLeft = %d, want %d", e.AttemptsLeft, want)
		}
	}
	// With no attempt left the ticket is gone: the right code is too late.
	_, err := s.UseTicket(ctx, "t", "code", "code-hash")
	wantCode(t, err, wallet.ENOTFOUND)
	_, err = s.UseTicket(ctx, "t", "code", "wrong")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testWrongCodeThenRight(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.PutTicket(ctx, "t", testTicket(2, 3), longTTL))
	_, err := s.UseTicket(ctx, "t", "code", "wrong")
	wantCode(t, err, wallet.EINVALIDCODE)
	u, err := s.UseTicket(ctx, "t", "code", "code-hash")
	noErr(t, err)
	if u.UsesLeft != 1 {
		t.Fatalf("UsesLeft = %d, want 1", u.UsesLeft)
	}
	_, err = s.UseTicket(ctx, "t", "code", "wrong")
	wantCode(t, err, wallet.EINVALIDCODE)
	if e := wallet.AsError(err); e.AttemptsLeft != 1 {
		t.Fatalf("AttemptsLeft after a success = %d, want 1 (a success does not reset attempts)", e.AttemptsLeft)
	}
}

func testWrongCodeUnlimited(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.PutTicket(ctx, "t", testTicket(1, 0), longTTL))
	for range 10 {
		_, err := s.UseTicket(ctx, "t", "token", "wrong")
		wantCode(t, err, wallet.EINVALIDCODE)
		if e := wallet.AsError(err); e.AttemptsLeft != -1 {
			t.Fatalf("AttemptsLeft = %d, want -1 (unlimited)", e.AttemptsLeft)
		}
	}
	u, err := s.UseTicket(ctx, "t", "token", "token-hash")
	noErr(t, err)
	if u.UsesLeft != 0 {
		t.Fatalf("UsesLeft = %d, want 0", u.UsesLeft)
	}
}

func testReserve(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	budgets := []wallet.Budget{
		{Key: "{r}a", Limit: 2, Window: longTTL},
		{Key: "{r}b", Limit: 3, Window: longTTL},
	}
	for want := int64(1); want <= 2; want++ {
		n, err := s.Reserve(ctx, budgets)
		noErr(t, err)
		if len(n) != 2 || n[0] != want || n[1] != want {
			t.Fatalf("Reserve = %v, want [%d %d]", n, want, want)
		}
	}
	// a is full: nothing is counted, b included.
	_, err := s.Reserve(ctx, budgets)
	wantCode(t, err, wallet.ERATELIMITED)
	var we *wallet.Error
	if errors.As(err, &we) && (we.RetryAfter < time.Second || we.RetryAfter > longTTL) {
		t.Errorf("RetryAfter = %v, want between 1s and %v", we.RetryAfter, longTTL)
	}
	if n, _, _ := s.Count(ctx, "{r}b"); n != 2 {
		t.Errorf("b = %d after a refused reservation, want 2", n)
	}
	noErr(t, s.Unreserve(ctx, "{r}a", "{r}missing"))
	if n, _, _ := s.Count(ctx, "{r}missing"); n != 0 {
		t.Errorf("Unreserve made a counter of a missing key: %d", n)
	}
	n, err := s.Reserve(ctx, budgets)
	noErr(t, err)
	if n[0] != 2 || n[1] != 3 {
		t.Fatalf("Reserve after Unreserve = %v, want [2 3]", n)
	}
	_, err = s.Reserve(ctx, []wallet.Budget{{Key: "{r}c", Limit: 1, Window: 0}})
	wantCode(t, err, wallet.EINVALID)
}

func testReserveExpires(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	b := []wallet.Budget{{Key: "{r}a", Limit: 1, Window: shortTTL}}
	_, err := s.Reserve(ctx, b)
	noErr(t, err)
	_, err = s.Reserve(ctx, b)
	wantCode(t, err, wallet.ERATELIMITED)
	waitUntil(t, "the budget's window ends", func() bool {
		_, err := s.Reserve(ctx, b)
		return err == nil
	})
}

// testConcurrentReserve fires many reservations at once: exactly the
// smallest limit succeed, and every counter ends at that number.
func testConcurrentReserve(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	budgets := []wallet.Budget{
		{Key: "{r}a", Limit: 5, Window: longTTL},
		{Key: "{r}b", Limit: 7, Window: longTTL},
	}
	_, errs := race(40, func(int) ([]int64, error) { return s.Reserve(ctx, budgets) })
	got := tally(errs)
	if got[""] != 5 || got[wallet.ERATELIMITED] != 35 {
		t.Fatalf("outcomes = %v, want 5 successes and 35 %s", got, wallet.ERATELIMITED)
	}
	for _, k := range []string{"{r}a", "{r}b"} {
		if n, _, _ := s.Count(ctx, k); n != 5 {
			t.Errorf("%s = %d, want 5", k, n)
		}
	}
}

func testPutTicketReplaces(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.PutTicket(ctx, "t", testTicket(1, 3), longTTL))
	_, err := s.UseTicket(ctx, "t", "code", "wrong")
	wantCode(t, err, wallet.EINVALIDCODE)
	replacement := wallet.Ticket{Secrets: map[string]string{"otp": "otp-hash"}, Uses: 1, Attempts: 5, Payload: []byte("new")}
	noErr(t, s.PutTicket(ctx, "t", replacement, longTTL))
	// The old secrets are gone with the old ticket.
	_, err = s.UseTicket(ctx, "t", "code", "code-hash")
	wantCode(t, err, wallet.ENOTFOUND)
	_, err = s.UseTicket(ctx, "t", "otp", "wrong")
	if e := wallet.AsError(err); e == nil || e.Code != wallet.EINVALIDCODE || e.AttemptsLeft != 4 {
		t.Fatalf("wrong code on the replacement = %v, want %s with 4 attempts left", err, wallet.EINVALIDCODE)
	}
	u, err := s.UseTicket(ctx, "t", "otp", "otp-hash")
	noErr(t, err)
	if string(u.Payload) != "new" {
		t.Fatalf("Payload = %q, want %q", u.Payload, "new")
	}
	// A ticket also replaces a plain value.
	noErr(t, s.Put(ctx, "v", []byte("x"), longTTL))
	noErr(t, s.PutTicket(ctx, "v", testTicket(1, 1), longTTL))
	_, err = s.UseTicket(ctx, "v", "code", "code-hash")
	noErr(t, err)
}

func testPutTicketInvalid(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	for name, tk := range map[string]wallet.Ticket{
		"no uses":           testTicket(0, 3),
		"negative uses":     testTicket(-1, 3),
		"negative attempts": testTicket(1, -1),
	} {
		if err := s.PutTicket(ctx, "t", tk, longTTL); wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("PutTicket with %s = %v, want %s", name, err, wallet.EINVALID)
		}
	}
	_, err := s.UseTicket(ctx, "t", "code", "code-hash")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testDeleteTicket(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.PutTicket(ctx, "t", testTicket(5, 3), longTTL))
	noErr(t, s.Delete(ctx, "t"))
	_, err := s.UseTicket(ctx, "t", "code", "code-hash")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testTicketExpires(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	start := time.Now()
	noErr(t, s.PutTicket(ctx, "t", testTicket(1, 0), shortTTL))
	// A wrong code on unlimited attempts changes nothing: poll with it.
	_, err := s.UseTicket(ctx, "t", "code", "wrong")
	if time.Since(start) < shortTTL {
		wantCode(t, err, wallet.EINVALIDCODE)
	}
	waitUntil(t, "ticket expired", func() bool {
		_, err := s.UseTicket(ctx, "t", "code", "wrong")
		if c := wallet.ErrorCode(err); c != wallet.EINVALIDCODE && c != wallet.ENOTFOUND {
			t.Fatalf("UseTicket: %v", err)
		}
		return wallet.IsCode(err, wallet.ENOTFOUND)
	})
	_, err = s.UseTicket(ctx, "t", "code", "code-hash")
	wantCode(t, err, wallet.ENOTFOUND)
}

// testWrongKind uses a key as a value and as a ticket: a caller's bug,
// reported as EINTERNAL rather than as a missing key.
func testWrongKind(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	noErr(t, s.Put(ctx, "value", []byte("not a number"), longTTL))
	noErr(t, s.PutTicket(ctx, "ticket", testTicket(1, 3), longTTL))
	_, err := s.Get(ctx, "ticket")
	wantCode(t, err, wallet.EINTERNAL)
	_, _, err = s.Incr(ctx, "ticket", longTTL)
	wantCode(t, err, wallet.EINTERNAL)
	_, _, err = s.Count(ctx, "ticket")
	wantCode(t, err, wallet.EINTERNAL)
	_, _, err = s.Incr(ctx, "value", longTTL)
	wantCode(t, err, wallet.EINTERNAL)
	_, _, err = s.Count(ctx, "value")
	wantCode(t, err, wallet.EINTERNAL)
	_, err = s.UseTicket(ctx, "value", "code", "code-hash")
	wantCode(t, err, wallet.EINTERNAL)
	_, err = s.Reserve(ctx, []wallet.Budget{{Key: "ticket", Limit: 5, Window: longTTL}})
	wantCode(t, err, wallet.EINTERNAL)
	// Nothing was changed by the failed calls.
	got, err := s.Get(ctx, "value")
	noErr(t, err)
	if string(got) != "not a number" {
		t.Fatalf("Get = %q, want the value put", got)
	}
	_, err = s.UseTicket(ctx, "ticket", "code", "code-hash")
	noErr(t, err)
}

// race runs fn in n goroutines released together and returns their errors
// and results.
func race[T any](n int, fn func(i int) (T, error)) ([]T, []error) {
	results := make([]T, n)
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			results[i], errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return results, errs
}

// tally counts errors by code ("" for success).
func tally(errs []error) map[string]int {
	m := map[string]int{}
	for _, err := range errs {
		m[wallet.ErrorCode(err)]++
	}
	return m
}

func concurrentUses(t *testing.T, s wallet.ShortLivedStore, uses int) {
	ctx := t.Context()
	const goroutines = 50
	noErr(t, s.PutTicket(ctx, "t", testTicket(uses, 3), longTTL))
	results, errs := race(goroutines, func(int) (wallet.TicketUse, error) {
		return s.UseTicket(ctx, "t", "token", "token-hash")
	})
	got := tally(errs)
	want := map[string]int{"": uses, wallet.ENOTFOUND: goroutines - uses}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("outcomes by error code = %v, want %v", got, want)
	}
	var left []int
	for i, r := range results {
		if errs[i] == nil {
			left = append(left, r.UsesLeft)
		}
	}
	slices.Sort(left)
	for i, l := range left {
		if l != i {
			t.Fatalf("UsesLeft of the successes = %v, want each of 0..%d once", left, uses-1)
		}
	}
}

func testConcurrentSingleUse(t *testing.T, s wallet.ShortLivedStore) { concurrentUses(t, s, 1) }

func testConcurrentThreeUses(t *testing.T, s wallet.ShortLivedStore) { concurrentUses(t, s, 3) }

func testConcurrentWrongCodes(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	const goroutines, attempts = 20, 3
	noErr(t, s.PutTicket(ctx, "t", testTicket(1, attempts), longTTL))
	_, errs := race(goroutines, func(int) (wallet.TicketUse, error) {
		return s.UseTicket(ctx, "t", "code", "wrong")
	})
	got := tally(errs)
	want := map[string]int{wallet.EINVALIDCODE: attempts, wallet.ENOTFOUND: goroutines - attempts}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("outcomes by error code = %v, want %v", got, want)
	}
	var left []int
	for _, err := range errs {
		if e := wallet.AsError(err); e != nil && e.Code == wallet.EINVALIDCODE {
			left = append(left, e.AttemptsLeft)
		}
	}
	slices.Sort(left)
	if !slices.Equal(left, []int{0, 1, 2}) {
		t.Fatalf("AttemptsLeft of the wrong codes = %v, want [0 1 2]", left)
	}
	_, err := s.UseTicket(ctx, "t", "code", "code-hash")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testConcurrentIncr(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	const goroutines = 50
	counts, errs := race(goroutines, func(int) (int64, error) {
		n, _, err := s.Incr(ctx, "n", longTTL)
		return n, err
	})
	for _, err := range errs {
		noErr(t, err)
	}
	slices.Sort(counts)
	for i, n := range counts {
		if n != int64(i+1) {
			t.Fatalf("counts = %v, want each of 1..%d once", counts, goroutines)
		}
	}
	n, _, err := s.Count(ctx, "n")
	noErr(t, err)
	if n != goroutines {
		t.Fatalf("Count = %d, want %d", n, goroutines)
	}
}

func testConcurrentPutNew(t *testing.T, s wallet.ShortLivedStore) {
	ctx := t.Context()
	const goroutines = 20
	oks, errs := race(goroutines, func(i int) (bool, error) {
		return s.PutNew(ctx, "k", []byte{byte(i)}, longTTL)
	})
	winner := -1
	for i, ok := range oks {
		noErr(t, errs[i])
		if ok {
			if winner >= 0 {
				t.Fatalf("PutNew succeeded for both %d and %d", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no PutNew succeeded")
	}
	got, err := s.Get(ctx, "k")
	noErr(t, err)
	if !bytes.Equal(got, []byte{byte(winner)}) {
		t.Fatalf("Get = %v, want the winner's value %v", got, []byte{byte(winner)})
	}
}
