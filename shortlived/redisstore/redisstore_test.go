package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
)

var (
	sharedOnce   sync.Once
	sharedClient redis.UniversalClient
	sharedErr    error
)

// newStore returns a store on the TEST_REDIS_URL server with a prefix of its
// own; its keys are deleted when the test ends. All stores share one client.
func newStore(t *testing.T) *redisstore.Store {
	t.Helper()
	url := shortlivedtest.RedisURL(t)
	sharedOnce.Do(func() {
		var s *redisstore.Store
		s, sharedErr = redisstore.Open(context.Background(), url)
		if sharedErr == nil {
			sharedClient = s.Client()
		}
	})
	if sharedErr != nil {
		t.Fatalf("opening TEST_REDIS_URL: %v", sharedErr)
	}
	prefix := shortlivedtest.UniquePrefix(t)
	t.Cleanup(func() { deleteKeys(t, sharedClient, prefix) })
	return redisstore.New(sharedClient, prefix)
}

// deleteKeys removes what a test left under prefix (most of it would expire
// on its own within a minute).
func deleteKeys(t *testing.T, c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("listing test keys: %v", err)
		return
	}
	for _, k := range keys {
		c.Del(ctx, k)
	}
}

func TestShortLivedStoreConformance(t *testing.T) {
	shortlivedtest.RunShortLivedStoreTests(t, func(t *testing.T) wallet.ShortLivedStore {
		return newStore(t)
	})
}

func TestKeysArePrefixed(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	prefix := shortlivedtest.UniquePrefix(t)
	other := redisstore.New(s.Client(), prefix)
	if err := other.Put(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteKeys(t, s.Client(), prefix) })
	if got, err := s.Client().Get(ctx, prefix+"k").Result(); err != nil || got != "v" {
		t.Fatalf("raw GET of the prefixed key = %q, %v", got, err)
	}
	if _, err := s.Get(ctx, "k"); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("a store with another prefix sees the key: %v", err)
	}
}

func TestTicketIsAHashWithExpiry(t *testing.T) {
	ctx := t.Context()
	prefix := shortlivedtest.UniquePrefix(t)
	s := newStore(t)
	s = redisstore.New(s.Client(), prefix)
	t.Cleanup(func() { deleteKeys(t, s.Client(), prefix) })
	tk := wallet.Ticket{Secrets: map[string]string{"code": "h"}, Uses: 2, Attempts: 3, Payload: []byte("p")}
	if err := s.PutTicket(ctx, "t", tk, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	c := s.Client()
	if typ := c.Type(ctx, prefix+"t").Val(); typ != "hash" {
		t.Fatalf("TYPE = %q, want hash", typ)
	}
	if ttl := c.PTTL(ctx, prefix+"t").Val(); ttl <= 0 || ttl > 1500*time.Millisecond {
		t.Fatalf("PTTL = %v, want in (0, 1.5s]", ttl)
	}
	if got := c.HGet(ctx, prefix+"t", "secret:code").Val(); got != "h" {
		t.Fatalf("secret field = %q, want %q", got, "h")
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "http://localhost:6379", "redis://localhost:6379/notanumber", " , "} {
		if _, err := redisstore.Open(t.Context(), u); !wallet.IsCode(err, wallet.EINVALID) {
			t.Errorf("Open(%q) = %v, want %s", u, err, wallet.EINVALID)
		}
	}
}

func TestOpenUnreachableIsUnavailable(t *testing.T) {
	srv := shortlivedtest.StartRedis(t)
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := redisstore.Open(ctx, srv.URL()); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Fatalf("Open of a stopped server = %v, want %s", err, wallet.EUNAVAILABLE)
	}
}

func TestOpenAcceptsBareAddress(t *testing.T) {
	srv := shortlivedtest.StartRedis(t)
	s, err := redisstore.Open(t.Context(), srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(t.Context(), "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
}

// TestStoppedRedisIsUnavailable stops Redis under an open store: every
// operation must fail with EUNAVAILABLE, and work again once Redis is back.
func TestStoppedRedisIsUnavailable(t *testing.T) {
	srv := shortlivedtest.StartRedis(t)
	s, err := redisstore.Open(t.Context(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	tk := wallet.Ticket{Secrets: map[string]string{"code": "h"}, Uses: 2, Attempts: 3}
	if err := s.PutTicket(ctx, "t", tk, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	ops := map[string]func(context.Context) error{
		"Ping": s.Ping,
		"Put":  func(ctx context.Context) error { return s.Put(ctx, "k", []byte("v"), time.Minute) },
		"PutNew": func(ctx context.Context) error {
			_, err := s.PutNew(ctx, "n", []byte("v"), time.Minute)
			return err
		},
		"Get": func(ctx context.Context) error {
			_, err := s.Get(ctx, "k")
			return err
		},
		"Delete":    func(ctx context.Context) error { return s.Delete(ctx, "a", "b") },
		"DeleteOne": func(ctx context.Context) error { return s.Delete(ctx, "a") },
		"Incr":      func(ctx context.Context) error { _, _, err := s.Incr(ctx, "c", time.Minute); return err },
		"Count":     func(ctx context.Context) error { _, _, err := s.Count(ctx, "c"); return err },
		"PutTicket": func(ctx context.Context) error { return s.PutTicket(ctx, "t2", tk, time.Minute) },
		"UseTicket": func(ctx context.Context) error { _, err := s.UseTicket(ctx, "t", "code", "h"); return err },
		"Reserve": func(ctx context.Context) error {
			_, err := s.Reserve(ctx, []wallet.Budget{{Key: "{r}a", Limit: 1, Window: time.Minute}})
			return err
		},
		"Unreserve": func(ctx context.Context) error { return s.Unreserve(ctx, "{r}a", "{r}b") },
	}
	var wg sync.WaitGroup
	for name, op := range ops {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := op(ctx); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
				t.Errorf("%s with Redis stopped = %v, want %s", name, err, wallet.EUNAVAILABLE)
			}
		})
	}
	wg.Wait()

	srv.Restart()
	// go-redis stops dialling after repeated failures and probes the server
	// once a second until it answers: wait for that, then everything works.
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Ping still fails 10s after Restart: %v", s.Ping(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for name, op := range ops {
		if err := op(ctx); err != nil && !wallet.IsCode(err, wallet.ENOTFOUND) {
			t.Errorf("%s after Restart = %v, want it to work", name, err)
		}
	}
	// The restarted server is empty (no persistence): what was put is gone.
	if _, err := s.UseTicket(ctx, "t", "code", "h"); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("UseTicket of a ticket put before the restart = %v, want %s", err, wallet.ENOTFOUND)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	srv := shortlivedtest.StartRedis(t)
	s, err := redisstore.Open(t.Context(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "k"); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Fatalf("Get on a closed store = %v, want %s", err, wallet.EUNAVAILABLE)
	}
}

func TestMain(m *testing.M) { shortlivedtest.Main(m) }

// TestConformanceOnCluster runs the suite through a cluster client (Open
// with the nodes' addresses) against a Redis Cluster of three masters and
// three replicas: scripts, transactions and pipelined deletes must all be
// cluster-safe, and a script whose keys lie in different slots fails
// (CROSSSLOT), so the suite's multi-key calls hold only with hash tags.
func TestConformanceOnCluster(t *testing.T) {
	c := shortlivedtest.SharedCluster(t)
	ctx := t.Context()
	s, err := redisstore.Open(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, ok := s.Client().(*redis.ClusterClient); !ok {
		t.Fatalf("Open with several addresses made a %T, want a cluster client", s.Client())
	}
	shortlivedtest.RunShortLivedStoreTests(t, func(t *testing.T) wallet.ShortLivedStore {
		return redisstore.New(s.Client(), shortlivedtest.UniquePrefix(t))
	})
}

// TestCluster_KeysWithoutATagInDifferentSlotsAreRefused shows what the hash
// tags are for: Reserve on counters of different slots is refused by the
// cluster (EINTERNAL, CROSSSLOT) and counts nothing, while the same
// counters under one tag are reserved together.
func TestCluster_KeysWithoutATagInDifferentSlotsAreRefused(t *testing.T) {
	c := shortlivedtest.SharedCluster(t)
	ctx := t.Context()
	opened, err := redisstore.Open(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	s := redisstore.New(opened.Client(), shortlivedtest.UniquePrefix(t))
	// Two keys on different masters (the prefix is random, so look).
	other := ""
	for i := 0; other == "" && i < 100; i++ {
		if k := fmt.Sprintf("owner:%d", i); masterOf(t, c, s, k) != masterOf(t, c, s, "viewer:a") {
			other = k
		}
	}
	untagged := []wallet.Budget{{Key: "viewer:a", Limit: 5, Window: time.Minute}, {Key: other, Limit: 5, Window: time.Minute}}
	_, err = s.Reserve(ctx, untagged)
	if !wallet.IsCode(err, wallet.EINTERNAL) || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("Reserve of untagged keys on two masters = %v, want EINTERNAL (CROSSSLOT)", err)
	}
	if n, _, err := s.Count(ctx, "viewer:a"); err != nil || n != 0 {
		t.Fatalf("a refused Reserve counted %d (%v)", n, err)
	}
	tagged := []wallet.Budget{{Key: "{guess}viewer:a", Limit: 5, Window: time.Minute}, {Key: "{guess}" + other, Limit: 5, Window: time.Minute}}
	if got, err := s.Reserve(ctx, tagged); err != nil || len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Fatalf("Reserve of tagged keys = %v, %v; want [1 1]", got, err)
	}
	if err := s.Unreserve(ctx, "viewer:a", other); !wallet.IsCode(err, wallet.EINTERNAL) {
		t.Fatalf("Unreserve of untagged keys on two masters = %v, want EINTERNAL", err)
	}
}

// masterOf is the node holding the store's key k.
func masterOf(t *testing.T, c *shortlivedtest.Cluster, s *redisstore.Store, k string) *shortlivedtest.RedisServer {
	t.Helper()
	m, err := c.MasterOf(t.Context(), s.Key(k))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpen_MalformedURLDoesNotQuoteThePassword(t *testing.T) {
	_, err := redisstore.Open(context.Background(), "redis://user:s3cret-pw@host:6379/%zz")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error %v: want a refusal that does not quote the password", err)
	}
}

// TestCluster_AfterAFailoverWritesGoToTheNewMaster kills the master of a
// counter's slot under a store that keeps writing to it. While no replica
// has taken over, writes fail closed (EUNAVAILABLE, never another code, no
// retry by the client); once one has, they reach it within seconds (the
// store reloads the slot map on the first failure instead of waiting for
// the periodic reload), and Ping, which asks every master, answers again.
// The counter keeps what was replicated before the kill.
func TestCluster_AfterAFailoverWritesGoToTheNewMaster(t *testing.T) {
	c := shortlivedtest.StartCluster(t)
	redis.SetLogger(quietLog{}) // go-redis logs every failed dial
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, err := redisstore.Open(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 3 {
		if _, _, err := s.Incr(ctx, "counter", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	victim := masterOf(t, c, s, "counter")
	victim.Kill()
	killed := time.Now()
	if err := s.Ping(ctx); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Fatalf("Ping with a master killed = %v, want %s", err, wallet.EUNAVAILABLE)
	}
	// Keep writing, as a service under load does.
	var promoted time.Time
	failures := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := c.WaitMasterChange(ctx, s.Key("counter"), victim); err != nil {
			t.Error(err)
		}
		promoted = time.Now()
	}()
	var n int64
	for {
		n, _, err = s.Incr(ctx, "counter", time.Minute)
		if err == nil {
			break
		}
		if !wallet.IsCode(err, wallet.EUNAVAILABLE) {
			t.Fatalf("Incr during the failover = %v, want %s", err, wallet.EUNAVAILABLE)
		}
		if ctx.Err() != nil {
			t.Fatalf("no write succeeded within a minute of the kill: %v", err)
		}
		failures++
		time.Sleep(20 * time.Millisecond)
	}
	recovered := time.Now()
	<-done
	if n != 4 {
		t.Errorf("counter after the failover = %d, want 4 (3 replicated before the kill, 1 after)", n)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the failover: %v", err)
	}
	after := recovered.Sub(promoted)
	t.Logf("killed → replica promoted %v, → first write accepted %v (%v after the promotion), %d writes refused meanwhile",
		promoted.Sub(killed).Round(time.Millisecond), recovered.Sub(killed).Round(time.Millisecond), after.Round(time.Millisecond), failures)
	// Without the reload on failure the store would wait for its periodic
	// reload (every 5 s: measured 2.9 s after the promotion here; go-redis's
	// default is a minute); with it, about 0.3 s.
	if after > 2*time.Second {
		t.Errorf("writes reached the new master %v after the promotion, want within 2 s", after)
	}
}

type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}
