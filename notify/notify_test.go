package notify_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/notify"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/sqlite"
	"github.com/qujat/qujat/wallet/wallettest"
)

const (
	alice = wallet.IIN("900101300015") // the owner; a guardian of carol
	bob   = wallet.IIN("850202400026") // a viewer
	carol = wallet.IIN("120303500037") // a minor
	dave  = wallet.IIN("870404600048") // carol's other guardian
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

// directory knows the four citizens and carol's guardians.
type directory struct{}

func (directory) Citizen(_ context.Context, iin wallet.IIN) (wallet.Citizen, error) {
	names := map[wallet.IIN]string{alice: "Alia Sarsen", bob: "Bolat Tokhtar", carol: "Kamila Sarsen", dave: "Daniyar Sarsen"}
	if n, ok := names[iin]; ok {
		return wallet.Citizen{IIN: iin, Name: n}, nil
	}
	return wallet.Citizen{}, wallet.Errorf(wallet.ENOTFOUND, "no such citizen")
}

func (directory) Guardians(_ context.Context, iin wallet.IIN) ([]wallet.IIN, error) {
	if iin == carol {
		return []wallet.IIN{alice, dave}, nil
	}
	return nil, nil
}

type store interface {
	wallet.Store
	historylog.LogStore
}

var stores = []struct {
	name string
	open func(t *testing.T) store
}{
	{"sqlite", func(t *testing.T) store {
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
	{"postgres", func(t *testing.T) store {
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

// hooks is a webhook receiver: one path per device, each push recorded;
// it answers status (200 unless set).
type hooks struct {
	mu     sync.Mutex
	got    map[string][]received // by path
	status int
	url    string
}

type received struct {
	header http.Header
	body   []byte
	push   notify.Push
}

func newHooks(t *testing.T) *hooks {
	h := &hooks{got: map[string][]received{}, status: 200}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p notify.Push
		json.Unmarshal(b, &p)
		h.mu.Lock()
		h.got[r.URL.Path] = append(h.got[r.URL.Path], received{r.Header.Clone(), b, p})
		status := h.status
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *hooks) at(path string) []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.got[path]...)
}

func (h *hooks) setStatus(s int) { h.mu.Lock(); h.status = s; h.mu.Unlock() }

type env struct {
	t       *testing.T
	clock   *clock
	store   store
	changes wallet.Committer
	seal    *outbox.Sealer
	devices *notify.Devices
	hooks   *hooks
	dir     wallet.Directory
	secrets map[string]string // device id → secret
	paths   map[string]string // device id → path
}

func each(t *testing.T, test func(t *testing.T, e *env)) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
			s := st.open(t)
			keys, err := historylog.NewKeys("qujat.test/history", rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			hlog, err := historylog.New(historylog.Config{Store: s, Keys: keys})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { hlog.Close() })
			seal := outbox.NewSealer(wallet.NewHasher([]byte("test pepper")))
			e := &env{t: t, clock: c, store: s, changes: history.Recorder{Log: hlog}, seal: seal, hooks: newHooks(t), dir: directory{},
				secrets: map[string]string{}, paths: map[string]string{}}
			e.devices = &notify.Devices{Store: s, Seal: seal, Now: c.Now, Platforms: []string{wallet.PlatformWebhook}, AllowHTTP: true}
			test(t, e)
		})
	}
}

// worker builds a worker on the env's store, as a restarted service would.
func (e *env) worker(batch int) *notify.Worker {
	return &notify.Worker{
		Fanout: &notify.Fanout{Store: e.store, Directory: e.dir, Seal: e.seal, Now: e.clock.Now, Batch: batch,
			ClientName: func(_ context.Context, id string) string {
				switch id {
				case "bank-1":
					return "Demo Bank"
				case "centre-1":
					return "Almaty PSC No 1"
				case "gov-1":
					return "Ministry of Labour"
				}
				return ""
			}},
		Store:   e.store,
		Drivers: map[string]notify.Driver{wallet.PlatformWebhook: &notify.Webhook{AllowPrivate: true, Now: e.clock.Now}},
		Seal:    e.seal, Now: e.clock.Now, Batch: batch,
		Backoff: func(int) time.Duration { return time.Second }, DropAfter: 3,
	}
}

func (e *env) addDevice(owner wallet.IIN, path string) string {
	e.t.Helper()
	r, err := e.devices.Add(context.Background(), owner, notify.NewDevice{Platform: wallet.PlatformWebhook, URL: e.hooks.url + path})
	if err != nil {
		e.t.Fatal(err)
	}
	e.secrets[r.Device.ID], e.paths[r.Device.ID] = r.Secret, path
	return r.Device.ID
}

func (e *env) commit(c wallet.Change) {
	e.t.Helper()
	if _, err := e.changes.Commit(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
}

var seq int

func (e *env) event(kind string, subject wallet.IIN, actorKind, actorID, object string, details map[string]string) wallet.Event {
	seq++
	return wallet.Event{ID: "evt_" + kind + "_" + string(rune('a'+seq%26)) + time.Now().Format("150405.000000000"), Kind: kind, SubjectIIN: subject,
		ActorKind: actorKind, ActorID: actorID, ObjectID: object, Details: details, At: e.clock.Now(), LogIndex: -1}
}

func (e *env) view(id string, owner wallet.IIN, viewerKind, viewerID string, sharedBy wallet.IIN) wallet.View {
	return wallet.View{ID: id, DocumentID: "doc-" + id, DocumentType: wallet.Passport, OwnerIIN: owner, ViewerKind: viewerKind,
		ViewerID: viewerID, Channel: wallet.ChannelConsent, ConsentID: "c-x", SharedBy: sharedBy, At: e.clock.Now(), LogIndex: -1}
}

// everyKind commits one history row of every notified kind (and rows that
// notify nobody) and returns the ids of those that notify, by recipient.
func (e *env) everyKind() map[wallet.IIN][]string {
	c := wallet.Consent{ID: "cns-1", ClientID: "bank-1", SubjectIIN: alice, Phone: "+77010000001",
		DocumentTypes: []wallet.DocumentType{wallet.IDCard}, Purpose: "loan application", Method: wallet.ConsentApp,
		Status: wallet.ConsentPending, ValidFor: 24 * time.Hour, CreatedAt: e.clock.Now(),
		RequestExpiresAt: e.clock.Now().Add(10 * time.Minute), Revision: 1}
	want := map[wallet.IIN][]string{}
	add := func(to wallet.IIN, id string) { want[to] = append(want[to], id) }

	requested := e.event(wallet.EventConsentRequested, alice, wallet.ViewerOrganisation, "bank-1", c.ID, nil)
	e.commit(wallet.Change{Ops: []wallet.Op{wallet.CreateConsent{Consent: c}}, Events: []wallet.Event{requested}})
	add(alice, requested.ID)
	for _, k := range []string{wallet.EventConsentGranted, wallet.EventConsentDenied, wallet.EventConsentRevoked} {
		ev := e.event(k, alice, wallet.ViewerCitizen, string(alice), c.ID, nil)
		e.commit(wallet.Change{Events: []wallet.Event{ev}})
		add(alice, ev.ID)
	}
	voided := e.event(wallet.EventCodesVoided, alice, "system", "sharing", string(alice), map[string]string{"wrong_codes": "20"})
	byCitizen := e.view("view-citizen", alice, wallet.ViewerCitizen, string(bob), "")
	byBank := e.view("view-bank", alice, wallet.ViewerOrganisation, "bank-1", "")
	e.commit(wallet.Change{Events: []wallet.Event{voided}, Views: []wallet.View{byCitizen, byBank}})
	add(alice, voided.ID)
	add(alice, byCitizen.ID)
	add(alice, byBank.ID)
	// Not told: the owner's own share and revocation.
	own := e.event(wallet.EventShareOpened, alice, wallet.ViewerCitizen, string(alice), "shr-1", map[string]string{"document_type": "passport"})
	e.commit(wallet.Change{Events: []wallet.Event{own}})
	// A guardian's share of a ward's document: the other guardian hears;
	// its view: the ward and both guardians.
	gshare := e.event(wallet.EventShareOpened, carol, wallet.ViewerGuardian, string(alice), "shr-2", map[string]string{"document_type": "birth_certificate"})
	e.commit(wallet.Change{Events: []wallet.Event{gshare}})
	add(dave, gshare.ID)
	wardView := e.view("view-ward", carol, wallet.ViewerCitizen, string(bob), alice)
	e.commit(wallet.Change{Views: []wallet.View{wardView}})
	add(alice, wardView.ID)
	add(dave, wardView.ID)
	// An electronic duplicate: certified, released to a state body (its
	// view is told by the release, once), purged; the request is not told.
	dup := func(more ...string) map[string]string {
		d := map[string]string{"type": "marriage_certificate", "centre": "centre-1", "sha256": "ab12"}
		for i := 0; i+1 < len(more); i += 2 {
			d[more[i]] = more[i+1]
		}
		return d
	}
	dupRequested := e.event(wallet.EventDuplicateRequested, alice, wallet.ActorStaff, "stf-1", "dup_1", dup())
	certified := e.event(wallet.EventDuplicateCertified, alice, wallet.ActorStaff, "stf-1", "dup_1", dup("operator", "stf-1"))
	e.commit(wallet.Change{Events: []wallet.Event{dupRequested}})
	e.commit(wallet.Change{Events: []wallet.Event{certified}})
	add(alice, certified.ID)
	released := e.event(wallet.EventDuplicateReleased, alice, wallet.ViewerOrganisation, "gov-1", "dup_1",
		dup("body", "Ministry of Labour", "basis", "child benefit application 42", "view", "view-dup"))
	releaseView := wallet.View{ID: "view-dup", DocumentID: "dup_1", DocumentType: "marriage_certificate", OwnerIIN: alice,
		ViewerKind: wallet.ViewerOrganisation, ViewerID: "gov-1", Channel: wallet.ChannelDuplicate, At: e.clock.Now(), LogIndex: -1}
	e.commit(wallet.Change{Events: []wallet.Event{released}, Views: []wallet.View{releaseView}})
	add(alice, released.ID)
	purged := e.event(wallet.EventDuplicatePurged, alice, "system", "", "dup_1", dup())
	e.commit(wallet.Change{Events: []wallet.Event{purged}})
	add(alice, purged.ID)
	// A case: the agency's receipt, its statuses and its result are told,
	// naming the agency only; the opening and sending at the counter, where
	// the citizen is, are not.
	caseEvent := func(kind, actorKind, actorID string, more ...string) wallet.Event {
		d := map[string]string{"centre": "centre-1", "agency": "gov-1"}
		for i := 0; i+1 < len(more); i += 2 {
			d[more[i]] = more[i+1]
		}
		return e.event(kind, alice, actorKind, actorID, "case_1", d)
	}
	opened := caseEvent(wallet.EventCaseOpened, wallet.ActorStaff, "stf-1")
	sent := caseEvent(wallet.EventCaseSent, wallet.ActorStaff, "stf-1", "package", "pkg_1")
	e.commit(wallet.Change{Events: []wallet.Event{opened, sent}})
	for _, ev := range []wallet.Event{
		caseEvent(wallet.EventCaseDelivered, "organisation", "gov-1", "package", "pkg_1", "day_of_receipt", "2026-02-16"),
		caseEvent(wallet.EventCaseStatus, "organisation", "gov-1", "status", "registered", "message", "m-1"),
		caseEvent(wallet.EventCaseStatus, "organisation", "gov-1", "status", "in_progress", "message", "m-2"),
		caseEvent(wallet.EventCaseResult, "organisation", "gov-1", "document", "res_1", "sha256", "ab12", "message", "m-3"),
	} {
		e.commit(wallet.Change{Events: []wallet.Event{ev}})
		add(alice, ev.ID)
	}
	return want
}

func (e *env) received(dev string) []received { return e.hooks.at(e.paths[dev]) }

// checkOnce checks that each device got each wanted event exactly once,
// signed with its secret, and nothing else.
func (e *env) checkOnce(devs map[string]wallet.IIN, want map[wallet.IIN][]string) {
	e.t.Helper()
	for dev, owner := range devs {
		var got []string
		for _, r := range e.received(dev) {
			if !notify.Verify(e.secrets[dev], r.header.Get("X-Qujat-Signature"), r.body, e.clock.Now(), time.Minute) {
				e.t.Errorf("device %s: a push does not verify", dev)
			}
			if r.header.Get("X-Qujat-Event-Id") != r.push.EventID {
				e.t.Errorf("event id header %q, body %q", r.header.Get("X-Qujat-Event-Id"), r.push.EventID)
			}
			got = append(got, r.push.EventID)
		}
		w := append([]string(nil), want[owner]...)
		sort.Strings(got)
		sort.Strings(w)
		if strings.Join(got, " ") != strings.Join(w, " ") {
			e.t.Errorf("device %s of %s got\n%v\nwant\n%v", dev, owner, got, w)
		}
	}
}

func TestWorker_EveryKindOncePerDeviceAcrossARestart(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		devs := map[string]wallet.IIN{
			e.addDevice(alice, "/alice-phone"): alice, e.addDevice(alice, "/alice-tablet"): alice,
			e.addDevice(dave, "/dave"): dave, e.addDevice(bob, "/bob"): bob,
		}
		want := e.everyKind()

		// The first service fans out and delivers a little, then stops.
		first := e.worker(3)
		if _, err := first.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		// A second instance on the same store, racing it for one pass.
		var wg sync.WaitGroup
		for _, w := range []*notify.Worker{first, e.worker(2)} {
			wg.Add(1)
			go func() { defer wg.Done(); w.Pass(ctx) }()
		}
		wg.Wait()
		// A restarted service delivers the rest.
		if err := e.worker(0).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.worker(0).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e.checkOnce(devs, want)

		// Texts: the viewer or organisation named, in the citizen's
		// language (Kazakh by default), nothing of the document.
		texts := map[string]string{}
		for _, r := range e.received(firstOf(devs, alice)) {
			texts[r.push.Kind+" "+r.push.EventID] = r.push.Text
			if r.push.Language != "kk" {
				t.Errorf("language %q", r.push.Language)
			}
		}
		for k, text := range texts {
			if strings.Contains(text, "loan application") || strings.Contains(text, "doc-") || strings.Contains(text, "20") ||
				strings.Contains(text, "benefit") || strings.Contains(text, "dup_") || strings.Contains(text, "ab12") ||
				strings.Contains(text, "{") || strings.Contains(text, string(alice)) {
				t.Errorf("%s: %q", k, text)
			}
		}
		if got := texts["view view-citizen"]; got != "Bolat Tokhtar сіздің құжатыңызды қарады: Паспорт." {
			t.Errorf("view text %q", got)
		}
		if got := texts["view view-bank"]; !strings.HasPrefix(got, "Demo Bank ") {
			t.Errorf("bank view text %q", got)
		}
		if got := texts["view view-ward"]; got != "Bolat Tokhtar Kamila Sarsen құжатын қарады: Паспорт." {
			t.Errorf("ward view text %q", got)
		}
		for k, want := range map[string]string{
			notify.KindDuplicateCertified: "Almaty PSC No 1 қағаз құжатыңыздың электрондық көшірмесін куәландырды: Неке қию туралы куәлік.",
			notify.KindDuplicateReleased:  "Ministry of Labour құжатыңыздың электрондық көшірмесін алды: Неке қию туралы куәлік.",
			notify.KindDuplicatePurged:    "Құжатыңыздың электрондық көшірмесі сақтау мерзімі өткен соң жойылды: Неке қию туралы куәлік.",
			notify.KindCaseDelivered:      "Ministry of Labour сіздің өтінішіңізді қабылдады.",
			notify.KindCaseResult:         "Ministry of Labour өтінішіңіз бойынша нәтиже берді. Ол сіздің құжаттарыңызда.",
		} {
			found := false
			for key, text := range texts {
				if strings.HasPrefix(key, k+" ") {
					found = true
					if text != want {
						t.Errorf("%s text %q, want %q", k, text, want)
					}
				}
			}
			if !found {
				t.Errorf("no %s notification", k)
			}
		}
		var statuses []string
		for key, text := range texts {
			if strings.HasPrefix(key, notify.KindCaseStatus+" ") {
				statuses = append(statuses, text)
			}
		}
		sort.Strings(statuses)
		if strings.Join(statuses, " | ") != "Ministry of Labour сіздің өтінішіңізді тіркеді. | Ministry of Labour сіздің өтінішіңізді қарап жатыр." {
			t.Errorf("case status texts %q", statuses)
		}
		for _, r := range e.received(firstOf(devs, dave)) {
			if r.push.Kind == notify.KindGuardianShare && r.push.Text != "Alia Sarsen Kamila Sarsen құжатына қол жеткізуді ашты: Туу туралы куәлік." {
				t.Errorf("guardian share text %q", r.push.Text)
			}
		}
	})
}

func firstOf(devs map[string]wallet.IIN, owner wallet.IIN) string {
	var ids []string
	for d, o := range devs {
		if o == owner {
			ids = append(ids, d)
		}
	}
	sort.Strings(ids)
	return ids[0]
}

// lostAnswer delivers, then reports a failure, as a process killed before
// it recorded the delivery would leave it.
type lostAnswer struct {
	next notify.Driver
	once sync.Once
}

func (l *lostAnswer) Deliver(ctx context.Context, d wallet.Device, secret string, p notify.Push) error {
	err := l.next.Deliver(ctx, d, secret, p)
	lost := false
	l.once.Do(func() { lost = true })
	if lost {
		return wallet.Errorf(wallet.EUNAVAILABLE, "answer lost")
	}
	return err
}

func TestWorker_ALostAnswerIsDeliveredAgainWithTheSameEventID(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		dev := e.addDevice(alice, "/a")
		e.commit(wallet.Change{Events: []wallet.Event{e.event(wallet.EventCodesVoided, alice, "system", "sharing", string(alice), nil)}})
		w := e.worker(0)
		w.Drivers[wallet.PlatformWebhook] = &lostAnswer{next: w.Drivers[wallet.PlatformWebhook]}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		if err := e.worker(0).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := e.received(dev)
		if len(got) != 2 || got[0].push.EventID != got[1].push.EventID || got[0].header.Get("X-Qujat-Event-Id") != got[1].push.EventID {
			t.Fatalf("received %d pushes: %+v", len(got), got)
		}
	})
}

func TestWorker_AFailingWebhookIsRetriedThenDropped(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		dev := e.addDevice(alice, "/down")
		e.hooks.setStatus(http.StatusInternalServerError)
		e.commit(wallet.Change{Events: []wallet.Event{e.event(wallet.EventCodesVoided, alice, "system", "sharing", string(alice), nil)}})
		w := e.worker(0)
		state := func() wallet.Device {
			d, err := e.store.Device(ctx, dev)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if d := state(); d.Status != wallet.DeviceFailing || d.Failures != 1 {
			t.Fatalf("after one failure: %+v", d)
		}
		w.Flush(ctx) // not due yet: nothing
		if n := len(e.received(dev)); n != 1 {
			t.Fatalf("retried before its backoff: %d", n)
		}
		e.clock.Advance(time.Second)
		w.Flush(ctx)
		e.clock.Advance(time.Second)
		w.Flush(ctx)
		if d := state(); d.Status != wallet.DeviceDropped || d.Failures != 3 {
			t.Fatalf("after three failures: %+v", d)
		}
		// Dropped: a new event is not even scheduled, and nothing is sent.
		e.hooks.setStatus(http.StatusOK)
		e.commit(wallet.Change{Events: []wallet.Event{e.event(wallet.EventCodesVoided, alice, "system", "sharing", string(alice), nil)}})
		e.clock.Advance(time.Hour)
		w.Flush(ctx)
		if n := len(e.received(dev)); n != 3 {
			t.Fatalf("pushes to a dropped device: %d, want the 3 failed ones", n)
		}
		ns, _ := e.store.Notifications(ctx, dev)
		if len(ns) != 1 || ns[0].Status != wallet.NotificationFailed || !strings.Contains(ns[0].LastError, "500") {
			t.Fatalf("notifications: %+v", ns)
		}
	})
}

func TestWorker_AWebhookAnswering410IsRemoved(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		dev := e.addDevice(alice, "/gone")
		e.hooks.setStatus(http.StatusGone)
		e.commit(wallet.Change{Events: []wallet.Event{e.event(wallet.EventCodesVoided, alice, "system", "sharing", string(alice), nil)}})
		if err := e.worker(0).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Device(ctx, dev); wallet.ErrorCode(err) != wallet.ENOTFOUND {
			t.Fatalf("device after 410: %v", err)
		}
	})
}

func TestFanout_AKindTurnedOffIsNotSentButVoidedCodesAlwaysAre(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		dev := e.addDevice(alice, "/a")
		err := e.store.SavePreferences(ctx, wallet.Preferences{IIN: alice, Language: "en", UpdatedAt: e.clock.Now(),
			Notifications: wallet.NotificationChoices{Views: false, Consents: false, Duplicates: false, Cases: false}})
		if err != nil {
			t.Fatal(err)
		}
		voided := e.event(wallet.EventCodesVoided, alice, "system", "sharing", string(alice), nil)
		e.commit(wallet.Change{
			Events: []wallet.Event{voided, e.event(wallet.EventConsentRevoked, alice, wallet.ViewerCitizen, string(alice), "cns-x", nil),
				e.event(wallet.EventDuplicateCertified, alice, wallet.ActorStaff, "stf-1", "dup_x", map[string]string{"type": "passport", "centre": "centre-1"})},
			Views: []wallet.View{e.view("v-off", alice, wallet.ViewerCitizen, string(bob), "")},
		})
		if err := e.worker(0).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := e.received(dev)
		if len(got) != 1 || got[0].push.EventID != voided.ID || got[0].push.Language != "en" ||
			got[0].push.Text != "Wrong short codes were entered for your documents too many times, so your open codes were voided." {
			t.Fatalf("received: %+v", got)
		}
	})
}

func TestSignature_VerifiesOnlyTheSameBodySecretAndRecentTime(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	body := []byte(`{"event_id":"evt_1"}`)
	h := notify.Sign("whsec_a", now.Unix(), body)
	prefix := "t=" + strconv.FormatInt(now.Unix(), 10) + ",v1="
	if !strings.HasPrefix(h, prefix) || len(h) != len(prefix)+64 {
		t.Fatalf("header %q", h)
	}
	for name, ok := range map[string]bool{
		"right":          notify.Verify("whsec_a", h, body, now, time.Minute),
		"other secret":   !notify.Verify("whsec_b", h, body, now, time.Minute),
		"other body":     !notify.Verify("whsec_a", h, []byte(`{"event_id":"evt_2"}`), now, time.Minute),
		"too old":        !notify.Verify("whsec_a", h, body, now.Add(2*time.Minute), time.Minute),
		"no header":      !notify.Verify("whsec_a", "", body, now, time.Minute),
		"garbled header": !notify.Verify("whsec_a", "t=x,v1=y", body, now, time.Minute),
	} {
		if !ok {
			t.Errorf("%s", name)
		}
	}
}

// downDirectory is a registry that cannot be reached.
type downDirectory struct{}

func (downDirectory) Citizen(context.Context, wallet.IIN) (wallet.Citizen, error) {
	return wallet.Citizen{}, wallet.Errorf(wallet.EUNAVAILABLE, "registry down")
}

func (downDirectory) Guardians(context.Context, wallet.IIN) ([]wallet.IIN, error) {
	return nil, wallet.Errorf(wallet.EUNAVAILABLE, "registry down")
}

func TestFanout_ARegistryDownHoldsTheRowUntilItIsBack(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		dev := e.addDevice(alice, "/a")
		e.commit(wallet.Change{Views: []wallet.View{e.view("v-held", alice, wallet.ViewerCitizen, string(bob), "")}})
		e.dir = downDirectory{}
		before, _ := e.store.NotificationCursor(ctx)
		if err := e.worker(0).Flush(ctx); wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
			t.Fatalf("flush with the registry down: %v", err)
		}
		if after, _ := e.store.NotificationCursor(ctx); after != before || len(e.received(dev)) != 0 {
			t.Fatalf("cursor moved %d → %d or pushed %d", before, after, len(e.received(dev)))
		}
		e.dir = directory{}
		if err := e.worker(0).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.received(dev); len(got) != 1 || got[0].push.Text != "Bolat Tokhtar сіздің құжатыңызды қарады: Паспорт." {
			t.Fatalf("after the registry is back: %+v", got)
		}
	})
}

func TestFanout_AMinorsConsentIsToldToTheirRepresentatives(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		aliceDev, daveDev := e.addDevice(alice, "/alice"), e.addDevice(dave, "/dave")
		if err := e.store.SavePreferences(ctx, wallet.Preferences{IIN: dave, Language: "en", Notifications: wallet.DefaultNotifications, UpdatedAt: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		c := wallet.Consent{ID: "cns-ward", ClientID: "bank-1", SubjectIIN: carol, Phone: "+77010000001",
			DocumentTypes: []wallet.DocumentType{wallet.BirthCertificate}, Purpose: "deposit", Method: wallet.ConsentOTP,
			Status: wallet.ConsentPending, ValidFor: time.Hour, CreatedAt: e.clock.Now(), RequestExpiresAt: e.clock.Now().Add(time.Minute), Revision: 1}
		ev := e.event(wallet.EventConsentRequested, carol, wallet.ViewerOrganisation, "bank-1", c.ID, nil)
		e.commit(wallet.Change{Ops: []wallet.Op{wallet.CreateConsent{Consent: c}}, Events: []wallet.Event{ev}})
		if err := e.worker(0).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		a, d := e.received(aliceDev), e.received(daveDev)
		if len(a) != 1 || len(d) != 1 || a[0].push.EventID != ev.ID || a[0].push.Kind != wallet.EventConsentRequested {
			t.Fatalf("alice %+v, dave %+v", a, d)
		}
		if d[0].push.Text != "Demo Bank asks for consent to see Kamila Sarsen's documents. Open Qujat to answer." {
			t.Fatalf("dave's text %q", d[0].push.Text)
		}
		if strings.Contains(a[0].push.Text, "deposit") || !strings.Contains(a[0].push.Text, "Kamila Sarsen") {
			t.Fatalf("alice's text %q", a[0].push.Text)
		}
	})
}
