package outbox_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/sqlite"
	"github.com/qujat/qujat/wallet/wallettest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gateway records what it is given; it fails while down.
type gateway struct {
	mu   sync.Mutex
	down bool
	got  []string // "id to text"
}

func (g *gateway) SendID(_ context.Context, id, to, text string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		return wallet.Errorf(wallet.EUNAVAILABLE, "gateway answered 503")
	}
	g.got = append(g.got, id+" "+to+" "+text)
	return nil
}

func (g *gateway) Send(ctx context.Context, to, text string) error {
	return g.SendID(ctx, "", to, text)
}

func (g *gateway) sent() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.got...)
}

func (g *gateway) setDown(d bool) { g.mu.Lock(); g.down = d; g.mu.Unlock() }

var stores = []struct {
	name string
	open func(t *testing.T) wallet.OutboxStore
}{
	{"sqlite", func(t *testing.T) wallet.OutboxStore {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "q.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"postgres", func(t *testing.T) wallet.OutboxStore {
		s, err := postgres.Open(context.Background(), wallettest.PostgresSchemaURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

type env struct {
	clock  *clock
	store  wallet.OutboxStore
	gw     *gateway
	queue  *outbox.Queue
	worker *outbox.Worker
	gaveUp []wallet.Message
}

func each(t *testing.T, test func(t *testing.T, e *env)) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
			h := wallet.NewHasher([]byte("test pepper"))
			seal := outbox.NewSealer(h)
			e := &env{clock: c, store: st.open(t), gw: &gateway{}}
			e.queue = &outbox.Queue{Store: e.store, Seal: seal, Now: c.Now}
			e.worker = &outbox.Worker{Store: e.store, Sender: e.gw, Seal: seal, Now: c.Now,
				GaveUp: func(_ context.Context, m wallet.Message) { e.gaveUp = append(e.gaveUp, m) }}
			test(t, e)
		})
	}
}

func (e *env) enqueue(t *testing.T, text string, life time.Duration) wallet.Message {
	t.Helper()
	m, err := e.queue.Message("signin", "ref-1", "+77011234567", text, e.clock.Now().Add(life))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.queue.Enqueue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) pass(t *testing.T) {
	t.Helper()
	if _, err := e.worker.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWorker_DeliversOnceWithItsIDAndErases(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		m := e.enqueue(t, "Qujat: your sign-in code is 123456.", 5*time.Minute)
		if strings.Contains(string(m.Sealed), "123456") {
			t.Fatal("the stored text is not sealed")
		}
		e.pass(t)
		e.pass(t)
		if got := e.gw.sent(); len(got) != 1 || got[0] != m.ID+" +77011234567 Qujat: your sign-in code is 123456." {
			t.Fatalf("gateway got %q", got)
		}
		stored, err := e.store.OutboxMessage(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Status != wallet.MessageSent || stored.To != "" || len(stored.Sealed) != 0 {
			t.Fatalf("after delivery: %+v", stored)
		}
	})
}

func TestWorker_RetriesWithBackoffThenGivesUp(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.gw.setDown(true)
		m := e.enqueue(t, "code 111111", 5*time.Minute)
		e.pass(t) // attempt 1 fails: due again in 1 s
		e.pass(t) // not due: nothing
		e.clock.Advance(time.Second)
		e.pass(t) // attempt 2 fails: due again in 2 s
		e.clock.Advance(time.Second)
		e.pass(t) // not due
		stored, _ := e.store.OutboxMessage(context.Background(), m.ID)
		if stored.Attempts != 2 || !strings.Contains(stored.LastError, "503") {
			t.Fatalf("after two failures: %+v", stored)
		}
		// Back up: delivered on the next due pass.
		e.gw.setDown(false)
		e.clock.Advance(time.Second)
		e.pass(t)
		if len(e.gw.sent()) != 1 {
			t.Fatalf("not delivered after the gateway came back: %v", e.gw.sent())
		}
		// Another message runs out of time while the gateway is down.
		e.gw.setDown(true)
		late := e.enqueue(t, "code 222222", time.Minute)
		e.pass(t)
		e.clock.Advance(2 * time.Minute)
		e.pass(t)
		if len(e.gaveUp) != 1 || e.gaveUp[0].ID != late.ID || e.gaveUp[0].Ref != "ref-1" {
			t.Fatalf("given up: %+v", e.gaveUp)
		}
		e.gw.setDown(false)
		e.pass(t)
		if len(e.gw.sent()) != 1 {
			t.Fatal("a message given up was sent late")
		}
	})
}

func TestWorker_DecoyIsNeverSent(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		d, err := e.queue.Decoy("signin", 40, e.clock.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.queue.Enqueue(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		e.pass(t)
		e.clock.Advance(time.Hour)
		e.pass(t)
		if len(e.gw.sent()) != 0 || len(e.gaveUp) != 0 {
			t.Fatalf("decoy sent %v or given up %v", e.gw.sent(), e.gaveUp)
		}
	})
}

func TestWorker_FlushAndRunDeliverWhatIsQueued(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for range 40 { // more than a batch
			e.enqueue(t, "code 333333", time.Minute)
		}
		if err := e.worker.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(e.gw.sent()); n != 40 {
			t.Fatalf("flush delivered %d of 40", n)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.worker.Run(ctx); close(done) }()
		e.queue.Kick = e.worker.Kick
		e.enqueue(t, "code 444444", time.Minute)
		for range 500 {
			if len(e.gw.sent()) == 41 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		if n := len(e.gw.sent()); n != 41 {
			t.Fatalf("the running worker delivered %d of 41", n)
		}
	})
}

func TestSealer_BindsTheTextToItsMessage(t *testing.T) {
	s := outbox.NewSealer(wallet.NewHasher([]byte("pepper one")))
	sealed, err := s.Seal("msg_a", "code 123456")
	if err != nil {
		t.Fatal(err)
	}
	if text, err := s.Open("msg_a", sealed); err != nil || text != "code 123456" {
		t.Fatalf("open: %q %v", text, err)
	}
	if _, err := s.Open("msg_b", sealed); wallet.ErrorCode(err) != wallet.EINTERNAL {
		t.Fatalf("opened under another id: %v", err)
	}
	other := outbox.NewSealer(wallet.NewHasher([]byte("pepper two")))
	if _, err := other.Open("msg_a", sealed); err == nil {
		t.Fatal("opened with another pepper")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open("msg_a", sealed); err == nil {
		t.Fatal("opened a tampered text")
	}
	if _, err := s.Open("msg_a", []byte{1, 2}); err == nil {
		t.Fatal("opened a short text")
	}
}

func TestWorker_PurgesFinishedMessagesPastKeep(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.worker.Keep = time.Hour
		m := e.enqueue(t, "code 555555", time.Minute)
		e.pass(t) // delivered
		e.clock.Advance(30 * time.Minute)
		e.pass(t)
		if _, err := e.store.OutboxMessage(context.Background(), m.ID); err != nil {
			t.Fatalf("purged before Keep: %v", err)
		}
		e.clock.Advance(31 * time.Minute)
		e.pass(t)
		if _, err := e.store.OutboxMessage(context.Background(), m.ID); wallet.ErrorCode(err) != wallet.ENOTFOUND {
			t.Fatalf("kept past Keep: %v", err)
		}
	})
}
