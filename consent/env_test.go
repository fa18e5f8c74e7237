package consent_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/historylog/historylogtest"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
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

// fakeDocuments gives every citizen an identity card, a passport, a
// driving licence and a vehicle registration. before, if set, runs at the start of each call.
type fakeDocuments struct {
	mu     sync.Mutex
	before func()
}

var fakeTypes = []wallet.DocumentType{wallet.IDCard, wallet.Passport, wallet.DrivingLicence, wallet.VehicleRegistration}

func (f *fakeDocuments) setBefore(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before = fn
}

func (f *fakeDocuments) Documents(ctx context.Context, subject wallet.IIN) ([]wallet.Document, error) {
	f.mu.Lock()
	before := f.before
	f.mu.Unlock()
	if before != nil {
		before()
	}
	var out []wallet.Document
	for i, t := range fakeTypes {
		number := string(t) + "-" + string(subject[8:])
		out = append(out, wallet.Document{
			ID:         wallet.DocumentID(subject, t, number),
			Type:       t,
			Title:      t.Title(),
			SubjectIIN: subject,
			Issuer:     "test-issuer",
			Number:     number,
			Status:     wallet.StatusValid,
			Version:    i + 1,
		})
	}
	return out, nil
}

// failingSender fails every message, as a gateway that is down.
type failingSender struct{}

func (failingSender) Send(ctx context.Context, to, text string) error {
	return wallet.Errorf(wallet.EUNAVAILABLE, "gateway down")
}

// deliver runs a pass of the outbox worker.
func (e *env) deliver(t *testing.T) {
	t.Helper()
	if _, err := e.worker.Pass(context.Background()); err != nil {
		t.Fatalf("outbox pass: %v", err)
	}
}

// switchable is a gateway that can be taken down.
type switchable struct {
	outbox.Sender
	mu   sync.Mutex
	down bool
}

func (s *switchable) Send(ctx context.Context, to, text string) error {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return wallet.Errorf(wallet.EUNAVAILABLE, "gateway down")
	}
	return s.Sender.Send(ctx, to, text)
}

func (s *switchable) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// durableStore is the durable store as the service runs on it: the
// wallet's tables and the history log's in one database, so that a
// consent's change commits with its leaves.
type durableStore interface {
	wallet.Store
	history.AuditStore
}

// backend names the stores a test runs on: the durable one and the
// short-lived one.
type backend struct {
	name    string
	durable func(t *testing.T) durableStore
	codes   func(t *testing.T, now func() time.Time) wallet.ShortLivedStore
}

var backends = []backend{
	{"sqlite+memory", sqliteStore, memoryCodes},
	{"sqlite+redis", sqliteStore, redisCodes},
	{"postgres+redis", postgresStore, redisCodes}, // postgres_test.go
}

// sqliteStore opens a migrated SQLite store in a temporary directory.
func sqliteStore(t *testing.T) durableStore {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "qujat.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// startLog starts a history log on logStore and a Recorder on it; the
// store must pass the audit when the test ends (wallettest.StartLog).
func startLog(t *testing.T, store durableStore, logStore historylog.LogStore) history.Recorder {
	t.Helper()
	l, _ := wallettest.StartLog(t, store, logStore)
	return history.Recorder{Log: l}
}

func memoryCodes(t *testing.T, now func() time.Time) wallet.ShortLivedStore { return memstore.New(now) }

// redisCodes returns a store on TEST_REDIS_URL under a prefix of its own
// (skipped without it). Redis keeps its own time, so only the tests'
// durable expiries follow the fake clock there.
func redisCodes(t *testing.T, now func() time.Time) wallet.ShortLivedStore {
	url := shortlivedtest.RedisURL(t)
	opened, err := redisstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { opened.Close() })
	return redisstore.New(opened.Client(), shortlivedtest.UniquePrefix(t))
}

// env is one service wired from real parts, with a bank admitted for
// vehicle registrations and driving licences (banks get identity documents
// only in person), an insurer for these and identity cards and passports, and a third
// organisation only for diplomas.
type env struct {
	svc      *consent.Service
	store    durableStore
	log      *historylogtest.Faults // the history log's store: store, with faults a test may arm
	changes  wallet.Committer       // the Recorder on log
	outbox   *sms.Outbox            // reading it delivers what is queued first
	gateway  *switchable
	worker   *outbox.Worker
	clock    *clock
	docs     *fakeDocuments
	demo     *sources.Demo
	bank     wallet.Client
	secret   string
	insurer  wallet.Client
	school   wallet.Client
	citizen  wallet.Citizen // has a phone and documents
	citizen2 wallet.Citizen
}

func newEnv(t *testing.T, b backend) *env {
	t.Helper()
	ctx := context.Background()
	store := b.durable(t)
	demo, err := sources.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)}
	codes := b.codes(t, clk.Now)
	hasher := wallet.NewHasher([]byte("test pepper"))
	phones := sms.NewOutbox(0, clk.Now)
	gateway := &switchable{Sender: phones}
	seal := outbox.NewSealer(hasher)
	worker := &outbox.Worker{Store: store, Sender: gateway, Seal: seal, Now: clk.Now}
	faulty := historylogtest.NewFaults(store)
	e := &env{
		store:   store,
		log:     faulty,
		changes: startLog(t, store, faulty),
		outbox:  phones,
		gateway: gateway,
		worker:  worker,
		clock:   clk,
		docs:    &fakeDocuments{},
		demo:    demo,
	}
	e.svc = &consent.Service{
		Store:     store,
		Changes:   e.changes,
		Directory: demo,
		OTP: &otp.Service{
			Store:  codes,
			Hasher: hasher,
			Now:    clk.Now,
			Rand:   rand.Reader,
		},
		Outbox:    &outbox.Queue{Store: store, Seal: seal, Now: clk.Now},
		Codes:     codes,
		Documents: e.docs,
		Hasher:    hasher,
		Now:       clk.Now,
		Rand:      rand.Reader,
		Language:  locale.Stored(store),
	}
	worker.GaveUp = e.svc.DeliveryFailed
	phones.DeliverFirst(func(ctx context.Context) error { _, err := worker.Pass(ctx); return err })
	citizens := demo.Citizens()
	e.citizen, e.citizen2 = citizens[0], citizens[1]
	// The first citizen reads English (the tests quote the texts); the
	// second chose nothing, so Kazakh.
	if err := store.SavePreferences(ctx, wallet.Preferences{IIN: e.citizen.IIN, Language: "en", UpdatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	e.bank, e.secret, err = e.svc.CreateClient(ctx, "Halyk Bank", consent.KindBank, []wallet.DocumentType{wallet.VehicleRegistration, wallet.DrivingLicence})
	if err != nil {
		t.Fatal(err)
	}
	e.insurer, _, err = e.svc.CreateClient(ctx, "Nomad Insurance", consent.KindInsurer,
		[]wallet.DocumentType{wallet.IDCard, wallet.Passport, wallet.VehicleRegistration, wallet.DrivingLicence})
	if err != nil {
		t.Fatal(err)
	}
	e.school, _, err = e.svc.CreateClient(ctx, "Enbek Agency", consent.KindGov, []wallet.DocumentType{wallet.Diploma})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// runAll runs each behaviour on every backend, each on a fresh env.
func runAll(t *testing.T, behaviours map[string]func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for name, fn := range behaviours {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					fn(t, newEnv(t, b))
				})
			}
		})
	}
}

// request makes a request of the bank for the citizen's vehicle registration.
func (e *env) request(t *testing.T, method string) wallet.Consent {
	t.Helper()
	c, err := e.svc.Request(context.Background(), e.bank.ID, consent.Request{
		IIN:           e.citizen.IIN,
		DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration},
		Purpose:       "opening a current account",
		Method:        method,
	})
	if err != nil {
		t.Fatalf("Request(%s): %v", method, err)
	}
	return c
}

// codeRE and refRE read the code and the reply reference of a consent SMS
// in any of its languages.
var codeRE = regexp.MustCompile(`(?:Code|Код) ([0-9]{6})`)

var refRE = regexp.MustCompile(`(?:YES|ИӘ|ДА) ([0-9]{4})\b.*?(?:NO|ЖОҚ|НЕТ) ([0-9]{4})`)

// lastRef reads the reply reference of the newest message to phone.
func (e *env) lastRef(t *testing.T, phone string) string {
	t.Helper()
	msgs := e.outbox.Messages(phone)
	if len(msgs) == 0 {
		t.Fatalf("no SMS to %s", phone)
	}
	m := refRE.FindStringSubmatch(msgs[0].Text)
	if m == nil || m[1] != m[2] {
		t.Fatalf("no reply reference in %q", msgs[0].Text)
	}
	return m[1]
}

var messageSeq atomic.Int64

// inbound hands the service a gateway message with a fresh id.
func (e *env) inbound(from, text string, at time.Time) (wallet.Consent, error) {
	return e.svc.Inbound(context.Background(), sms.Inbound{
		MessageID: fmt.Sprintf("gw-%d", messageSeq.Add(1)), From: from, Text: text, ReceivedAt: at,
	})
}

// lastCode reads the code of the newest message to phone.
func (e *env) lastCode(t *testing.T, phone string) string {
	t.Helper()
	msgs := e.outbox.Messages(phone)
	if len(msgs) == 0 {
		t.Fatalf("no SMS to %s", phone)
	}
	m := codeRE.FindStringSubmatch(msgs[0].Text)
	if m == nil {
		t.Fatalf("no code in %q", msgs[0].Text)
	}
	return m[1]
}

func wantCode(t *testing.T, err error, code string) *wallet.Error {
	t.Helper()
	if got := wallet.ErrorCode(err); got != code {
		t.Fatalf("error code %q (%v), want %q", got, err, code)
	}
	return wallet.AsError(err)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// eventKinds lists the kinds of the subject's events about one consent,
// oldest first.
func (e *env) eventKinds(t *testing.T, subject wallet.IIN, consentID string) []string {
	t.Helper()
	evs, err := e.store.Events(context.Background(), subject)
	must(t, err)
	var kinds []string
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].ObjectID == consentID {
			kinds = append(kinds, evs[i].Kind)
		}
	}
	return kinds
}

// freshCodes returns an empty short-lived store, as after a restart that
// lost every counter.
func freshCodes(e *env) wallet.ShortLivedStore { return memstore.New(e.clock.Now) }

// hookedChanges lets a test act around the commit of a release's views:
// it wraps the service's Committer and counts the changes with views that
// go through it.
type hookedChanges struct {
	wallet.Committer
	mu    sync.Mutex
	n     int                           // changes with views committed through it
	fail  func(n int) error             // before the n-th change with views (1-based); an error aborts it
	after func(n int, vs []wallet.View) // after the n-th change with views is stored
}

func (h *hookedChanges) Commit(ctx context.Context, c wallet.Change) ([]int64, error) {
	if len(c.Views) == 0 {
		return h.Committer.Commit(ctx, c)
	}
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	if h.fail != nil {
		if err := h.fail(n); err != nil {
			return nil, err
		}
	}
	indexes, err := h.Committer.Commit(ctx, c)
	if err != nil {
		return nil, err
	}
	if h.after != nil {
		h.after(n, c.Views)
	}
	return indexes, nil
}
