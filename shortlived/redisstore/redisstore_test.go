package redisstore_test

import (
	"context"
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

// TestConformanceOnCluster runs the suite through a cluster client (Open
// with several addresses) against a one-node Redis Cluster holding every
// slot: scripts, transactions and pipelined deletes must all be cluster-safe.
func TestConformanceOnCluster(t *testing.T) {
	srv := shortlivedtest.StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	ctx := t.Context()
	node := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer node.Close()
	if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatalf("assigning slots: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(node.ClusterInfo(ctx).Val(), "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatal("cluster not ok after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s, err := redisstore.Open(ctx, srv.Addr()+","+srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, ok := s.Client().(*redis.ClusterClient); !ok {
		t.Fatalf("Open with two addresses made a %T, want a cluster client", s.Client())
	}
	shortlivedtest.RunShortLivedStoreTests(t, func(t *testing.T) wallet.ShortLivedStore {
		return redisstore.New(s.Client(), shortlivedtest.UniquePrefix(t))
	})
}

func TestOpen_MalformedURLDoesNotQuoteThePassword(t *testing.T) {
	_, err := redisstore.Open(context.Background(), "redis://user:s3cret-pw@host:6379/%zz")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error %v: want a refusal that does not quote the password", err)
	}
}
