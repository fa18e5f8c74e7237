package faults

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/internal/servicetest"
	"github.com/qujat/qujat/service"
	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
	"github.com/qujat/qujat/wallet/keyfiles"
	"github.com/qujat/qujat/wallet/postgres"
)

// Shape of the run: workers, and how long each logical request (one
// Idempotency-Key) keeps retrying a 503, a 409 of its key still in
// progress, a 429 or a network error before it gives up.
const (
	workers       = 8
	retryBudget   = 45 * time.Second
	faultDuration = 4 * time.Second
	settle        = 7 * time.Second
	// readyGrace is how long after a fault ends /readyz may still report
	// the dependency down (pooled connections to a dead server are found
	// out one by one).
	readyGrace = 10 * time.Second
	// downAfter is how soon after a fault starts /readyz must report it.
	downAfter = 300 * time.Millisecond
)

// fault is one phase of the chaos: a dependency down or stalled, or COMMIT
// answers lost, from start until end (when it is back and answering).
// While mustDown, /readyz started after start+downAfter and ended before
// downUntil must report dep down.
type fault struct {
	name      string
	dep       string // a /readyz check name
	mustDown  bool
	start     time.Time
	downUntil time.Time
	end       time.Time
}

// probe is one /readyz answer.
type probe struct {
	start, end time.Time
	status     int
	checks     map[string]string
	err        error
}

// op is one logical request: every attempt sent with one Idempotency-Key.
type op struct {
	kind     string // "issue" or "redeem"
	shareID  string
	owner    wallet.IIN
	viewer   wallet.IIN
	start    time.Time
	end      time.Time
	status   int // the final answer; 0 if only network errors
	viewID   string
	attempts int
	body     string
}

type citizen struct {
	iin    wallet.IIN
	phone  string
	access string
	docs   []string
}

type harness struct {
	t      *testing.T
	url    string
	client *http.Client
	outbox *sms.Outbox

	attempts, n503, n409, n429, n5xx, netErrs atomic.Int64

	mu         sync.Mutex
	ops        []op
	unexpected []string // 5xx other than 503, and other surprises
}

// phase is one fault of the chaos: begin breaks a dependency, end (after
// faultDuration) mends it.
type phase struct {
	name     string
	dep      string // a /readyz check name
	mustDown bool   // /readyz must report dep down while it lasts
	begin    func() error
	end      func() error
}

// faultRun is what one run of the suite breaks: its short-lived store
// (redisURL, already started) and the phases on it; with postgresPhases
// the PostgreSQL kill, stall and lost COMMIT answers follow.
type faultRun struct {
	label          string // starts the summary line
	redisURL       string
	redisPhases    []phase
	postgresPhases bool
}

// faultBinaries finds redis-server and PostgreSQL's binaries, or skips (or
// fails) the test.
func faultBinaries(t *testing.T) (redisBin, pgBin string, ok bool) {
	if testing.Short() {
		servicetest.Skip(t, servicetest.PostgresServer, "skipped with -short: the fault suite starts PostgreSQL and redis-server of its own and runs for over a minute")
		return "", "", false
	}
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		servicetest.Missing(t, servicetest.RedisServer, "redis-server is not on PATH, so the fault suite does not run")
		return "", "", false
	}
	pgBin, err = servicetest.PGBinDir()
	if err != nil {
		servicetest.Missing(t, servicetest.PostgresServer, err.Error()+", so the fault suite does not run")
		return "", "", false
	}
	return redisBin, pgBin, true
}

func TestFaults(t *testing.T) {
	redisBin, pgBin, ok := faultBinaries(t)
	if !ok {
		return
	}
	servicetest.Ran(t, servicetest.RedisServer)
	rs := &redisServer{t: t, bin: redisBin, dir: t.TempDir(), port: freePort(t)}
	if err := rs.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c := rs.current(); c != nil {
			c.kill()
		}
	})
	runFaults(t, pgBin, faultRun{
		label:    "fault suite",
		redisURL: "redis://" + rs.addr() + "/0",
		redisPhases: []phase{
			{name: "redis kill", dep: "short_lived", mustDown: true,
				begin: func() error { rs.current().kill(); return nil },
				end:   rs.start},
			{name: "redis stall", dep: "short_lived", mustDown: true,
				begin: func() error { return rs.current().signalGroup(syscall.SIGSTOP) },
				end:   func() error { return rs.current().signalGroup(syscall.SIGCONT) }},
		},
		postgresPhases: true,
	})
}

// runFaults builds the service on a PostgreSQL of its own and the
// short-lived store at run.redisURL, drives the workers through run's
// phases and checks the invariants.
func runFaults(t *testing.T, pgBin string, run faultRun) {
	servicetest.Ran(t, servicetest.PostgresServer)
	began := time.Now()

	// The servers.
	pg, err := newPG(t, pgBin)
	if err != nil {
		t.Fatal(err)
	}
	pg.port = freePort(t)
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c := pg.current(); c != nil {
			c.kill()
		}
	})
	proxy, err := newPGProxy(fmt.Sprintf("127.0.0.1:%d", pg.port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.close)

	// The service, on PostgreSQL through the proxy and Redis directly.
	ctx := context.Background()
	st, err := postgres.Open(ctx, "postgres://qujat@"+proxy.addr()+"/postgres?sslmode=disable&pool_max_conns=20")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	short, err := redisstore.Open(ctx, run.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { short.Close() })
	demo, err := sources.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyfiles.Open(filepath.Join(t.TempDir(), "keys"), []string{sources.IssuerMIA, sources.IssuerMOJ, sources.IssuerEDU}, wallet.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	_, tokenKey, _ := ed25519.GenerateKey(rand.Reader)
	outbox := sms.NewOutbox(10000, time.Now)
	logKeys, err := historylog.NewKeys("qujat.test/faults", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if os.Getenv("QUJAT_TEST_LOG") != "" {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	} else {
		// go-redis logs every failed dial while Redis is down.
		redis.SetLogger(quietRedisLog{})
	}
	svc, err := service.Build(service.Parts{
		Logger: logger, Store: st, Short: short, Directory: demo, Sources: demo.Sources(), DevCitizens: demo.Citizens,
		Keys: keys, LogKeys: logKeys, Pepper: []byte("fault suite pepper, 32 bytes...."),
		TokenKey: tokenKey, TokenIssuer: "qujat", SealKey: []byte("0123456789abcdef0123456789abcdef"),
		SMS: outbox, Outbox: outbox, PublicURL: "https://qujat.test",
		// The workers open thousands of shares as a few citizens: the
		// per-citizen limits would answer them 429, which is not a fault.
		NoCitizenLimits: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var closeLog sync.Once
	closeSvc := func() { closeLog.Do(func() { svc.Close() }) }
	t.Cleanup(closeSvc)
	hs := httptest.NewServer(svc.Server.Handler())
	t.Cleanup(hs.Close)

	h := &harness{t: t, url: hs.URL, outbox: outbox, client: &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0},
	}}

	// Citizens, signed in and with their documents assembled, before any
	// fault.
	var cs []*citizen
	for _, c := range demo.Citizens() {
		if wallet.IsMinor(c.BirthDate, time.Now()) {
			continue
		}
		ct := &citizen{iin: c.IIN, phone: c.Phone}
		h.signIn(ct)
		if len(ct.docs) == 0 {
			continue
		}
		cs = append(cs, ct)
		if len(cs) == workers {
			break
		}
	}
	if len(cs) < 2 {
		t.Fatalf("%d demo adults with documents, want at least 2", len(cs))
	}

	// /readyz, every 200 ms, all along.
	// A probe starts every 200 ms whether or not the ones before have
	// answered (one may wait out a check's timeout).
	stopProbes := make(chan struct{})
	var (
		probes     []probe
		probesMu   sync.Mutex
		probesDone sync.WaitGroup
	)
	probesDone.Add(1)
	go func() {
		defer probesDone.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			probesDone.Add(1)
			go func() {
				defer probesDone.Done()
				p := h.readyz()
				probesMu.Lock()
				probes = append(probes, p)
				probesMu.Unlock()
			}()
			select {
			case <-stopProbes:
				return
			case <-tick.C:
			}
		}
	}()

	// The workers.
	stopWork := make(chan struct{})
	var work sync.WaitGroup
	for i := range workers {
		owner, viewer := cs[i%len(cs)], cs[(i+1)%len(cs)]
		work.Add(1)
		go func() {
			defer work.Done()
			h.worker(owner, viewer, stopWork)
		}()
	}

	// The chaos, in phases.
	var faults []fault
	phases := run.redisPhases
	if run.postgresPhases {
		phases = append(phases,
			phase{name: "postgres kill", dep: "database", mustDown: true,
				begin: func() error { pg.immediateStop(); return nil },
				end:   pg.start},
			phase{name: "postgres stall", dep: "database", mustDown: true,
				begin: func() error { return pg.signalAll(syscall.SIGSTOP) },
				end:   func() error { return pg.signalAll(syscall.SIGCONT) }},
			phase{name: "lost COMMIT answers", dep: "database",
				begin: func() error { proxy.loseCommits.Store(true); return nil },
				end:   func() error { proxy.loseCommits.Store(false); return nil }})
	}
	chaosErr := func() error {
		time.Sleep(4 * time.Second)
		for _, ph := range phases {
			f := fault{name: ph.name, dep: ph.dep, mustDown: ph.mustDown, start: time.Now()}
			if err := ph.begin(); err != nil {
				return fmt.Errorf("%s: %v", ph.name, err)
			}
			time.Sleep(faultDuration)
			f.downUntil = time.Now()
			if err := ph.end(); err != nil {
				return fmt.Errorf("%s: %v", ph.name, err)
			}
			f.end = time.Now()
			faults = append(faults, f)
			time.Sleep(settle)
		}
		return nil
	}()
	close(stopWork)
	work.Wait()
	close(stopProbes)
	probesDone.Wait()
	sort.Slice(probes, func(i, j int) bool { return probes[i].start.Before(probes[j].start) })
	if chaosErr != nil {
		t.Fatalf("chaos: %v", chaosErr)
	}
	for _, f := range faults {
		t.Logf("%s: %s to %s (down until %s)", f.name, f.start.Format("15:04:05.000"), f.end.Format("15:04:05.000"), f.downUntil.Format("15:04:05.000"))
	}

	// Everything is back: /readyz says so.
	if p := h.readyz(); p.status != http.StatusOK {
		t.Errorf("/readyz after the faults: %d %v %v", p.status, p.checks, p.err)
	}
	closeSvc() // the history log has committed what was queued

	// The invariants, against the database itself.
	checkCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	db, err := pgx.Connect(checkCtx, pg.directURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(checkCtx)

	type viewRow struct {
		shareID, owner, viewer string
		logIndex               *int64
	}
	views := map[string]viewRow{}
	rows, err := db.Query(checkCtx, "SELECT id, coalesce(share_id, ''), owner_iin, viewer_id, log_index FROM views")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var v viewRow
		if err := rows.Scan(&id, &v.shareID, &v.owner, &v.viewer, &v.logIndex); err != nil {
			t.Fatal(err)
		}
		views[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	type shareRow struct {
		maxViews, views int
		expiresAt       time.Time
		revoked         bool
	}
	shares := map[string]shareRow{}
	revoked := 0
	rows, err = db.Query(checkCtx, "SELECT id, max_views, views, expires_at, revoked_at IS NOT NULL FROM shares")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var s shareRow
		if err := rows.Scan(&id, &s.maxViews, &s.views, &s.expiresAt, &s.revoked); err != nil {
			t.Fatal(err)
		}
		shares[id] = s
		if s.revoked {
			revoked++ // the suite revokes nothing: the service did
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	var (
		issued, redeemed, successes, unresolved int
		orphanViews, orphanShares, doubleUses   int
		goneWithUsesLeft, missingViews          int
		notInHistory, withoutLeaf               int
		issuedOK                                = map[string]bool{}
		viewOK                                  = map[string]op{}
		viewsPerShare                           = map[string]int{}
		ownerViews                              = map[wallet.IIN][]string{}
		viewerViews                             = map[wallet.IIN][]string{}
	)
	for _, o := range h.ops {
		switch o.kind {
		case "issue":
			issued++
			if o.status == http.StatusCreated {
				successes++
				issuedOK[o.shareID] = true
			}
		case "redeem":
			redeemed++
			switch o.status {
			case http.StatusOK:
				successes++
				if prev, dup := viewOK[o.viewID]; dup {
					doubleUses++
					t.Errorf("two redemptions with different keys answered one view %s (%+v, %+v)", o.viewID, prev, o)
				}
				viewOK[o.viewID] = o
				viewsPerShare[o.shareID]++
				ownerViews[o.owner] = append(ownerViews[o.owner], o.viewID)
				viewerViews[o.viewer] = append(viewerViews[o.viewer], o.viewID)
			case http.StatusGone:
				s, ok := shares[o.shareID]
				if ok && s.views < s.maxViews && !s.revoked && s.expiresAt.After(o.end) {
					goneWithUsesLeft++
					t.Errorf("share %s answered 410 with %d of %d views used, expiring at %v: %s", o.shareID, s.views, s.maxViews, s.expiresAt, o.body)
				}
			}
		}
		if o.status == 0 || o.status == http.StatusServiceUnavailable || o.status == http.StatusConflict || o.status == http.StatusTooManyRequests {
			unresolved++
		}
	}
	// Shares answered 201 that the service itself revoked (the suite
	// revokes none), and what their redemptions answered.
	revokedAfter201 := 0
	for id, s := range shares {
		if s.revoked && issuedOK[id] {
			revokedAfter201++
			var got []string
			for _, o := range h.ops {
				if o.kind == "redeem" && o.shareID == id {
					got = append(got, fmt.Sprint(o.status))
				}
			}
			t.Errorf("share %s was answered 201 and then revoked by the service; its redemptions answered %s", id, strings.Join(got, ", "))
		}
	}
	// Every 200 has its view, with its leaf, in both parties' histories.
	for id, o := range viewOK {
		v, ok := views[id]
		switch {
		case !ok:
			missingViews++
			t.Errorf("redemption answered 200 with view %s, which the database does not have (%+v)", id, o)
		case v.shareID != o.shareID || v.viewer != string(o.viewer) || v.owner != string(o.owner):
			t.Errorf("view %s is %+v, answered for %+v", id, v, o)
		case v.logIndex == nil:
			withoutLeaf++
			t.Errorf("view %s has no leaf", id)
		}
	}
	storeCtx, cancelStore := context.WithTimeout(ctx, time.Minute)
	defer cancelStore()
	for owner, ids := range ownerViews {
		got, err := st.ViewsOfOwner(storeCtx, owner)
		if err != nil {
			t.Fatal(err)
		}
		notInHistory += missing(ids, got)
	}
	for viewer, ids := range viewerViews {
		got, err := st.ViewsByViewer(storeCtx, wallet.ViewerCitizen, string(viewer))
		if err != nil {
			t.Fatal(err)
		}
		notInHistory += missing(ids, got)
	}
	if notInHistory > 0 {
		t.Errorf("%d answered views missing from the owner's or the viewer's history", notInHistory)
	}
	// No view or share without a 200 or 201, no share used beyond its views.
	for id, v := range views {
		if _, ok := viewOK[id]; !ok {
			orphanViews++
			t.Errorf("orphan view %s (share %s): no redemption was answered 200 for it", id, v.shareID)
		}
	}
	perShareRows := map[string]int{}
	for _, v := range views {
		perShareRows[v.shareID]++
	}
	for id, s := range shares {
		if !issuedOK[id] {
			orphanShares++
			t.Errorf("orphan share %s: no issuance was answered 201 for it", id)
		}
		if perShareRows[id] > s.maxViews || viewsPerShare[id] > s.maxViews || perShareRows[id] != s.views {
			doubleUses++
			t.Errorf("share %s: max %d views, counter %d, %d view rows, %d answered 200", id, s.maxViews, s.views, perShareRows[id], viewsPerShare[id])
		}
	}
	// The audit: the log, and every row against its leaf.
	rep, err := history.Audit(storeCtx, st, svc.Log.VerifierKey())
	if err != nil {
		t.Errorf("audit verify: %v", err)
	}

	// /readyz was truthful.
	falseUp, falseDown, checkedDown := 0, 0, map[string]int{}
	for _, p := range probes {
		for _, dep := range []string{"database", "short_lived"} {
			state := p.checks[dep]
			for _, f := range faults {
				if f.dep == dep && f.mustDown && !p.start.Before(f.start.Add(downAfter)) && !p.end.After(f.downUntil) {
					checkedDown[f.name]++
					if state == "ok" {
						falseUp++
						t.Errorf("/readyz at %v during %s reported %s ok", p.start.Sub(began), f.name, dep)
					}
				}
			}
			if state == "ok" {
				continue
			}
			excused := false
			for _, f := range faults {
				if f.dep == dep && !p.end.Before(f.start.Add(-100*time.Millisecond)) && !p.start.After(f.end.Add(readyGrace)) {
					excused = true
				}
			}
			if !excused {
				falseDown++
				t.Errorf("/readyz at %v reported %s %q (status %d, %v) with no fault on it", p.start.Sub(began), dep, state, p.status, p.err)
			}
		}
	}
	for _, f := range faults {
		if f.mustDown && checkedDown[f.name] == 0 {
			t.Errorf("no /readyz probe fell within %s", f.name)
		}
	}

	// Recovery: from the end of each fault to /readyz all ok, and to the
	// first request started after it that succeeded.
	var rec []string
	for _, f := range faults {
		ready, first := "never", "never"
		for _, p := range probes {
			if !p.start.Before(f.end) && p.status == http.StatusOK {
				ready = fmt.Sprintf("%.1f s", p.end.Sub(f.end).Seconds())
				break
			}
		}
		best := time.Duration(-1)
		for _, o := range h.ops {
			if !o.start.Before(f.end) && (o.status == http.StatusOK || o.status == http.StatusCreated) {
				if d := o.end.Sub(f.end); best < 0 || d < best {
					best = d
				}
			}
		}
		if best >= 0 {
			first = fmt.Sprintf("%.1f s", best.Seconds())
		}
		rec = append(rec, fmt.Sprintf("%s: ready after %s, first success after %s", f.name, ready, first))
	}
	h.mu.Lock()
	unexpected := len(h.unexpected)
	for _, u := range h.unexpected {
		t.Errorf("unexpected answer: %s", u)
	}
	h.mu.Unlock()
	audit := "ok"
	if err != nil {
		audit = "FAILED"
	}
	servicetest.Summary(t, fmt.Sprintf("%s: attempts %d (logical requests %d: issuances %d, redemptions %d), successes %d, "+
		"orphans %d (views %d, shares %d), double uses %d, 410 with uses left %d, 200 without view %d, views without leaf %d, "+
		"missing from histories %d, unexpected 5xx %d, other unexpected answers %d, 503s %d, 409s %d, 429s %d, network errors %d, unresolved %d, "+
		"shares revoked by the service %d (answered 201 %d), lost COMMIT answers %d, readyz probes %d (false up %d, false down %d), audit %s (%d leaves, %d views), "+
		"recovery: %s; took %.0f s",
		run.label, h.attempts.Load(), len(h.ops), issued, redeemed, successes,
		orphanViews+orphanShares, orphanViews, orphanShares, doubleUses, goneWithUsesLeft, missingViews, withoutLeaf,
		notInHistory, h.n5xx.Load(), unexpected, h.n503.Load(), h.n409.Load(), h.n429.Load(), h.netErrs.Load(), unresolved,
		revoked, revokedAfter201, proxy.lost.Load(), len(probes), falseUp, falseDown, audit, rep.Log.Size, rep.Views,
		strings.Join(rec, "; "), time.Since(began).Seconds()))
}

type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

// missing counts the ids not among views.
func missing(ids []string, views []wallet.View) int {
	have := make(map[string]bool, len(views))
	for _, v := range views {
		have[v.ID] = true
	}
	n := 0
	for _, id := range ids {
		if !have[id] {
			n++
		}
	}
	return n
}

// shortCodes makes the second redemption of each share use its short code
// instead of its token (QUJAT_FAULTS_SHORT_CODES=0 turns it off).
var shortCodes = os.Getenv("QUJAT_FAULTS_SHORT_CODES") != "0"

// worker opens shares of owner's documents (two views each) and redeems
// each three times as viewer: two 200s and a 410, every request with an
// Idempotency-Key of its own.
func (h *harness) worker(owner, viewer *citizen, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		doc := owner.docs[mrand.IntN(len(owner.docs))]
		o := h.call("issue", "POST", "/v1/documents/"+doc+"/shares", owner.access,
			map[string]int{"ttl_seconds": 600, "max_views": 2})
		o.owner = owner.iin
		var sh struct {
			ID        string `json:"id"`
			Token     string `json:"token"`
			ShortCode string `json:"short_code"`
		}
		if o.status == http.StatusCreated {
			if err := json.Unmarshal([]byte(o.body), &sh); err != nil || sh.ID == "" || sh.Token == "" {
				h.surprise("issuance answered 201 with %s", o.body)
				h.record(o)
				continue
			}
			o.shareID = sh.ID
		}
		h.record(o)
		if o.status != http.StatusCreated {
			continue
		}
		for j := range 3 {
			body := map[string]string{"token": sh.Token}
			if j == 1 && shortCodes {
				body = map[string]string{"short_code": sh.ShortCode, "owner_iin": string(owner.iin)}
			}
			r := h.call("redeem", "POST", "/v1/shares/redeem", viewer.access, body)
			r.shareID, r.owner, r.viewer = sh.ID, owner.iin, viewer.iin
			switch r.status {
			case http.StatusOK:
				var red struct {
					ViewID string `json:"view_id"`
				}
				if err := json.Unmarshal([]byte(r.body), &red); err != nil || red.ViewID == "" {
					h.surprise("redemption answered 200 with %s", r.body)
				}
				r.viewID = red.ViewID
			}
			h.record(r)
		}
	}
}

func (h *harness) record(o op) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

func (h *harness) surprise(format string, args ...any) {
	h.mu.Lock()
	h.unexpected = append(h.unexpected, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// call makes one logical request with a fresh Idempotency-Key, retrying
// with the same key on a network error, 503, 409 (the key in progress) or
// 429 with backoff, for up to retryBudget.
func (h *harness) call(kind, method, path, token string, body any) op {
	var kb [12]byte
	rand.Read(kb[:])
	key := kind + "-" + hex.EncodeToString(kb[:])
	o := op{kind: kind, start: time.Now()}
	backoff := 50 * time.Millisecond
	for {
		o.attempts++
		h.attempts.Add(1)
		status, b, err := h.send(method, path, token, body, key)
		o.status, o.body = status, string(b)
		retry := false
		switch {
		case err != nil:
			h.netErrs.Add(1)
			o.status, o.body, retry = 0, err.Error(), true
		case status == http.StatusServiceUnavailable:
			h.n503.Add(1)
			retry = true
		case status == http.StatusConflict:
			h.n409.Add(1)
			retry = true
		case status == http.StatusTooManyRequests:
			h.n429.Add(1)
			retry = true
		case status >= 500:
			h.n5xx.Add(1)
			h.surprise("%s %s answered %d at %s (attempt %d): %s", method, path, status, time.Now().Format("15:04:05.000"), o.attempts, b)
		case status == http.StatusOK, status == http.StatusCreated, status == http.StatusGone:
		default:
			h.surprise("%s %s answered %d at %s (attempt %d): %s", method, path, status, time.Now().Format("15:04:05.000"), o.attempts, b)
		}
		if !retry || time.Since(o.start) > retryBudget {
			o.end = time.Now()
			return o
		}
		time.Sleep(backoff/2 + mrand.N(backoff/2+1))
		backoff = min(2*backoff, time.Second)
	}
}

func (h *harness) send(method, path, token string, body any, key string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, b, nil
}

func (h *harness) readyz() probe {
	p := probe{start: time.Now()}
	status, b, err := h.send("GET", "/readyz", "", nil, "")
	p.end, p.status, p.err = time.Now(), status, err
	var out struct {
		Checks map[string]string `json:"checks"`
	}
	if err == nil {
		if jerr := json.Unmarshal(b, &out); jerr != nil {
			p.err = fmt.Errorf("readyz answered %d %s", status, b)
		}
	}
	p.checks = out.Checks
	return p
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// signIn signs c in through the OTP flow and lists its documents; it fails
// the test on any error (there is no fault yet).
func (h *harness) signIn(c *citizen) {
	t := h.t
	t.Helper()
	status, b, err := h.send("POST", "/v1/auth/otp", "", map[string]string{"iin": string(c.iin)}, "")
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("otp for %s: %d %s %v", c.iin, status, b, err)
	}
	var ch struct {
		ChallengeID string `json:"challenge_id"`
	}
	json.Unmarshal(b, &ch)
	msgs := h.outbox.Messages(c.phone)
	if len(msgs) == 0 {
		t.Fatalf("no SMS to %s", c.phone)
	}
	code := sixDigits.FindString(msgs[0].Text)
	status, b, err = h.send("POST", "/v1/auth/token", "", map[string]string{"challenge_id": ch.ChallengeID, "code": code}, "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("token for %s: %d %s %v", c.iin, status, b, err)
	}
	var tok struct {
		Access string `json:"access_token"`
	}
	json.Unmarshal(b, &tok)
	c.access = tok.Access
	status, b, err = h.send("GET", "/v1/documents", c.access, nil, "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("documents of %s: %d %s %v", c.iin, status, b, err)
	}
	var docs struct {
		Documents []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"documents"`
	}
	json.Unmarshal(b, &docs)
	for _, d := range docs.Documents {
		c.docs = append(c.docs, d.ID)
	}
	sort.Strings(c.docs)
}
