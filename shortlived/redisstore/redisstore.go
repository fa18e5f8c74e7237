// Package redisstore is a wallet.ShortLivedStore on Redis (single node,
// Sentinel or Cluster through go-redis's UniversalClient). It passes the suite
// in shortlived/shortlivedtest, as shortlived/memstore does.
//
// Every operation but Reserve and Unreserve touches one key, so it works
// unchanged on a cluster; those two take several keys, which must share one
// hash slot (callers give them one hash tag). The operations that read and
// then write (UseTicket, Incr, Count, Reserve, Unreserve) are Lua scripts, which Redis runs atomically; they are sent with
// EVALSHA and fall back to EVAL when the server has not cached them yet.
//
// A ticket is a hash: its uses, attempts and payload, and each secret under
// "secret:" + its name, so that no secret name collides with the other fields.
//
// On a cluster, a node that cannot be reached makes the client reload the
// slot map at once, so that after a failover commands reach the promoted
// replica within a fraction of a second rather than at the next periodic
// reload (every 5 s here; go-redis's default is a minute).
//
// Driver errors are translated here: redis.Nil becomes ENOTFOUND; failures to
// reach the server (refused or dropped connections, timeouts, a closed
// client, a cluster that is down or failing over) become EUNAVAILABLE; any
// other server error is EINTERNAL (a bug, such as a key used both as a value
// and as a ticket).
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/qujat/qujat/wallet"
)

var _ wallet.ShortLivedStore = (*Store)(nil)

// DefaultPrefix is the key prefix of a store made by Open.
const DefaultPrefix = "qujat:"

// Ticket hash fields.
const (
	fieldUses     = "uses"
	fieldAttempts = "attempts"
	fieldPayload  = "payload"
	secretPrefix  = "secret:"
)

// Store is a wallet.ShortLivedStore on Redis. It is safe for concurrent use.
type Store struct {
	client  redis.UniversalClient
	cluster *redis.ClusterClient // client, when it is a cluster's
	prefix  string
	owned   bool // Close closes client (true when made by Open)
}

// New returns a store that keeps its keys, prefixed with prefix, in client.
// The caller keeps ownership of client: Close does not close it. The prefix
// must not contain '{', or it would change the hash slot of keys that use a
// Redis Cluster hash tag.
func New(client redis.UniversalClient, prefix string) *Store {
	cluster, _ := client.(*redis.ClusterClient)
	return &Store{client: client, cluster: cluster, prefix: prefix}
}

// Open connects to Redis and returns a store with DefaultPrefix that owns its
// client. rawURL is one redis:// (or rediss://) URL, with go-redis's options
// as query parameters, or several comma-separated addresses (URLs or bare
// host:port) that are seed nodes of one cluster; redis+cluster:// (or
// rediss+cluster://) makes a cluster client of one seed address too.
// EINVALID if rawURL cannot be parsed; EUNAVAILABLE if Redis (on a cluster:
// every master) does not answer PING.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	client, err := newClient(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only
		// what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, wallet.Wrap(wallet.EINVALID, err, "invalid Redis URL")
	}
	s := New(client, DefaultPrefix)
	s.owned = true
	if err := s.Ping(ctx); err != nil {
		_ = client.Close()
		return nil, err
	}
	return s, nil
}

// newClient makes a client for rawURL without connecting.
func newClient(rawURL string) (redis.UniversalClient, error) {
	var parts []string
	for _, p := range strings.Split(rawURL, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return nil, errors.New("no Redis address")
	}
	cluster := len(parts) > 1
	for _, scheme := range []string{"redis", "rediss"} {
		if rest, ok := strings.CutPrefix(parts[0], scheme+"+cluster://"); ok {
			parts[0], cluster = scheme+"://"+rest, true
		}
	}
	if !cluster {
		opts, err := redis.ParseURL(withScheme(parts[0]))
		if err != nil {
			return nil, err
		}
		opts.MaxRetries = -1
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = timeouts(opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout)
		return redis.NewClient(opts), nil
	}
	// A cluster: options (credentials, TLS, timeouts) come from the first
	// URL; the others only add seed addresses.
	opts, err := redis.ParseClusterURL(withScheme(parts[0]))
	if err != nil {
		return nil, err
	}
	for _, p := range parts[1:] {
		u, err := url.Parse(withScheme(p))
		if err != nil {
			return nil, err
		}
		host, port := u.Hostname(), u.Port()
		if host == "" {
			return nil, fmt.Errorf("redis address %q has no host", p)
		}
		if port == "" {
			port = "6379"
		}
		opts.Addrs = append(opts.Addrs, net.JoinHostPort(host, port))
	}
	// go-redis reloads the slot map every minute by default and keeps writing
	// to a failed master until then; a failover should cost seconds.
	if opts.ClusterStateReloadInterval == 0 {
		opts.ClusterStateReloadInterval = 5 * time.Second
	}
	// The cluster client's own loop resends a command after a timeout or a
	// dropped connection as well as after MOVED or ASK, up to MaxRedirects
	// times; none (-1) sends each command once. A MOVED reply then fails the
	// call as EUNAVAILABLE and reloads the slot map, so that the next call
	// goes to the right node.
	opts.MaxRedirects = -1
	opts.MaxRetries = -1
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = timeouts(opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout)
	return redis.NewClusterClient(opts), nil
}

// Timeouts of a client made by Open, unless its URL sets them (dial_timeout,
// read_timeout, write_timeout). A short-lived-store call sits inside an HTTP
// request: two seconds without an answer is an outage to report
// (EUNAVAILABLE, the request fails closed), not a wait worth the caller's
// time.
//
// Retries are never the client library's: go-redis by default sends a
// command again, on another connection, when the first one timed out or was
// dropped, although Redis may well have run it. For Incr, UseTicket,
// Reserve and Unreserve that would count or spend twice (one OTP attempt
// spending two, one wrong code counting as two). So Open sets MaxRetries to
// -1 whatever the URL says, and callers decide: a failed call is
// EUNAVAILABLE and the request fails.
const (
	defaultDialTimeout = 2 * time.Second
	defaultIOTimeout   = 2 * time.Second
)

func timeouts(dial, read, write time.Duration) (time.Duration, time.Duration, time.Duration) {
	if dial == 0 {
		dial = defaultDialTimeout
	}
	if read == 0 {
		read = defaultIOTimeout
	}
	if write == 0 {
		write = read
	}
	return dial, read, write
}

func withScheme(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	return "redis://" + s
}

// Client returns the client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Close closes the client if the store made it (Open); otherwise it does
// nothing.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.client.Close()
}

func (s *Store) key(k string) string { return s.prefix + k }

// Key returns the Redis key under which the store keeps k (its prefix and
// k), for tools and tests that look at Redis itself.
func (s *Store) Key(k string) string { return s.key(k) }

// Ping checks that Redis answers; on a cluster, that every master does
// (while one does not, the keys of its slots cannot be reached), after
// reloading the slot map, so that a master replaced by its replica no
// longer counts. EUNAVAILABLE otherwise.
func (s *Store) Ping(ctx context.Context) error {
	if s.cluster != nil {
		return s.translate(s.cluster.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			return m.Ping(ctx).Err()
		}), "ping")
	}
	return s.translate(s.client.Ping(ctx).Err(), "ping")
}

// translate is the package's translate; on a cluster, a node that cannot
// be reached also makes the client reload the slot map (in the background,
// at most one reload at a time), so that once a replica has taken over a
// dead master's slots the next command goes to it, not to the dead master
// until the periodic reload.
func (s *Store) translate(err error, op string) error {
	err = translate(err, op)
	if s.cluster != nil && wallet.IsCode(err, wallet.EUNAVAILABLE) {
		s.cluster.ReloadState(context.Background())
	}
	return err
}

// Put sets key to value, replacing whatever it held, expiring after ttl
// (rounded up to a whole millisecond). EINVALID if ttl is not positive.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return wallet.Errorf(wallet.EINVALID, "ttl must be positive")
	}
	return s.translate(s.client.Set(ctx, s.key(key), value, roundUpToMillisecond(ttl)).Err(), "put")
}

// PutAll sets every entry with its own SET, all in one pipeline on one
// Redis, and returns the first error. On a Redis Cluster it sends the SETs
// one after the other, as Put does: with go-redis's cluster pipeline, the
// fault suite's master failovers lost entries of shares whose issuance had
// succeeded (in two runs of three), which single SETs do not. EINVALID if
// ttl is not positive.
func (s *Store) PutAll(ctx context.Context, ttl time.Duration, entries ...wallet.KeyValue) error {
	if ttl <= 0 {
		return wallet.Errorf(wallet.EINVALID, "ttl must be positive")
	}
	if len(entries) == 0 {
		return nil
	}
	px := roundUpToMillisecond(ttl)
	if s.cluster != nil {
		for _, e := range entries {
			if err := s.translate(s.client.Set(ctx, s.key(e.Key), e.Value, px).Err(), "put all"); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.Set(ctx, s.key(e.Key), e.Value, px)
		}
		return nil
	})
	return s.translate(err, "put all")
}

// PutNew sets key only if it holds nothing (SET NX, itself atomic), and
// reports whether it did. EINVALID if ttl is not positive.
func (s *Store) PutNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, wallet.Errorf(wallet.EINVALID, "ttl must be positive")
	}
	err := s.client.SetArgs(ctx, s.key(key), value, redis.SetArgs{Mode: "NX", TTL: roundUpToMillisecond(ttl)}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil // the key exists
	}
	if err != nil {
		return false, s.translate(err, "put new")
	}
	return true, nil
}

// Get returns the value at key. ENOTFOUND if absent or expired, EINTERNAL if
// the key holds a ticket.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := s.client.Get(ctx, s.key(key)).Bytes()
	if err != nil {
		return nil, s.translate(err, "get")
	}
	return b, nil
}

// Delete removes the keys, whatever they hold; absent keys are ignored. The
// keys are deleted one command each, pipelined, so that keys in different
// cluster slots can go in one call.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	switch len(keys) {
	case 0:
		return nil
	case 1:
		return s.translate(s.client.Del(ctx, s.key(keys[0])).Err(), "delete")
	}
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, s.key(k))
		}
		return nil
	})
	return s.translate(err, "delete")
}

// incrScript increments KEYS[1] and returns {count, ms left}. It sets the
// expiry (ARGV[1] ms) only on a key without one: a new counter, or (should
// one ever exist) a counter that somehow lost its expiry and would otherwise
// never reset. A live window is never extended.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// Incr adds one to the counter at key and returns the new count and the time
// left in its window. A new counter expires after window (rounded up to a
// whole millisecond); later increments keep its expiry. EINVALID if window
// is not positive, EINTERNAL if the key holds a ticket or a value that is
// not an integer.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, wallet.Errorf(wallet.EINVALID, "window must be positive")
	}
	ms := roundUpToMillisecond(window).Milliseconds()
	r, err := incrScript.Run(ctx, s.client, []string{s.key(key)}, ms).Int64Slice()
	if err != nil {
		return 0, 0, s.translate(err, "incr")
	}
	if len(r) != 2 {
		return 0, 0, unexpectedReply("incr", r)
	}
	return r[0], time.Duration(r[1]) * time.Millisecond, nil
}

// countScript returns {value, ms left} of KEYS[1], or {0, 0} if absent; in
// one script so that the two agree.
var countScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  return {'0', 0}
end
return {v, redis.call('PTTL', KEYS[1])}
`)

// Count returns the counter at key and the time it has left; 0, 0 if absent.
// EINTERNAL if the key holds a ticket or a value that is not an integer.
func (s *Store) Count(ctx context.Context, key string) (int64, time.Duration, error) {
	r, err := countScript.Run(ctx, s.client, []string{s.key(key)}).Slice()
	if err != nil {
		return 0, 0, s.translate(err, "count")
	}
	if len(r) != 2 {
		return 0, 0, unexpectedReply("count", r)
	}
	v, _ := r[0].(string)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, 0, wallet.Wrap(wallet.EINTERNAL, err, "key does not hold a counter")
	}
	ms, _ := r[1].(int64)
	if ms < 0 { // no expiry; counters always have one
		ms = 0
	}
	return n, time.Duration(ms) * time.Millisecond, nil
}

// PutTicket stores t at key, replacing whatever the key held, expiring after
// ttl (rounded up to a whole millisecond), in one MULTI/EXEC transaction.
// EINVALID if ttl is not positive, t.Uses < 1 or t.Attempts < 0.
func (s *Store) PutTicket(ctx context.Context, key string, t wallet.Ticket, ttl time.Duration) error {
	switch {
	case ttl <= 0:
		return wallet.Errorf(wallet.EINVALID, "ttl must be positive")
	case t.Uses < 1:
		return wallet.Errorf(wallet.EINVALID, "a ticket needs at least one use")
	case t.Attempts < 0:
		return wallet.Errorf(wallet.EINVALID, "ticket attempts must not be negative")
	}
	fields := make([]any, 0, 6+2*len(t.Secrets))
	fields = append(fields,
		fieldUses, t.Uses,
		fieldAttempts, t.Attempts,
		fieldPayload, t.Payload,
	)
	for name, h := range t.Secrets {
		fields = append(fields, secretPrefix+name, h)
	}
	k := s.key(key)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, k)
		p.HSet(ctx, k, fields...)
		p.PExpire(ctx, k, roundUpToMillisecond(ttl))
		return nil
	})
	return s.translate(err, "put ticket")
}

// useTicketScript checks ARGV[2] against the secret field ARGV[1] of the
// ticket KEYS[1]. It returns {-1} if there is no ticket or no such secret;
// {1, uses left, payload} on a match (deleting a used-up ticket); {0,
// attempts left} on a mismatch (-1 when attempts are unlimited; deleting a
// ticket with no attempt left). Plain equality is enough here: the values
// compared are HMACs, so their timing tells nothing about the secret.
var useTicketScript = redis.NewScript(`
local t = redis.call('HMGET', KEYS[1], ARGV[1], 'uses', 'attempts', 'payload')
if not t[2] or not t[1] then
  return {-1}
end
if t[1] == ARGV[2] then
  local uses = redis.call('HINCRBY', KEYS[1], 'uses', -1)
  if uses <= 0 then
    redis.call('DEL', KEYS[1])
    uses = 0
  end
  return {1, uses, t[4] or ''}
end
local attempts = tonumber(t[3])
if attempts > 0 then
  attempts = redis.call('HINCRBY', KEYS[1], 'attempts', -1)
  if attempts <= 0 then
    redis.call('DEL', KEYS[1])
    attempts = 0
  end
  return {0, attempts}
end
return {0, -1}
`)

// UseTicket checks hash against the ticket's secret called name. On a match
// it spends one use, deleting the ticket when none is left, and returns the
// payload. A wrong hash spends one attempt of a ticket with limited attempts
// (deleting it when none is left) and returns EINVALIDCODE with
// AttemptsLeft, or -1 when attempts are unlimited. ENOTFOUND if there is no
// ticket at key or it has no secret called name; EINTERNAL if the key holds a
// plain value.
func (s *Store) UseTicket(ctx context.Context, key, name, hash string) (wallet.TicketUse, error) {
	r, err := useTicketScript.Run(ctx, s.client, []string{s.key(key)}, secretPrefix+name, hash).Slice()
	if err != nil {
		return wallet.TicketUse{}, s.translate(err, "use ticket")
	}
	status, _ := first(r)
	switch {
	case status == -1 && len(r) == 1:
		return wallet.TicketUse{}, wallet.Errorf(wallet.ENOTFOUND, "no such ticket")
	case status == 1 && len(r) == 3:
		left, ok1 := r[1].(int64)
		payload, ok2 := r[2].(string)
		if !ok1 || !ok2 {
			break
		}
		return wallet.TicketUse{Payload: []byte(payload), UsesLeft: int(left)}, nil
	case status == 0 && len(r) == 2:
		left, ok := r[1].(int64)
		if !ok {
			break
		}
		e := wallet.Errorf(wallet.EINVALIDCODE, "wrong code")
		e.AttemptsLeft = int(left)
		return wallet.TicketUse{}, e
	}
	return wallet.TicketUse{}, unexpectedReply("use ticket", r)
}

// reserveScript checks every counter KEYS[i] against its limit ARGV[2i-1]
// and, only if all are below, increments them all, giving a new counter its
// window of ARGV[2i] ms. It returns {1, count...} or, if a counter is full,
// {0, longest ms left among the full ones}; one script, so that no other
// reservation comes between the check and the increments.
var reserveScript = redis.NewScript(`
local wait = 0
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v then
    local n = tonumber(v)
    if not n then
      return redis.error_reply('ERR key does not hold a counter')
    end
    if n >= tonumber(ARGV[2*i-1]) then
      local t = redis.call('PTTL', k)
      if t <= 0 then t = tonumber(ARGV[2*i]) end
      if t > wait then wait = t end
    end
  end
end
if wait > 0 then
  return {0, wait}
end
local r = {1}
for i, k in ipairs(KEYS) do
  r[i+1] = redis.call('INCR', k)
  if redis.call('PTTL', k) < 0 then
    redis.call('PEXPIRE', k, ARGV[2*i])
  end
end
return r
`)

// Reserve adds one to every counter of budgets if each is below its limit,
// and nothing otherwise, in one script. It returns the new counts.
// ERATELIMITED (RetryAfter set) if a counter is full; EINVALID for a budget
// without a positive limit and window; EINTERNAL if a key holds a ticket or
// a value that is not an integer, or if the keys do not share one cluster
// hash slot (CROSSSLOT: give them one hash tag).
func (s *Store) Reserve(ctx context.Context, budgets []wallet.Budget) ([]int64, error) {
	if len(budgets) == 0 {
		return nil, nil
	}
	keys := make([]string, len(budgets))
	args := make([]any, 0, 2*len(budgets))
	for i, b := range budgets {
		if b.Window <= 0 || b.Limit <= 0 {
			return nil, wallet.Errorf(wallet.EINVALID, "a budget needs a positive limit and window")
		}
		keys[i] = s.key(b.Key)
		args = append(args, b.Limit, roundUpToMillisecond(b.Window).Milliseconds())
	}
	r, err := reserveScript.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		return nil, s.translate(err, "reserve")
	}
	switch {
	case len(r) == 2 && r[0] == 0:
		e := wallet.Errorf(wallet.ERATELIMITED, "too many attempts; try again later")
		e.RetryAfter = max(time.Duration(r[1])*time.Millisecond, time.Second)
		return nil, e
	case len(r) == len(budgets)+1 && r[0] == 1:
		return r[1:], nil
	}
	return nil, unexpectedReply("reserve", r)
}

// unreserveScript decrements each counter KEYS[i] that exists and is above
// zero, after checking that all hold integers.
var unreserveScript = redis.NewScript(`
local vs = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and not tonumber(v) then
    return redis.error_reply('ERR key does not hold a counter')
  end
  vs[i] = v
end
for i, k in ipairs(KEYS) do
  if vs[i] and tonumber(vs[i]) > 0 then
    redis.call('DECR', k)
  end
end
return 0
`)

// Unreserve takes one back from each counter that exists and is above zero,
// in one script. EINTERNAL as Reserve.
func (s *Store) Unreserve(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = s.key(k)
	}
	return s.translate(unreserveScript.Run(ctx, s.client, ks).Err(), "unreserve")
}

func first(r []any) (int64, bool) {
	if len(r) == 0 {
		return 0, false
	}
	n, ok := r[0].(int64)
	return n, ok
}

// roundUpToMillisecond rounds d up to Redis's precision, so that nothing
// expires sooner than asked.
func roundUpToMillisecond(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return d
}

func unexpectedReply(op string, r any) error {
	return wallet.Wrap(wallet.EINTERNAL, fmt.Errorf("unexpected reply %v", r), "redis "+op+": unexpected reply")
}

// translate maps a go-redis error to a domain error: redis.Nil → ENOTFOUND,
// an unreachable server → EUNAVAILABLE, any other server error → EINTERNAL.
func translate(err error, op string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return wallet.Wrap(wallet.ENOTFOUND, err, "not found")
	case unavailable(err):
		return wallet.Wrap(wallet.EUNAVAILABLE, err, "short-lived store unavailable")
	default:
		return wallet.Wrap(wallet.EINTERNAL, err, "redis "+op+" failed")
	}
}

// Server errors that mean "not now" rather than "wrong request".
var transientPrefixes = []string{"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "NOREPLICAS", "MOVED", "ASK"}

// unavailable reports whether err means the server could not be reached or
// could not serve the request for now.
func unavailable(err error) bool {
	var redisErr redis.Error
	if errors.As(err, &redisErr) {
		for _, p := range transientPrefixes {
			if redis.HasErrorPrefix(err, p) {
				return true
			}
		}
		return strings.HasPrefix(redisErr.Error(), "ERR max number of clients")
	}
	// Whatever is not the server's answer is the way to it failing: dial and
	// I/O errors, timeouts, a cancelled request, a closed client, an
	// exhausted pool.
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, redis.ErrPoolExhausted) || errors.Is(err, net.ErrClosed)
}
