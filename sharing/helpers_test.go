package sharing_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/historylog/historylogtest"
	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
	"github.com/qujat/qujat/wallet/sqlite"
	"github.com/qujat/qujat/wallet/wallettest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeDocuments serves documents from a map: the document service is not
// what these tests are about.
type fakeDocuments struct {
	mu   sync.Mutex
	docs map[string]wallet.Document
}

func (d *fakeDocuments) Document(ctx context.Context, id string) (wallet.Document, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	doc, ok := d.docs[id]
	if !ok {
		return wallet.Document{}, wallet.Errorf(wallet.ENOTFOUND, "no such document")
	}
	return doc, nil
}

func (d *fakeDocuments) add(doc wallet.Document) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.docs == nil {
		d.docs = map[string]wallet.Document{}
	}
	d.docs[doc.ID] = doc
}

// durableStore is the durable store as the service runs on it: the
// wallet's tables and the history log's in one database, so that a share's
// change commits with its leaves.
type durableStore interface {
	wallet.Store
	history.AuditStore
}

// env is a sharing service on real stores, with a fake clock.
type env struct {
	svc   *sharing.Service
	store durableStore           // what svc.Store is
	log   *historylogtest.Faults // the history log's store: store, with faults a test may arm
	codes wallet.ShortLivedStore
	clock *fakeClock
	docs  *fakeDocuments
	redis *shortlivedtest.RedisServer // set when the test started its own Redis
}

// backend makes the durable and short-lived stores of one test.
type backend struct {
	name string
	// shortLivedClock tells whether the short-lived store follows the fake
	// clock (memstore) or its own (Redis).
	shortLivedClock bool
	open            func(t testing.TB, clock *fakeClock) (durableStore, wallet.ShortLivedStore, *shortlivedtest.RedisServer)
}

var memorySQLite = backend{
	name:            "memory+sqlite",
	shortLivedClock: true,
	open: func(t testing.TB, clock *fakeClock) (durableStore, wallet.ShortLivedStore, *shortlivedtest.RedisServer) {
		return openSQLite(t), memstore.New(clock.Now), nil
	},
}

// redisSQLite runs a redis-server of the test's own, which it may stop and
// restart.
var redisSQLite = backend{
	name: "redis+sqlite",
	open: func(t testing.TB, clock *fakeClock) (durableStore, wallet.ShortLivedStore, *shortlivedtest.RedisServer) {
		srv := shortlivedtest.StartRedis(t)
		codes, err := redisstore.Open(context.Background(), srv.URL())
		if err != nil {
			t.Fatalf("redisstore.Open: %v", err)
		}
		t.Cleanup(func() { codes.Close() })
		return openSQLite(t), codes, srv
	},
}

// backends are the stores every behaviour is held to.
var backends = []backend{memorySQLite, redisSQLite, redisPostgres, redisClusterSQLite}

func openSQLite(t testing.TB) durableStore {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "qujat.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("sqlite migrate: %v", err)
	}
	return st
}

var (
	sealKey = []byte("0123456789abcdef0123456789abcdef")
	pepper  = []byte("test pepper, not a secret")
)

// startLog starts a history log on logStore and a Recorder on it; the
// store must pass the audit when the test ends (wallettest.StartLog).
func startLog(t testing.TB, store durableStore, logStore historylog.LogStore) history.Recorder {
	t.Helper()
	l, _ := wallettest.StartLog(t, store, logStore)
	return history.Recorder{Log: l}
}

func newEnv(t testing.TB, b backend) *env {
	t.Helper()
	clock := newClock()
	store, codes, srv := b.open(t, clock)
	faulty := historylogtest.NewFaults(store)
	docs := &fakeDocuments{}
	svc := &sharing.Service{
		Store:     store,
		Changes:   startLog(t, store, faulty),
		Codes:     codes,
		Hasher:    wallet.NewHasher(pepper),
		Documents: docs,
		Now:       clock.Now,
		PublicURL: "https://qujat.test",
		SealKey:   sealKey,
	}
	return &env{svc: svc, store: store, log: faulty, codes: codes, clock: clock, docs: docs, redis: srv}
}

// eachBackend runs fn as a subtest on every backend.
func eachBackend(t *testing.T, fn func(t *testing.T, e *env, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fn(t, newEnv(t, b), b)
		})
	}
}

var iinSerial atomic.Int64

// newIIN returns a valid IIN no other call returned (in this process), of
// someone born in 1990.
func newIIN(t testing.TB) wallet.IIN {
	t.Helper()
	for {
		n := iinSerial.Add(1)
		birth := time.Date(1990, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n/9000))
		if iin, ok := wallet.MakeIIN(birth, n%2 == 0, int(n%9000)+1); ok {
			return iin
		}
	}
}

// newDoc makes a document of owner that the fake document service serves.
func (e *env) newDoc(t testing.TB, owner wallet.IIN) wallet.Document {
	t.Helper()
	number := string(owner) + "-" + time.Now().Format("150405.000000000")
	doc := wallet.Document{
		ID:         wallet.DocumentID(owner, wallet.IDCard, number),
		Type:       wallet.IDCard,
		Title:      wallet.IDCard.Title(),
		SubjectIIN: owner,
		Issuer:     "mvd",
		Number:     number,
		Fields:     map[string]string{"surname": "Test"},
		Status:     wallet.StatusValid,
		Version:    1,
	}
	e.docs.add(doc)
	return doc
}

// open opens a share of a new document of a new owner.
func (e *env) open(t testing.TB, ttl time.Duration, maxViews int) (wallet.Document, sharing.Opened) {
	t.Helper()
	owner := newIIN(t)
	doc := e.newDoc(t, owner)
	o, err := e.svc.Open(context.Background(), doc, owner, ttl, maxViews)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return doc, o
}

func viewer(t testing.TB) sharing.Viewer {
	return sharing.Viewer{IIN: newIIN(t), IP: "192.0.2.10"}
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := wallet.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// viewsOfOwner returns the owner's views from the durable store.
func (e *env) viewsOfOwner(t testing.TB, owner wallet.IIN) []wallet.View {
	t.Helper()
	vs, err := e.store.ViewsOfOwner(context.Background(), owner)
	noErr(t, err)
	return vs
}

// events returns the kinds of the subject's events, newest first.
func (e *env) eventKinds(t testing.TB, subject wallet.IIN) []string {
	t.Helper()
	evs, err := e.store.Events(context.Background(), subject)
	noErr(t, err)
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	return kinds
}

func count(kinds []string, kind string) int {
	n := 0
	for _, k := range kinds {
		if k == kind {
			n++
		}
	}
	return n
}
