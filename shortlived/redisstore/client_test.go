package redisstore

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/qujat/qujat/wallet"
)

func TestNewClientPicksClientForOneURLAndClusterForSeveral(t *testing.T) {
	c, err := newClient("redis://:secret@cache.internal:6380/2")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	single, ok := c.(*redis.Client)
	if !ok {
		t.Fatalf("one URL made a %T, want *redis.Client", c)
	}
	if o := single.Options(); o.Addr != "cache.internal:6380" || o.DB != 2 || o.Password != "secret" {
		t.Fatalf("options = addr %q db %d, want cache.internal:6380 db 2 with the password", o.Addr, o.DB)
	}

	c, err = newClient("redis://:secret@a.internal:7000, b.internal:7001 ,redis://c.internal")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cluster, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("three addresses made a %T, want *redis.ClusterClient", c)
	}
	o := cluster.Options()
	if want := []string{"a.internal:7000", "b.internal:7001", "c.internal:6379"}; !slices.Equal(o.Addrs, want) {
		t.Fatalf("cluster seeds = %v, want %v", o.Addrs, want)
	}
	if o.Password != "secret" || o.ClusterStateReloadInterval != 5*time.Second {
		t.Fatalf("cluster options: password set %v, reload interval %v", o.Password == "secret", o.ClusterStateReloadInterval)
	}
}

func TestRoundUpToMillisecond(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		time.Nanosecond:                      time.Millisecond,
		time.Millisecond:                     time.Millisecond,
		1500 * time.Microsecond:              2 * time.Millisecond,
		time.Second:                          time.Second,
		time.Second + time.Nanosecond:        time.Second + time.Millisecond,
		200*time.Millisecond - 1:             200 * time.Millisecond,
		5*time.Minute + 999*time.Microsecond: 5*time.Minute + time.Millisecond,
	} {
		if got := roundUpToMillisecond(in); got != want {
			t.Errorf("roundUpToMillisecond(%v) = %v, want %v", in, got, want)
		}
	}
}

type serverError string

func (e serverError) Error() string { return string(e) }
func (serverError) RedisError()     {}

func TestTranslateMapsDriverErrorsToCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{redis.Nil, wallet.ENOTFOUND},
		{redis.ErrClosed, wallet.EUNAVAILABLE},
		{redis.ErrPoolTimeout, wallet.EUNAVAILABLE},
		{serverError("LOADING Redis is loading the dataset in memory"), wallet.EUNAVAILABLE},
		{serverError("CLUSTERDOWN The cluster is down"), wallet.EUNAVAILABLE},
		{serverError("WRONGTYPE Operation against a key holding the wrong kind of value"), wallet.EINTERNAL},
		{errors.New("something else"), wallet.EINTERNAL},
	} {
		err := translate(tc.err, "op")
		if got := wallet.ErrorCode(err); got != tc.code {
			t.Errorf("translate(%v) = %q, want %q", tc.err, got, tc.code)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("translate(%v) lost its cause", tc.err)
		}
	}
	if translate(nil, "op") != nil {
		t.Error("translate(nil) != nil")
	}
}

// A script the server may have run is never sent again by go-redis: no
// retries (0 once the client is made, whatever the URL asks) and no cluster
// redirects loop; timeouts are ours unless the URL sets them.
func TestNewClientNeverRetries(t *testing.T) {
	c, err := newClient("redis://cache.internal:6380/0?max_retries=5")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.(*redis.Client).Options()
	if o.MaxRetries != 0 {
		t.Errorf("MaxRetries = %d, want 0 (none)", o.MaxRetries)
	}
	if o.ReadTimeout != defaultIOTimeout || o.WriteTimeout != defaultIOTimeout || o.DialTimeout != defaultDialTimeout {
		t.Errorf("timeouts dial %v read %v write %v, want %v %v %v", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, defaultDialTimeout, defaultIOTimeout, defaultIOTimeout)
	}
	c2, err := newClient("redis://cache.internal:6380/0?read_timeout=500ms")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if o := c2.(*redis.Client).Options(); o.ReadTimeout != 500*time.Millisecond || o.WriteTimeout != 500*time.Millisecond {
		t.Errorf("URL timeouts: read %v write %v, want 500ms both", o.ReadTimeout, o.WriteTimeout)
	}

	cc, err := newClient("redis://a.internal:7000?max_retries=5&max_redirects=8,b.internal:7001")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	co := cc.(*redis.ClusterClient).Options()
	if co.MaxRetries > 0 || co.MaxRedirects != 0 || co.ReadTimeout != defaultIOTimeout {
		t.Errorf("cluster: MaxRetries %d, MaxRedirects %d, ReadTimeout %v; want none, 0, %v", co.MaxRetries, co.MaxRedirects, co.ReadTimeout, defaultIOTimeout)
	}
}

// One seed address (a managed cluster's configuration endpoint) makes a
// cluster client when the scheme says so.
func TestNewClientClusterSchemeWithOneSeed(t *testing.T) {
	for _, u := range []string{"redis+cluster://:pw@seed.internal:7000", "rediss+cluster://seed.internal:7000"} {
		c, err := newClient(u)
		if err != nil {
			t.Fatalf("newClient(%q): %v", u, err)
		}
		defer c.Close()
		cc, ok := c.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("newClient(%q) made a %T, want *redis.ClusterClient", u, c)
		}
		o := cc.Options()
		if !slices.Equal(o.Addrs, []string{"seed.internal:7000"}) || o.MaxRetries > 0 || o.ClusterStateReloadInterval != 5*time.Second {
			t.Errorf("newClient(%q): seeds %v, MaxRetries %d, reload every %v", u, o.Addrs, o.MaxRetries, o.ClusterStateReloadInterval)
		}
		if strings.HasPrefix(u, "rediss") != (o.TLSConfig != nil) {
			t.Errorf("newClient(%q): TLS %v", u, o.TLSConfig != nil)
		}
	}
}
