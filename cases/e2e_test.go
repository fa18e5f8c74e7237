package cases_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/calendar"
	"github.com/qujat/qujat/cases"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/integrations/exchange/agencysim"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/service"
	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/sqlite"
	"github.com/qujat/qujat/wallet/wallettest"
)

const (
	owner    = wallet.IIN("880412310009") // Aidos Nurlanov, of the demo registry
	operator = wallet.IIN("900903412710") // Aigerim Nurlanova
	centreID = "psc-1"
	agencyID = "gov-1"
)

// swap is a listener whose handler is replaced when a process "restarts":
// its address stays, as a real server's would.
type swap struct {
	h   atomic.Pointer[http.Handler]
	srv *httptest.Server
}

func newSwap(t *testing.T) *swap {
	s := &swap{}
	s.down()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *swap) set(h http.Handler) { s.h.Store(&h) }

// down answers 503, as a proxy in front of a stopped process would.
func (s *swap) down() {
	s.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
}

// world is the service and a simulated agency over real HTTP.
type world struct {
	t        *testing.T
	dir      string
	store    service.Store
	qujat    *swap
	agency   *swap
	svc      *service.Service
	sim      *agencysim.Sim
	simStop  context.CancelFunc
	acting   staff.Acting
	simCfg   agencysim.Config
	demo     *sources.Demo
	tokenKey ed25519.PrivateKey
}

type backend struct {
	name string
	open func(t *testing.T) service.Store
}

func backends() []backend {
	return []backend{
		{"SQLite", func(t *testing.T) service.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "qujat.db"))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"PostgreSQL", func(t *testing.T) service.Store {
			url := wallettest.PostgresSchemaURL(t)
			if url == "" {
				t.SkipNow()
			}
			st, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
	}
}

func newWorld(t *testing.T, b backend, sim agencysim.Config) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the service and a simulated agency")
	}
	w := &world{t: t, dir: t.TempDir(), store: b.open(t), qujat: newSwap(t), agency: newSwap(t)}
	demo, err := sources.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	w.demo = demo
	_, w.tokenKey, _ = ed25519.GenerateKey(rand.Reader)
	ctx := context.Background()
	must(t, w.store.CreateClient(ctx, wallet.Client{ID: centreID, Name: "Service centre No. 1", Kind: "service_centre", SecretHash: "x", CreatedAt: time.Now()}))
	must(t, w.store.CreateClient(ctx, wallet.Client{ID: agencyID, Name: "Migration service", Kind: "gov", SecretHash: "x", CreatedAt: time.Now()}))
	w.start()
	t.Cleanup(func() {
		w.stopSim()
		w.stop()
	})
	m, err := w.svc.Staff.Create(ctx, centreID, operator, "Aigerim Operator", wallet.RoleOperator)
	must(t, err)
	w.acting, err = w.svc.Staff.Active(ctx, m.ID)
	must(t, err)
	// The agency's keys, registered as an administrator would.
	sigFile, encFile, err := agencysim.Keygen(filepath.Join(w.dir, "sim"))
	must(t, err)
	sigJWK, _ := os.ReadFile(sigFile)
	encJWK, _ := os.ReadFile(encFile)
	ag := &cases.Agencies{Store: w.store, Calendars: calendar.Embedded()}
	_, _, err = ag.Register(ctx, cases.Registration{OrganisationID: agencyID, Endpoint: w.agency.srv.URL + "/packages",
		SigningKey: sigJWK, EncryptionKey: encJWK, TimeZone: "Asia/Almaty", Calendar: "kz"})
	must(t, err)
	keys, err := agencysim.LoadKeys(filepath.Join(w.dir, "sim"))
	must(t, err)
	sim.Keys, sim.Qujat, sim.StateDir = keys, w.qujat.srv.URL, filepath.Join(w.dir, "sim", "state")
	w.simCfg = sim
	w.startSim()
	return w
}

// start builds the service on the world's store and data directory.
func (w *world) start() {
	t := w.t
	keysDir := filepath.Join(w.dir, "keys")
	keys, err := keyfiles.Open(keysDir, []string{sources.IssuerMIA, sources.IssuerMOJ, sources.IssuerEDU}, wallet.AlgEdDSA)
	must(t, err)
	staffKeys, err := keyfiles.Open(filepath.Join(keysDir, "staff"), nil, "")
	must(t, err)
	exKeys, err := exchange.OpenCentreKeys(keysDir)
	must(t, err)
	logKeys, err := historylog.LoadOrCreateKeys(keysDir, "qujat.test/history")
	must(t, err)
	outbox := sms.NewOutbox(100, time.Now)
	svc, err := service.Build(service.Parts{
		Now: time.Now, Rand: rand.Reader, Store: w.store, Short: memstore.New(time.Now), Directory: w.demo, Sources: w.demo.Sources(),
		Keys: keys, StaffKeys: staffKeys, LogKeys: logKeys, ExchangeKeys: exKeys, Calendars: calendar.Embedded(),
		Pepper: []byte("test pepper, 32 bytes long......"), TokenKey: w.tokenKey, TokenIssuer: "qujat",
		SealKey: []byte("0123456789abcdef0123456789abcdef"), SMS: outbox, PublicURL: w.qujat.srv.URL,
		CaseDeliveryPoll: 20 * time.Millisecond, CaseBackoff: func(int) time.Duration { return 30 * time.Millisecond },
		// A stopped service leaves the delivery it was making leased, as
		// a killed one does: the next takes it when the lease runs out.
		CaseLease: 2 * time.Second,
	})
	must(t, err)
	w.svc = svc
	w.qujat.set(svc.Server.Handler())
}

// stop ends the service as a stopped process would: nothing in flight
// finishes after it.
func (w *world) stop() {
	if w.svc == nil {
		return
	}
	w.qujat.down()
	w.svc.Close()
	w.svc = nil
}

func (w *world) startSim() {
	sim, err := agencysim.New(w.simCfg)
	must(w.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sim.Run(ctx) }()
	w.sim, w.simStop = sim, func() { cancel(); <-done }
	w.agency.set(sim.Handler())
}

func (w *world) stopSim() {
	if w.sim == nil {
		return
	}
	w.agency.down()
	w.simStop()
	w.sim = nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var scanPDF = []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// certifiedDuplicate stores a certified duplicate of the owner's, as the
// duplicates service leaves one.
func (w *world) certifiedDuplicate() string {
	ctx := context.Background()
	now := time.Now().UTC()
	b := append([]byte("%PDF-1.4 duplicate "), make([]byte, 64)...)
	d := wallet.Duplicate{ID: "dup_1", OwnerIIN: owner, Type: "marriage_certificate", Number: "I-AB 1", IssuedOn: "2015-06-01", IssuedBy: "Registry",
		BlobID: "dup_1", ContentType: "application/pdf", Size: int64(len(b)), SHA256: exchange.Digest(b), OperatorID: w.acting.Member.ID,
		CentreID: centreID, Status: wallet.DuplicateCertified, ChallengeID: "c", CreatedAt: now, ExpiresAt: now, CertifiedAt: &now, RetainUntil: &now, JWS: "x"}
	must(w.t, w.store.PutBlob(ctx, wallet.Blob{ID: d.BlobID, ContentType: d.ContentType, SHA256: d.SHA256, Data: b, CreatedAt: now}))
	_, err := w.svc.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateDuplicate{Duplicate: d}},
		Events: []wallet.Event{{ID: "evt_dup", Kind: wallet.EventDuplicateCertified, SubjectIIN: owner, ActorKind: wallet.ActorStaff, ActorID: d.OperatorID, ObjectID: d.ID, At: now, LogIndex: -1}}})
	must(w.t, err)
	return d.ID
}

// sendCase opens a case with an application, a scan and a duplicate and
// sends it.
func (w *world) sendCase() wallet.Case {
	t, ctx := w.t, context.Background()
	c, err := w.svc.Cases.Open(ctx, w.acting, cases.Opening{IIN: owner, Service: "registration at the place of residence", Agency: agencyID,
		Application: map[string]string{"address": "Astana, Mangilik El 8, 12", "reason": "moved"}})
	must(t, err)
	_, err = w.svc.Cases.Attach(ctx, w.acting, c.ID, cases.Attachment{Title: "Lease agreement", Bytes: scanPDF})
	must(t, err)
	_, err = w.svc.Cases.Attach(ctx, w.acting, c.ID, cases.Attachment{DuplicateID: w.certifiedDuplicate()})
	must(t, err)
	c, err = w.svc.Cases.Send(ctx, w.acting, c.ID)
	must(t, err)
	if c.Status != wallet.CaseQueued || c.PackageID == "" {
		t.Fatalf("sent: %+v", c)
	}
	return c
}

// waitFor polls the store until ok holds for the case (bounded by count,
// never asserting how long it took).
func (w *world) waitFor(id string, what string, ok func(wallet.Case) bool) wallet.Case {
	w.t.Helper()
	var c wallet.Case
	for range 1500 {
		var err error
		c, err = w.store.Case(context.Background(), id)
		must(w.t, err)
		if ok(c) {
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.t.Fatalf("case never %s: status %s, attempts %d, last error %q, events %+v", what, c.Status, c.Attempts, c.LastError, c.Events)
	return c
}

func (w *world) progress(pkg string) agencysim.Progress {
	w.t.Helper()
	r, err := http.Get(w.agency.srv.URL + "/packages/" + pkg)
	must(w.t, err)
	defer r.Body.Close()
	var p agencysim.Progress
	if r.StatusCode == http.StatusOK {
		must(w.t, json.NewDecoder(r.Body).Decode(&p))
	}
	return p
}

func (w *world) eventKinds() map[string]int {
	evs, err := w.store.Events(context.Background(), owner)
	must(w.t, err)
	n := map[string]int{}
	for _, e := range evs {
		n[e.Kind]++
	}
	return n
}

func simKey(w *world) func(string) (crypto.PublicKey, error) {
	return func(kid string) (crypto.PublicKey, error) {
		if kid != w.simCfg.Keys.SigKID {
			return nil, &exchange.Rejected{Reason: exchange.ReasonUnknownKey}
		}
		return &w.simCfg.Keys.Sig.PublicKey, nil
	}
}

func centreKey(w *world) func(string) (crypto.PublicKey, error) {
	return func(kid string) (crypto.PublicKey, error) {
		r, err := http.Get(w.qujat.srv.URL + "/.well-known/exchange-keys.json")
		if err != nil {
			return nil, err
		}
		defer r.Body.Close()
		var set jose.JSONWebKeySet
		if err := json.NewDecoder(r.Body).Decode(&set); err != nil {
			return nil, err
		}
		for _, k := range set.Key(kid) {
			return k.Key, nil
		}
		return nil, &exchange.Rejected{Reason: exchange.ReasonUnknownKey}
	}
}

func TestCases_SentDeliveredStatusesAndASignedResultOverHTTP(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			w := newWorld(t, b, agencysim.Config{Delay: 10 * time.Millisecond})
			c := w.sendCase()
			c = w.waitFor(c.ID, "with a result", func(c wallet.Case) bool { return c.Status == wallet.CaseResultReceived })

			// The agency's receipt is signed by its registered key and names the package's exact bytes.
			r, kid, err := exchange.VerifyReceipt(c.ReceiptJWS, simKey(w))
			must(t, err)
			sent, err := w.store.ExchangeMessage(context.Background(), "out", c.PackageID)
			must(t, err)
			if kid != w.simCfg.Keys.SigKID || r.Status != exchange.StatusAccepted || r.ID != c.PackageID || r.Digest != exchange.Digest([]byte(sent.Body)) {
				t.Fatalf("receipt %+v", r)
			}
			cal, _ := calendar.Embedded().Get("kz")
			almaty, _ := time.LoadLocation("Asia/Almaty")
			want, _ := cal.ReceiptDay(*c.DeliveredAt, almaty)
			if c.DayOfReceipt != want.String() || c.DayOfSending == "" {
				t.Fatalf("day of receipt %s, want %s", c.DayOfReceipt, want)
			}
			var statuses []string
			for _, e := range c.Events {
				statuses = append(statuses, e.Status)
			}
			if got := strings.Join(statuses, ","); got != "queued,delivered,registered,in_progress,result_received" {
				t.Fatalf("events %s", got)
			}
			// The result: the agency's signed message, its document's exact bytes kept.
			if c.Result == nil || c.Result.ContentType != "application/pdf" {
				t.Fatalf("result %+v", c.Result)
			}
			blob, err := w.store.Blob(context.Background(), c.Result.BlobID)
			must(t, err)
			if exchange.Digest(blob.Data) != c.Result.SHA256 || !strings.HasPrefix(string(blob.Data), "%PDF-") {
				t.Fatal("result bytes")
			}
			if _, err := exchange.Verify(c.Result.JWS, simKey(w)); err != nil {
				t.Fatalf("result signature: %v", err)
			}
			// The result is among the citizen's documents, with the agency's
			// own signature over it, which POST /v1/verify's check accepts.
			docs, err := w.svc.Documents.Documents(context.Background(), owner)
			must(t, err)
			var got *wallet.Document
			for i := range docs {
				if docs[i].Type == wallet.ServiceResult {
					got = &docs[i]
				}
			}
			if got == nil || got.Status != wallet.StatusValid || got.Fields["case"] != c.ID || got.Fields["sha256"] != c.Result.SHA256 ||
				got.Fields["agency"] != "Migration service" || got.Source != wallet.ResultSourcePrefix+agencyID {
				t.Fatalf("the result in the wallet: %+v", got)
			}
			if v := w.svc.Cases.VerifyResult(context.Background(), got.JWS); !v.Valid || v.Issuer != agencyID || v.DocumentID != got.ID || v.Version != 1 {
				t.Fatalf("verify the result: %+v", v)
			}
			forged := got.JWS[:len(got.JWS)-4] + "AAAA"
			if v := w.svc.Cases.VerifyResult(context.Background(), forged); v.Valid || v.Reason != wallet.ReasonBadSignature {
				t.Fatalf("a forged result: %+v", v)
			}
			// The agency has the centre's signed receipt of each message.
			var p agencysim.Progress
			for range 500 {
				if p = w.progress(c.PackageID); p.Step == 3 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if p.Step != 3 || len(p.Answers) != 3 || p.Refused != "" {
				t.Fatalf("simulator at step %d, %d answers, refused %q", p.Step, len(p.Answers), p.Refused)
			}
			for _, a := range p.Answers {
				rec, _, err := exchange.VerifyReceipt(a, centreKey(w))
				if err != nil || rec.Status != exchange.StatusAccepted {
					t.Fatalf("centre's receipt: %v %+v", err, rec)
				}
			}
			// The citizen's history has every step, each once.
			kinds := w.eventKinds()
			for kind, n := range map[string]int{wallet.EventCaseOpened: 1, cases.EventAttached: 2, wallet.EventCaseSent: 1,
				wallet.EventCaseDelivered: 1, wallet.EventCaseStatus: 2, wallet.EventCaseResult: 1} {
				if kinds[kind] != n {
					t.Errorf("%s: %d events, want %d (%v)", kind, kinds[kind], n, kinds)
				}
			}
			// The operator hands the result over; from then it is kept a year.
			issued, err := w.svc.Cases.Issue(context.Background(), w.acting, c.ID)
			must(t, err)
			if issued.Status != wallet.CaseIssued || issued.RetainUntil == nil || issued.RetainUntil.Before(issued.IssuedAt.AddDate(1, 0, 0)) {
				t.Fatalf("issued %+v", issued)
			}
			if _, err := w.svc.Cases.Issue(context.Background(), w.acting, c.ID); !wallet.IsCode(err, wallet.ECONFLICT) {
				t.Fatalf("issued twice: %v", err)
			}
			// Everything kept verifies again from the stored bytes; a changed byte does not.
			ev, err := w.svc.Cases.Verify(context.Background(), c.ID)
			must(t, err)
			if !ev.Valid || len(ev.Checks) < 10 {
				t.Fatalf("evidence: %+v", ev.Checks)
			}
			item := c.Items[1]
			must(t, w.store.DeleteBlob(context.Background(), item.BlobID))
			must(t, w.store.PutBlob(context.Background(), wallet.Blob{ID: item.BlobID, ContentType: item.ContentType, SHA256: item.SHA256, Data: []byte("%PDF-1.7 changed"), CreatedAt: time.Now()}))
			ev, err = w.svc.Cases.Verify(context.Background(), c.ID)
			must(t, err)
			if ev.Valid {
				t.Fatal("a changed item verified")
			}
			mine, err := w.svc.Cases.OfCitizen(context.Background(), owner)
			must(t, err)
			if len(mine) != 1 || mine[0].Status != wallet.CaseIssued {
				t.Fatalf("citizen's cases %+v", mine)
			}
			// A result the agency signed that Qujat never received is
			// unknown; once the agency reports its key compromised from
			// before the result came, the result no longer verifies.
			agencyKey := wallet.IssuerKey{KID: w.simCfg.Keys.SigKID, Alg: wallet.AlgES256, Key: w.simCfg.Keys.Sig}
			never, err := exchange.SignResult(exchange.ResultClaims{Issuer: agencyID, CaseID: c.ID, Holder: string(owner), Number: "R-never",
				Title: "x", ContentType: "application/pdf", SHA256: c.Result.SHA256, IssuedAt: time.Now().UTC()}, agencyKey)
			must(t, err)
			if v := w.svc.Cases.VerifyResult(context.Background(), never); v.Valid || v.Reason != wallet.ReasonUnknownDocument {
				t.Fatalf("a result never received: %+v", v)
			}
			at := c.Result.ReceivedAt.Add(-time.Second)
			notice, err := exchange.SignMessage(exchange.Message{Type: exchange.MessageKeyCompromised, MessageID: "m-k", Issuer: agencyID,
				KID: agencyKey.KID, CompromisedAt: &at, At: time.Now().UTC()}, agencyKey, nil)
			must(t, err)
			if code, rec := w.post(notice); code != http.StatusOK || rec.Status != exchange.StatusAccepted {
				t.Fatalf("the agency's notice: %d %+v", code, rec)
			}
			if v := w.svc.Cases.VerifyResult(context.Background(), got.JWS); v.Valid || v.Reason != wallet.ReasonKeyCompromised {
				t.Fatalf("a result signed with a key compromised before it came: %+v", v)
			}
		})
	}
}

func TestCases_ATamperedResultIsRefusedWithASignedRejection(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			w := newWorld(t, b, agencysim.Config{Delay: 10 * time.Millisecond, TamperResult: true})
			c := w.sendCase()
			var p agencysim.Progress
			for range 1500 {
				if p = w.progress(c.PackageID); p.Refused != "" {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if p.Refused != exchange.ReasonBadSignature || p.Step != 2 {
				t.Fatalf("simulator at step %d, refused %q", p.Step, p.Refused)
			}
			rej, _, err := exchange.VerifyReceipt(p.Answers[len(p.Answers)-1], centreKey(w))
			if err != nil || rej.Status != exchange.StatusRejected || rej.Reason != exchange.ReasonBadSignature {
				t.Fatalf("rejection %v %+v", err, rej)
			}
			got, err := w.store.Case(context.Background(), c.ID)
			must(t, err)
			if got.Result != nil || got.Status != wallet.CaseInProgress {
				t.Fatalf("case %s with result %v", got.Status, got.Result)
			}
			if w.eventKinds()[wallet.EventCaseResult] != 0 {
				t.Fatal("a refused result in the history")
			}
		})
	}
}

func TestCases_ARejectedPackageNamesItsItems(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			w := newWorld(t, b, agencysim.Config{Delay: time.Hour, RejectRate: 1})
			c := w.sendCase()
			c = w.waitFor(c.ID, "rejected", func(c wallet.Case) bool { return c.Status == wallet.CaseRejected })
			if c.RejectionReason != "items" || len(c.RejectedItems) != 1 || c.RejectedItems[0].Reason != "illegible" {
				t.Fatalf("rejection %q %+v", c.RejectionReason, c.RejectedItems)
			}
			r, _, err := exchange.VerifyReceipt(c.ReceiptJWS, simKey(w))
			if err != nil || r.Status != exchange.StatusRejected {
				t.Fatalf("%v %+v", err, r)
			}
			if k := w.eventKinds(); k[wallet.EventCaseRejected] != 1 || k[wallet.EventCaseDelivered] != 0 {
				t.Fatalf("events %v", k)
			}
		})
	}
}

// The service is stopped after sending, while the agency has processed the
// package but its answer was lost (the connection dropped); the agency is
// restarted too. A new service on the same store delivers again and gets
// the same receipt: one delivery, one receipt, each status and the result
// once.
func TestCases_KilledServiceAndAgencyLoseNothingAndDuplicateNothing(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			w := newWorld(t, b, agencysim.Config{Delay: 10 * time.Millisecond, DropAfter: 1})
			c := w.sendCase()
			// Wait until the agency has processed the package (and dropped the connection).
			var p agencysim.Progress
			for range 1500 {
				if p = w.progress(c.PackageID); p.Receipt != "" {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if p.Receipt == "" {
				t.Fatal("the agency never took the package")
			}
			w.stop()
			w.stopSim()
			got, err := w.store.Case(context.Background(), c.ID)
			must(t, err)
			if got.Status != wallet.CaseQueued {
				t.Fatalf("before the restart the case is %s", got.Status)
			}
			w.simCfg.DropAfter = 0
			w.startSim()
			w.start()
			c = w.waitFor(c.ID, "with a result", func(c wallet.Case) bool { return c.Status == wallet.CaseResultReceived })
			if c.ReceiptJWS != p.Receipt {
				t.Fatalf("the redelivery got another receipt:\n%s\n%s", c.ReceiptJWS, p.Receipt)
			}
			// (Whether the stopped service recorded its failed attempt
			// depends on when it was stopped; the receipt is what shows
			// the package was delivered again.)
			kinds := w.eventKinds()
			for kind, n := range map[string]int{wallet.EventCaseSent: 1, wallet.EventCaseDelivered: 1, wallet.EventCaseStatus: 2, wallet.EventCaseResult: 1} {
				if kinds[kind] != n {
					t.Errorf("%s: %d events, want %d", kind, kinds[kind], n)
				}
			}
			msgs, err := w.store.ExchangeMessages(context.Background(), c.ID)
			must(t, err)
			if len(msgs) != 5 { // the package, its receipt, two statuses, the result
				t.Fatalf("%d messages kept", len(msgs))
			}
			// The packages the agency keeps (not a progress file it is
			// writing at this moment, "….tmp", renamed when complete).
			entries, _ := os.ReadDir(filepath.Join(w.simCfg.StateDir, "packages"))
			var kept []string
			for _, e := range entries {
				if !strings.HasSuffix(e.Name(), ".tmp") {
					kept = append(kept, e.Name())
				}
			}
			if len(kept) != 1 {
				t.Fatalf("the agency has %d packages: %v", len(kept), kept)
			}
		})
	}
}

// post sends body to the inbound endpoint and returns the status and the
// centre's answer, checked to be signed by the centre.
func (w *world) post(body string) (int, exchange.Receipt) {
	w.t.Helper()
	r, err := http.Post(w.qujat.srv.URL+"/v1/exchange/inbound", exchange.MediaType, strings.NewReader(body))
	must(w.t, err)
	defer r.Body.Close()
	b := new(strings.Builder)
	if _, err := io.Copy(b, r.Body); err != nil {
		w.t.Fatal(err)
	}
	rec, _, err := exchange.VerifyReceipt(b.String(), centreKey(w))
	if err != nil {
		w.t.Fatalf("answer %d not signed by the centre: %v (%s)", r.StatusCode, err, b.String())
	}
	if rec.Digest != exchange.Digest([]byte(body)) {
		w.t.Fatal("the answer names other bytes")
	}
	return r.StatusCode, rec
}

func TestCases_InboundRefusesWithSignedReasons(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			w := newWorld(t, b, agencysim.Config{Delay: time.Hour})
			c := w.sendCase()
			c = w.waitFor(c.ID, "delivered", func(c wallet.Case) bool { return c.Status == wallet.CaseDelivered })
			agencyKey := wallet.IssuerKey{KID: w.simCfg.Keys.SigKID, Alg: wallet.AlgES256, Key: w.simCfg.Keys.Sig}
			now := time.Now().UTC().Truncate(time.Second)
			status := func(id, caseID string) exchange.Message {
				return exchange.Message{Type: exchange.MessageStatus, MessageID: id, Issuer: agencyID, CaseID: caseID, Status: "registered", At: now}
			}
			sign := func(m exchange.Message, k wallet.IssuerKey) string {
				s, err := exchange.SignMessage(m, k, nil)
				must(t, err)
				return s
			}
			other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			must(t, err)
			encTo, err := w.svc.Cases.Keys.EncryptionKey()
			must(t, err)
			// A result encrypted to the centre whose own signature over the
			// document is missing, for another citizen, or broken.
			result := func(id string, claims *exchange.ResultClaims, key wallet.IssuerKey) string {
				r := &exchange.Result{Title: "Decision", ContentType: "application/pdf", Content: scanPDF, SHA256: exchange.Digest(scanPDF)}
				if claims != nil {
					r.Signature, err = exchange.SignResult(*claims, key)
					must(t, err)
				}
				jwe, err := exchange.SignMessage(exchange.Message{Type: exchange.MessageResult, MessageID: id, Issuer: agencyID, CaseID: c.ID, At: now, Result: r}, agencyKey, &encTo)
				must(t, err)
				return jwe
			}
			claims := func(holder string) *exchange.ResultClaims {
				return &exchange.ResultClaims{Issuer: agencyID, CaseID: c.ID, Holder: holder, Number: "R-1", Title: "Decision",
					ContentType: "application/pdf", SHA256: exchange.Digest(scanPDF), IssuedAt: now}
			}
			for _, tc := range []struct {
				name, body, reason string
			}{
				{"garbage", "not a jose object", exchange.ReasonBadRequest},
				{"unknown key", sign(status("m-u", c.ID), wallet.IssuerKey{KID: "who", Alg: wallet.AlgES256, Key: other}), exchange.ReasonUnknownKey},
				{"bad signature", sign(status("m-b", c.ID), wallet.IssuerKey{KID: agencyKey.KID, Alg: wallet.AlgES256, Key: other}), exchange.ReasonBadSignature},
				{"unknown case", sign(status("m-c", "case_none"), agencyKey), exchange.ReasonUnknownCase},
				{"a result in clear", sign(exchange.Message{Type: exchange.MessageResult, MessageID: "m-r", Issuer: agencyID, CaseID: c.ID, At: now,
					Result: &exchange.Result{Title: "x", ContentType: "application/pdf", Content: scanPDF, SHA256: exchange.Digest(scanPDF)}}, agencyKey), exchange.ReasonBadRequest},
				{"a result without the agency's signature over it", result("m-r1", nil, agencyKey), exchange.ReasonBadRequest},
				{"a result signed for another citizen", result("m-r2", claims("900903412710"), agencyKey), exchange.ReasonBadRequest},
				{"a result whose own signature is not the agency's", result("m-r3", claims(string(owner)), wallet.IssuerKey{KID: agencyKey.KID, Alg: wallet.AlgES256, Key: other}), exchange.ReasonBadSignature},
				{"another agency's name", sign(exchange.Message{Type: exchange.MessageStatus, MessageID: "m-i", Issuer: centreID, CaseID: c.ID, Status: "registered", At: now}, agencyKey), exchange.ReasonBadSignature},
			} {
				code, rec := w.post(tc.body)
				if code != http.StatusUnprocessableEntity || rec.Status != exchange.StatusRejected || rec.Reason != tc.reason {
					t.Errorf("%s: %d %s %q", tc.name, code, rec.Status, rec.Reason)
				}
			}
			// A message once: accepted; the same bytes again: the same answer; the same id with other bytes: a replay.
			first := sign(status("m-1", c.ID), agencyKey)
			code, rec := w.post(first)
			if code != http.StatusOK || rec.Status != exchange.StatusAccepted {
				t.Fatalf("first: %d %+v", code, rec)
			}
			code, again := w.post(first)
			if code != http.StatusOK || !again.ReceivedAt.Equal(rec.ReceivedAt) || again.ID != rec.ID {
				t.Fatalf("again: %d %+v", code, again)
			}
			m := status("m-1", c.ID)
			m.Note = "changed"
			if code, rec := w.post(sign(m, agencyKey)); code != http.StatusUnprocessableEntity || rec.Reason != exchange.ReasonReplay {
				t.Fatalf("replay: %d %+v", code, rec)
			}
			if k := w.eventKinds(); k[wallet.EventCaseStatus] != 1 || k[wallet.EventCaseResult] != 0 {
				t.Fatalf("status events %v", k)
			}
			// The agency reports its own key compromised: what it signs from then is refused.
			at := time.Now().UTC().Add(-time.Second)
			notice := sign(exchange.Message{Type: exchange.MessageKeyCompromised, MessageID: "m-k", Issuer: agencyID, KID: agencyKey.KID, CompromisedAt: &at, At: now}, agencyKey)
			if code, rec := w.post(notice); code != http.StatusOK || rec.Status != exchange.StatusAccepted {
				t.Fatalf("notice: %d %+v", code, rec)
			}
			if code, rec := w.post(sign(status("m-2", c.ID), agencyKey)); code != http.StatusUnprocessableEntity || rec.Reason != exchange.ReasonKeyCompromised {
				t.Fatalf("after compromise: %d %+v", code, rec)
			}
		})
	}
}

// After the operator's key is compromised (recorded, replaced, the agency
// told), what it signed is not sent by Qujat and a package signed with it
// is refused by the agency; the replacement key works.
func TestCases_ACompromisedOperatorKeyIsRefusedByQujatAndTheAgency(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			w := newWorld(t, b, agencysim.Config{Delay: time.Hour})
			ctx := context.Background()
			c, err := w.svc.Cases.Open(ctx, w.acting, cases.Opening{IIN: owner, Service: "s", Agency: agencyID})
			must(t, err)
			old, err := w.svc.Staff.Signer(w.acting.Member.ID)
			must(t, err)
			// As `qujat keys compromise` does, in another process: rotate, record, tell the agencies.
			ring, err := keyfiles.Open(filepath.Join(w.dir, "keys", "staff"), nil, "")
			must(t, err)
			replacement, err := ring.Rotate(w.acting.Member.ID, old.Alg)
			must(t, err)
			at := time.Now().UTC()
			must(t, w.store.MarkKeyCompromised(ctx, wallet.KeyCompromise{KID: old.KID, At: at, RecordedAt: at, Replacement: replacement}))
			told, err := w.svc.Cases.NoticeAgencies(ctx, old.KID, at, replacement, nil)
			must(t, err)
			if len(told) != 1 || !told[0].OK {
				t.Fatalf("notice: %+v", told)
			}
			// Qujat does not send what the compromised key signed.
			if _, err := w.svc.Cases.Send(ctx, w.acting, c.ID); !wallet.IsCode(err, wallet.ECONFLICT) || !strings.Contains(err.Error(), "key_compromised") {
				t.Fatalf("send: %v", err)
			}
			// The agency refuses a package signed with it.
			opJWK, _ := json.Marshal(jose.JSONWebKey{Key: old.Key.Public(), KeyID: old.KID, Use: "sig", Algorithm: old.Alg})
			body := []byte(`{"x":1}`)
			sig, err := exchange.SignItem(exchange.ItemClaims{CaseID: "case_x", ItemID: "application", Kind: "application", ContentType: "application/json",
				Size: int64(len(body)), SHA256: exchange.Digest(body), Operator: w.acting.Member.ID}, old)
			must(t, err)
			centre, err := w.svc.Cases.Keys.Signer()
			must(t, err)
			encRaw, _ := os.ReadFile(filepath.Join(w.dir, "sim", agencysim.EncPublic))
			enc, err := exchange.ParsePublicJWK(encRaw, wallet.KeyUseEnc)
			must(t, err)
			_, jwe, err := exchange.SealPackage(exchange.Manifest{PackageID: "pkg_x", CaseID: "case_x", Agency: exchange.Party{ID: agencyID},
				Operator: exchange.Operator{ID: w.acting.Member.ID, Key: opJWK}},
				[]exchange.Content{{Item: exchange.Item{ID: "application", Kind: "application", ContentType: "application/json", Size: int64(len(body)), SHA256: exchange.Digest(body), Signature: sig}, Bytes: body}},
				centre, enc)
			must(t, err)
			r, err := http.Post(w.agency.srv.URL+"/packages", exchange.MediaType, strings.NewReader(jwe))
			must(t, err)
			ans, _ := io.ReadAll(r.Body)
			r.Body.Close()
			rec, _, err := exchange.VerifyReceipt(string(ans), simKey(w))
			if err != nil || r.StatusCode != http.StatusUnprocessableEntity || rec.Reason != exchange.ReasonKeyCompromised {
				t.Fatalf("the agency took it: %d %v %+v", r.StatusCode, err, rec)
			}
			// A new case is signed with the replacement and goes through.
			c2 := w.sendCase()
			c2 = w.waitFor(c2.ID, "delivered", func(c wallet.Case) bool { return c.Status == wallet.CaseDelivered })
			if kid := jwsKID(t, c2.Items[0].Signature); kid != replacement {
				t.Fatalf("signed with %s, not the replacement %s", kid, replacement)
			}
		})
	}
}

func jwsKID(t *testing.T, jws string) string {
	kid, _, err := exchange.HeaderKID(jws)
	must(t, err)
	return kid
}

func TestCases_ACompromisedExchangeKeyIsPublishedSo(t *testing.T) {
	w := newWorld(t, backends()[0], agencysim.Config{Delay: time.Hour})
	ctx := context.Background()
	k, err := w.svc.Cases.Keys.Signer()
	must(t, err)
	at := time.Now().UTC().Add(-time.Minute)
	must(t, w.store.MarkKeyCompromised(ctx, wallet.KeyCompromise{KID: k.KID, At: at, RecordedAt: at}))
	keys, err := w.svc.Cases.PublishedKeys(ctx)
	must(t, err)
	found := false
	for _, p := range keys {
		if p.KeyID == k.KID {
			found = p.Status == "compromised" && p.CompromisedAt != nil
		}
	}
	if !found {
		t.Fatalf("not published as compromised: %+v", keys)
	}
	// Nothing is sealed with it: no replacement made yet, so sending is refused.
	c, err := w.svc.Cases.Open(ctx, w.acting, cases.Opening{IIN: owner, Service: "s", Agency: agencyID})
	must(t, err)
	if _, err := w.svc.Cases.Send(ctx, w.acting, c.ID); !wallet.IsCode(err, wallet.ECONFLICT) {
		t.Fatalf("sealed with a compromised key: %v", err)
	}
}

// The day of receipt is reckoned from the agency's calendar in its zone: a
// package the agency received on a Saturday is received on Monday, on
// Tuesday when that Monday is a holiday.
func TestCases_ReceivedOnASaturdayIsReceivedOnTheNextWorkingDay(t *testing.T) {
	for _, tc := range []struct{ at, want string }{
		{"2026-02-14T09:00:00Z", "2026-02-16"},
		{"2026-08-29T09:00:00Z", "2026-09-01"}, // Monday 31 August: Constitution Day moved from Sunday
		{"2026-02-13T20:00:00Z", "2026-02-16"}, // Friday in UTC, already Saturday in Almaty
	} {
		t.Run(tc.at, func(t *testing.T) {
			at, _ := time.Parse(time.RFC3339, tc.at)
			w := newWorld(t, backends()[0], agencysim.Config{Delay: time.Hour, Now: func() time.Time { return at }})
			c := w.sendCase()
			c = w.waitFor(c.ID, "delivered", func(c wallet.Case) bool { return c.Status == wallet.CaseDelivered })
			if c.DayOfReceipt != tc.want || !c.DeliveredAt.Equal(at) {
				t.Fatalf("received %s: day of receipt %s, want %s", c.DeliveredAt, c.DayOfReceipt, tc.want)
			}
		})
	}
}

// A service whose result is a record of a registry Qujat hosts for the
// agency: its official publishes the record, the agency's result names it,
// and the case's result is that record, in the citizen's wallet since its
// publication (no second document). A result naming a draft, another
// citizen's record or another body's registry is refused.
func TestCases_AResultThatIsAHostedRegistryRecord(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			w := newWorld(t, b, agencysim.Config{Delay: time.Hour})
			ctx := context.Background()
			c := w.sendCase()
			c = w.waitFor(c.ID, "delivered", func(c wallet.Case) bool { return c.Status == wallet.CaseDelivered })
			off, err := w.svc.Staff.Create(ctx, agencyID, "790808391306", "Olzhas Official", wallet.RoleOfficial)
			must(t, err)
			official, err := w.svc.Staff.Active(ctx, off.ID)
			must(t, err)
			_, err = w.svc.Registries.Create(ctx, "residence", "Registrations", agencyID, wallet.Licence)
			must(t, err)
			record := func(holder wallet.IIN, publish bool) string {
				rec, _, err := w.svc.Registries.CreateRecord(ctx, official, "residence", registries.Draft{
					Holder: registries.Holder{IIN: string(holder)}, Fields: map[string]string{"activity": "Registration", "address": "Astana"}})
				must(t, err)
				if publish {
					_, err = w.svc.Registries.Sign(ctx, official, "residence", rec.Number)
					must(t, err)
				}
				return rec.Number
			}
			published, draft, others := record(owner, true), record(owner, false), record("800519347947", true)
			before, err := w.svc.Documents.Documents(ctx, owner)
			must(t, err)

			agencyKey := wallet.IssuerKey{KID: w.simCfg.Keys.SigKID, Alg: wallet.AlgES256, Key: w.simCfg.Keys.Sig}
			encTo, err := w.svc.Cases.Keys.EncryptionKey()
			must(t, err)
			now := time.Now().UTC().Truncate(time.Second)
			result := func(id, registry, number string) string {
				sig, err := exchange.SignResult(exchange.ResultClaims{Issuer: agencyID, CaseID: c.ID, Holder: string(owner), Number: number,
					Title: "Registration", ContentType: "application/pdf", SHA256: exchange.Digest(scanPDF), IssuedAt: now,
					Registry: registry, Record: number}, agencyKey)
				must(t, err)
				jwe, err := exchange.SignMessage(exchange.Message{Type: exchange.MessageResult, MessageID: id, Issuer: agencyID, CaseID: c.ID, At: now,
					Result: &exchange.Result{Title: "Registration", ContentType: "application/pdf", Content: scanPDF, SHA256: exchange.Digest(scanPDF), Signature: sig}},
					agencyKey, &encTo)
				must(t, err)
				return jwe
			}
			for _, tc := range []struct{ name, registry, number string }{
				{"a draft", "residence", draft},
				{"another citizen's record", "residence", others},
				{"a registry Qujat does not host", "nowhere", published},
				{"the demo registry of another body", "licences", published},
			} {
				if code, rec := w.post(result("m-"+tc.name, tc.registry, tc.number)); code != http.StatusUnprocessableEntity || rec.Reason != exchange.ReasonBadRequest {
					t.Errorf("%s: %d %+v", tc.name, code, rec)
				}
			}
			if code, rec := w.post(result("m-record", "residence", published)); code != http.StatusOK || rec.Status != exchange.StatusAccepted {
				t.Fatalf("the record as the result: %d %+v", code, rec)
			}
			got, err := w.store.Case(ctx, c.ID)
			must(t, err)
			if got.Result == nil || got.Result.Registry != "residence" || got.Result.Record != published || got.Status != wallet.CaseResultReceived {
				t.Fatalf("case result %+v (%s)", got.Result, got.Status)
			}
			after, err := w.svc.Documents.Documents(ctx, owner)
			must(t, err)
			if len(after) != len(before) {
				t.Fatalf("%d documents after, %d before: the record is the result, not a second document", len(after), len(before))
			}
			found := false
			for _, d := range after {
				if d.ID == got.Result.WalletDocument && d.Type == wallet.Licence && d.Number == published && d.Status == wallet.StatusValid {
					found = true
				}
			}
			if !found {
				t.Fatalf("the result's wallet document %s is not the record %s among %+v", got.Result.WalletDocument, published, after)
			}
		})
	}
}
