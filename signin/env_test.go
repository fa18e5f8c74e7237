package signin_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/sqlite"
	"github.com/qujat/qujat/wallet/wallettest"
)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// directory is a population registry of a few citizens.
type directory map[wallet.IIN]wallet.Citizen

func (d directory) Citizen(_ context.Context, iin wallet.IIN) (wallet.Citizen, error) {
	c, ok := d[iin]
	if !ok {
		return wallet.Citizen{}, wallet.Errorf(wallet.ENOTFOUND, "no such citizen")
	}
	return c, nil
}

func (d directory) Guardians(context.Context, wallet.IIN) ([]wallet.IIN, error) { return nil, nil }

type sms struct{ to, text string }

// phones keeps the messages it is asked to send; it refuses them while
// down is set.
type phones struct {
	mu   sync.Mutex
	sent []sms
	down bool
}

func (p *phones) Send(_ context.Context, to, text string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return wallet.Errorf(wallet.EUNAVAILABLE, "gateway down")
	}
	p.sent = append(p.sent, sms{to, text})
	return nil
}

func (p *phones) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

func (p *phones) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

var codeInText = regexp.MustCompile(`\b[0-9]{6}\b`)

// lastText is the newest message.
func (p *phones) lastText(t *testing.T) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sent) == 0 {
		t.Fatal("no SMS sent")
	}
	return p.sent[len(p.sent)-1].text
}

// lastCode is the code of the newest message, sent to phone.
func (p *phones) lastCode(t *testing.T, phone string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sent) == 0 {
		t.Fatal("no SMS sent")
	}
	last := p.sent[len(p.sent)-1]
	if last.to != phone {
		t.Fatalf("SMS went to %q, want %q", last.to, phone)
	}
	code := codeInText.FindString(last.text)
	if code == "" {
		t.Fatalf("no code in %q", last.text)
	}
	return code
}

// accessTokens mints numbered, readable access tokens.
type accessTokens struct {
	mu sync.Mutex
	n  int
}

const accessTTL = 15 * time.Minute

func (a *accessTokens) IssueCitizenToken(citizen wallet.IIN, session string) (string, time.Duration, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return fmt.Sprintf("access-%d-in-%s-for-%s", a.n, session, citizen), accessTTL, nil
}

func (a *accessTokens) AccessTokenTTL() time.Duration { return accessTTL }

// env is a sign-in service on the embedded adapters: SQLite for refresh
// tokens, process memory for OTP challenges, all on one fake clock.
type env struct {
	clock  *clock
	phones *phones
	hasher *wallet.Hasher
	store  wallet.Store
	svc    *signin.Service
	worker *outbox.Worker

	known   wallet.Citizen // in the registry
	unknown wallet.IIN     // a valid IIN the registry does not know
}

// backend is a durable store and a short-lived store to run the service on.
type backend struct {
	name    string
	durable func(t testing.TB) wallet.Store
	short   func(t testing.TB, now func() time.Time) wallet.ShortLivedStore
}

var (
	embedded = backend{"sqlite+memory", sqliteStore, func(_ testing.TB, now func() time.Time) wallet.ShortLivedStore { return memstore.New(now) }}
	backends = []backend{embedded, {"postgres+redis", postgresStore, redisShort}}
)

func sqliteStore(t testing.TB) wallet.Store {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "qujat.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func postgresStore(t testing.TB) wallet.Store {
	ctx := context.Background()
	st, err := postgres.Open(ctx, wallettest.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// redisShort is a store on TEST_REDIS_URL under a prefix of its own. Redis
// keeps its own time: tests on it must not wait for a window to end.
func redisShort(t testing.TB, _ func() time.Time) wallet.ShortLivedStore {
	opened, err := redisstore.Open(context.Background(), shortlivedtest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { opened.Close() })
	return redisstore.New(opened.Client(), shortlivedtest.UniquePrefix(t))
}

// eachBackend runs test on a fresh env on every backend.
func eachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, newEnvOn(t, b)) })
	}
}

func newEnv(t *testing.T) *env { return newEnvOn(t, embedded) }

func newEnvOn(t testing.TB, b backend) *env {
	t.Helper()
	st := b.durable(t)
	c := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	e := &env{clock: c, phones: &phones{}, hasher: wallet.NewHasher([]byte("test pepper")), store: st}
	e.known = wallet.Citizen{
		IIN: mustIIN(t, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), 3001), Name: "Aigerim Test",
		Phone: "+77011234567", BirthDate: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	e.unknown = mustIIN(t, time.Date(1977, 7, 7, 0, 0, 0, 0, time.UTC), 9001)
	o := otp.NewService(b.short(t, c.Now), e.hasher)
	o.Now = c.Now
	seal := outbox.NewSealer(e.hasher)
	e.worker = &outbox.Worker{Store: st, Sender: e.phones, Seal: seal, Now: c.Now}
	e.svc = &signin.Service{
		Directory: directory{e.known.IIN: e.known},
		OTP:       o,
		Outbox:    &outbox.Queue{Store: st, Seal: seal, Now: c.Now},
		Sessions:  st,
		Hasher:    e.hasher,
		Access:    &accessTokens{},
		Now:       c.Now,
		Rand:      rand.Reader,
		Revoked:   memstore.New(c.Now),
		Language:  locale.Stored(st),
	}
	return e
}

func mustIIN(t testing.TB, birth time.Time, serial int) wallet.IIN {
	t.Helper()
	for ; serial < 10000; serial++ {
		if iin, ok := wallet.MakeIIN(birth, false, serial); ok {
			return iin
		}
	}
	t.Fatal("no IIN")
	return ""
}

// address is where the tests' requests come from unless they say otherwise.
const address = "192.0.2.1"

// start asks for a code for iin from address, as the API does, and lets
// the outbox worker deliver what the request queued.
func (e *env) start(ctx context.Context, iin wallet.IIN) (signin.Challenge, error) {
	return e.startFrom(ctx, iin, signin.Requester{Address: address})
}

func (e *env) startFrom(ctx context.Context, iin wallet.IIN, from signin.Requester) (signin.Challenge, error) {
	ch, err := e.svc.Start(ctx, iin, from)
	e.deliver()
	return ch, err
}

// deliver runs one pass of the outbox worker.
func (e *env) deliver() {
	if _, err := e.worker.Pass(context.Background()); err != nil {
		panic(err)
	}
}

// signIn signs the known citizen in and returns the pair.
func (e *env) signIn(t *testing.T) signin.Pair {
	t.Helper()
	ctx := context.Background()
	ch, err := e.start(ctx, e.known.IIN)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	p, err := e.svc.Finish(ctx, ch.ID, e.phones.lastCode(t, e.known.Phone))
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return p
}

func wantCode(t *testing.T, err error, code string) *wallet.Error {
	t.Helper()
	if got := wallet.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	return wallet.AsError(err)
}

// wrongCode returns a six-digit code other than code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}
