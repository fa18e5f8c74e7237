package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/internal/servicetest"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
)

var lagTolerantReads = regexp.MustCompile(`(?m)^qujat_database_lag_tolerant_reads_total\{served_by="(replica|primary)"\} ([0-9.e+]+)$`)

// `qujat serve` on a primary and a streaming replica that the test starts
// (pg_basebackup -R): the lag-tolerant reads (checkpoints, published keys,
// /v1/verify's status) are served by the replica (counted per server in
// /metrics, and shown by the older checkpoint served while the replica's
// replay is paused), while a share opened then is redeemed once on the
// primary. Stopped, the replica is named unavailable by /readyz, which
// stays 200, and nothing else changes. The replica is promoted in the middle of concurrent issuance,
// redemption and public reads: every request is answered (no 5xx), no
// single-use share is released twice, /readyz stays 200 and names the
// replica promoted, and the primary serves every read after it. Writes keep
// going to QUJAT_DATABASE_URL, so the promoted server falls behind: that
// is the operator's to repoint (docs/capacity.md).
func TestServe_StreamingReplica_RoutesReadsAndSurvivesPromotion(t *testing.T) {
	skipIfShort(t)
	primary := servicetest.StartPostgresPrimary(t)
	standby := primary.StartReplica()
	const metricsToken = "replica-test-metrics-token"
	env := map[string]string{
		"QUJAT_DATABASE_URL":         primary.URL(""),
		"QUJAT_DATABASE_REPLICA_URL": standby.URL(""),
		"QUJAT_REDIS_URL":            shortlivedtest.RedisURL(t),
		"QUJAT_REDIS_PREFIX":         shortlivedtest.UniquePrefix(t),
		"QUJAT_DEV":                  "1",
		"QUJAT_DEV_UNLIMITED":        "1",
		"QUJAT_METRICS_TOKEN":        metricsToken,
	}
	data := t.TempDir()
	env["QUJAT_DATA_DIR"] = data
	base := startService(t, env)
	c := client{t, base}

	served := func() (replica, primary float64) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+metricsToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		text, _ := io.ReadAll(res.Body)
		got := map[string]float64{}
		for _, m := range lagTolerantReads.FindAllStringSubmatch(string(text), -1) {
			got[m[1]], _ = strconv.ParseFloat(m[2], 64)
		}
		if len(got) != 2 {
			t.Fatalf("/metrics has no lag-tolerant read counters (%d)", res.StatusCode)
		}
		return got["replica"], got["primary"]
	}
	readyReplica := func() string {
		t.Helper()
		st, m := c.call("GET", "/readyz", "", nil)
		if st != 200 {
			t.Fatalf("/readyz: %d %v", st, m)
		}
		opt, _ := m["optional"].(map[string]any)
		s, _ := opt["database_replica"].(string)
		return s
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	count := func(s *servicetest.PGServer, sql string) int64 {
		t.Helper()
		var n int64
		if err := s.Exec("", sql, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	checkpoint := func() historylog.Checkpoint {
		t.Helper()
		res, err := http.Get(base + "/v1/log/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		text, _ := io.ReadAll(res.Body)
		cp, err := historylog.ParseCheckpoint(text)
		if err != nil {
			t.Fatalf("checkpoint %d: %v: %s", res.StatusCode, err, text)
		}
		return cp
	}
	if s := readyReplica(); s != "ok" {
		t.Fatalf("/readyz names the replica %q, want ok", s)
	}

	// Owners and viewers.
	type person struct{ iin, phone, token string }
	people := map[string]*person{}
	_, m := c.call("GET", "/v1/dev/citizens", "", nil)
	for _, x := range m["citizens"].([]any) {
		cz := x.(map[string]any)
		people[cz["iin"].(string)] = &person{iin: cz["iin"].(string), phone: cz["phone"].(string)}
	}
	signIn := func(p *person) {
		t0 := time.Now().UTC().Add(-time.Second)
		st, m := c.call("POST", "/v1/auth/otp", "", map[string]string{"iin": p.iin})
		if st != 202 {
			t.Fatalf("otp %s: %d %v", p.iin, st, m)
		}
		code := codeFrom(t, []string{base}, p.phone, t0)
		st, tok := c.call("POST", "/v1/auth/token", "", map[string]string{"challenge_id": m["challenge_id"].(string), "code": code})
		if st != 200 {
			t.Fatalf("token %s: %d %v", p.iin, st, tok)
		}
		p.token = tok["access_token"].(string)
	}
	owner := people["880412310009"]
	viewers := []*person{people["800519347947"], people["841030450658"]}
	for _, p := range append([]*person{owner}, viewers...) {
		signIn(p)
	}
	_, m = c.call("GET", "/v1/documents", owner.token, nil)
	var docs []string
	for _, d := range m["documents"].([]any) {
		docs = append(docs, d.(map[string]any)["id"].(string))
	}
	_, m = c.call("GET", "/v1/documents/"+docs[0], owner.token, nil)
	jws := m["jws"].(string)

	// Routing: with the replica caught up, the public reads are its own.
	waitUntil("the replica replays the sign-ins and documents", func() bool {
		return count(standby, "SELECT count(*) FROM log_leaves") == count(primary, "SELECT count(*) FROM log_leaves")
	})
	rep0, pri0 := served()
	if cp := checkpoint(); cp.Size != count(primary, "SELECT count(*) FROM log_leaves") {
		t.Fatalf("checkpoint of size %d", cp.Size)
	}
	if st, m := c.call("POST", "/v1/verify", "", map[string]string{"jws": jws}); st != 200 || m["valid"] != true {
		t.Fatalf("verify: %d %v", st, m)
	}
	if st, m := c.call("GET", "/.well-known/staff-keys.json", "", nil); st != 200 {
		t.Fatalf("staff keys: %d %v", st, m)
	}
	// One read for the checkpoint, two for the verification (the status
	// and the current version), one for the staff keys.
	if rep, pri := served(); rep != rep0+4 || pri != pri0 {
		t.Fatalf("a checkpoint, a verification and the staff keys: served by the replica %v → %v, by the primary %v → %v; want 4 by the replica",
			rep0, rep, pri0, pri)
	}

	// The replica's sessions say whose they are; the primary has none.
	lagTolerantSessions := "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'qujat-lag-tolerant-reads'"
	if n := count(standby, lagTolerantSessions); n == 0 {
		t.Errorf("no session of the service's lag-tolerant reads on the replica")
	}
	if n := count(primary, lagTolerantSessions); n != 0 {
		t.Errorf("%d sessions of the lag-tolerant reads on the primary", n)
	}

	// The replica stops replaying: a share opened now exists only on the
	// primary, and is redeemed there exactly once, while the checkpoint
	// the service publishes is still the replica's.
	if err := standby.Exec("", "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	behind := count(standby, "SELECT count(*) FROM log_leaves")
	st, sh := c.call("POST", "/v1/documents/"+docs[0]+"/shares", owner.token, map[string]any{"max_views": 1})
	if st != 201 {
		t.Fatalf("share: %d %v", st, sh)
	}
	st, red := c.call("POST", "/v1/shares/redeem", viewers[0].token, map[string]string{"token": sh["token"].(string)})
	if st != 200 {
		t.Fatalf("redeem while the replica is behind: %d %v", st, red)
	}
	if st, m := c.call("POST", "/v1/shares/redeem", viewers[1].token, map[string]string{"token": sh["token"].(string)}); st != 410 {
		t.Fatalf("second redemption of a single-use share: %d %v, want 410", st, m)
	}
	if n := count(standby, "SELECT count(*) FROM shares WHERE id = '"+sh["id"].(string)+"'"); n != 0 {
		t.Fatalf("the paused replica has the new share (%d): the test proves nothing", n)
	}
	if cp := checkpoint(); cp.Size != behind {
		t.Fatalf("the service published a checkpoint of size %d, want the paused replica's %d", cp.Size, behind)
	}
	// The viewer's new leaf is read from the primary (the replica lacks it).
	_, views := c.call("GET", "/v1/views?as=viewer", viewers[0].token, nil)
	index := int64(views["views"].([]any)[0].(map[string]any)["log_index"].(float64))
	if index < behind {
		t.Fatalf("the new view's leaf %d is below the replica's size %d", index, behind)
	}
	if st, m := c.call("GET", fmt.Sprintf("/v1/log/leaves/%d", index), viewers[0].token, nil); st != 200 {
		t.Fatalf("the new view's leaf while the replica is behind: %d %v", st, m)
	}
	if err := standby.Exec("", "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}

	// The replica goes down: the service stays ready and names it, shares
	// are opened and redeemed once, and the primary publishes the log.
	standby.Stop()
	waitUntil("/readyz to name the replica unavailable", func() bool { return readyReplica() == "unavailable" })
	st, sh = c.call("POST", "/v1/documents/"+docs[0]+"/shares", owner.token, map[string]any{"max_views": 1})
	if st != 201 {
		t.Fatalf("share with the replica down: %d %v", st, sh)
	}
	if st, red := c.call("POST", "/v1/shares/redeem", viewers[1].token, map[string]string{"token": sh["token"].(string)}); st != 200 {
		t.Fatalf("redeem with the replica down: %d %v", st, red)
	}
	if st, m := c.call("POST", "/v1/shares/redeem", viewers[0].token, map[string]string{"token": sh["token"].(string)}); st != 410 {
		t.Fatalf("second redemption with the replica down: %d %v, want 410", st, m)
	}
	if cp := checkpoint(); cp.Size != count(primary, "SELECT count(*) FROM log_leaves") {
		t.Fatalf("replica down: checkpoint of size %d, want the primary's", cp.Size)
	}
	standby.Restart()
	waitUntil("the restarted replica serves again", func() bool { return readyReplica() == "ok" })

	// The load, and the promotion in its middle.
	// Workers issue and redeem until told to stop: some shares before the
	// promotion, some while it happens, some after it is seen.
	const workers, each = 4, 16
	var (
		mu       sync.Mutex
		released = map[string]int{}
		bad      []string
		issued   atomic.Int64
		reads    atomic.Int64
		stop     = make(chan struct{})
		enough   = make(chan struct{})
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		bad = append(bad, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var wg, readers sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; ; r++ {
				select {
				case <-enough:
					return
				default:
				}
				doc := docs[(w+r)%len(docs)]
				st, sh := post(base, "/v1/documents/"+doc+"/shares", owner.token, map[string]any{"max_views": 1})
				if st != 201 {
					fail("issue: %d %v", st, sh)
					continue
				}
				issued.Add(1)
				var rw sync.WaitGroup
				for _, v := range viewers {
					rw.Add(1)
					go func() {
						defer rw.Done()
						st, red := post(base, "/v1/shares/redeem", v.token, map[string]string{"token": sh["token"].(string)})
						switch st {
						case 200:
							mu.Lock()
							released[sh["id"].(string)]++
							mu.Unlock()
						case 410:
						default:
							fail("redeem: %d %v", st, red)
						}
					}()
				}
				rw.Wait()
			}
		}()
	}
	// Public reads all along: checkpoints, proofs over them, verification.
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := http.Get(base + "/v1/log/checkpoint")
			if err != nil {
				fail("checkpoint: %v", err)
				return
			}
			text, _ := io.ReadAll(res.Body)
			res.Body.Close()
			cp, err := historylog.ParseCheckpoint(text)
			if err != nil || res.StatusCode != 200 {
				fail("checkpoint: %d %v", res.StatusCode, err)
				continue
			}
			if cp.Size > 1 {
				res, err := http.Get(fmt.Sprintf("%s/v1/log/proof/inclusion?index=%d&size=%d", base, cp.Size-1, cp.Size))
				if err != nil || res.StatusCode != 200 {
					fail("inclusion proof in %d: %v %v", cp.Size, res, err)
				} else {
					res.Body.Close()
				}
			}
			if st, m := post(base, "/v1/verify", "", map[string]string{"jws": jws}); st != 200 || m["valid"] != true {
				fail("verify: %d %v", st, m)
			}
			reads.Add(1)
		}
	}()
	waitUntil("shares issued before the promotion", func() bool { return issued.Load() >= each })
	beforePromotion, _ := served()
	before := issued.Load()
	standby.Promote()
	waitUntil("/readyz to name the replica promoted", func() bool { return readyReplica() == "promoted" })
	seenAt := issued.Load()
	// A read that went to the replica just before the promotion was seen
	// has ended (or given up) within the replica's read timeout, 2 s.
	time.Sleep(2500 * time.Millisecond)
	repAt, priAt := served()
	readsAt := reads.Load()
	waitUntil("shares issued after the promotion is seen", func() bool { return issued.Load() >= seenAt+each })
	close(enough)
	waitUntil("public reads after the promotion is seen", func() bool { return reads.Load() >= readsAt+5 })
	wg.Wait()
	close(stop)
	readers.Wait()
	t.Logf("shares issued: %d before the promotion, %d while it happened, %d after it was seen",
		before, seenAt-before, issued.Load()-seenAt)

	for _, b := range bad {
		t.Error(b)
	}
	for id, n := range released {
		if n != 1 {
			t.Errorf("single-use share %s released %d times", id, n)
		}
	}
	if int64(len(released)) != issued.Load() {
		t.Errorf("%d shares issued, %d released once (a use lost)", issued.Load(), len(released))
	}
	if beforePromotion <= rep0+4 {
		t.Errorf("the replica served %v lag-tolerant reads before the promotion, no more than before the load", beforePromotion)
	}
	rep, pri := served()
	if rep != repAt || pri <= priAt {
		t.Errorf("after the promotion: served by the replica %v → %v, by the primary %v → %v; want the primary alone", repAt, rep, priAt, pri)
	}
	// Every read comes from the primary now: its checkpoint, with proofs.
	leaves := count(primary, "SELECT count(*) FROM log_leaves")
	cp := checkpoint()
	if cp.Size != leaves {
		t.Errorf("checkpoint of size %d after the promotion, want the primary's %d", cp.Size, leaves)
	}
	_, proof := c.call("GET", fmt.Sprintf("/v1/log/proof/inclusion?index=%d&size=%d", index, cp.Size), "", nil)
	var p tlog.RecordProof
	for _, h := range proof["proof"].([]any) {
		b, _ := base64.StdEncoding.DecodeString(h.(string))
		var hh tlog.Hash
		copy(hh[:], b)
		p = append(p, hh)
	}
	var lh tlog.Hash
	b, _ := base64.StdEncoding.DecodeString(proof["leaf_hash"].(string))
	copy(lh[:], b)
	if err := tlog.CheckRecord(p, cp.Size, cp.Root, index, lh); err != nil {
		t.Errorf("inclusion proof of leaf %d in the checkpoint after the promotion: %v", index, err)
	}
	// The writes went on to QUJAT_DATABASE_URL: the promoted server does
	// not have them.
	if promoted := count(standby, "SELECT count(*) FROM log_leaves"); promoted >= leaves {
		t.Errorf("the promoted server has %d leaves, the primary %d", promoted, leaves)
	}
	if out, err := audit(t, env); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	t.Logf("%d shares released once; lag-tolerant reads: %v by the replica, %v by the primary; log of %d leaves",
		len(released), rep, pri, leaves)

	// A replica that is down when the service starts does not stop it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := fmt.Sprintf("postgres://qujat@%s/postgres?sslmode=disable", l.Addr())
	l.Close()
	env2 := map[string]string{}
	for k, v := range env {
		env2[k] = v
	}
	env2["QUJAT_DATABASE_REPLICA_URL"] = nowhere
	base = startService(t, env2)
	c = client{t, base}
	if s := readyReplica(); s != "unavailable" {
		t.Errorf("a service started without its replica: /readyz names it %q, want unavailable", s)
	}
	if cp := checkpoint(); cp.Size != leaves {
		t.Errorf("a service started without its replica: checkpoint of size %d, want %d", cp.Size, leaves)
	}
}

// The replica's settings are checked with the rest: a replica needs a
// primary, a postgres URL, and a positive lag bound; every problem is
// reported at once. A replica that cannot be reached is not a problem
// (the primary serves its reads).
func TestConfig_ReplicaNeedsAPrimaryAndAPostgresURL(t *testing.T) {
	validate := func(env map[string]string) error {
		t.Helper()
		cfg, err := loadConfig(func(k string) string { return env[k] }, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Validate()
	}
	ok := map[string]string{"QUJAT_DATABASE_URL": "postgres://h/db", "QUJAT_REDIS_URL": "redis://h:6379/0",
		"QUJAT_DATABASE_REPLICA_URL": "postgres://r/db", "QUJAT_DATABASE_REPLICA_MAX_LAG": "500ms"}
	if err := validate(ok); err != nil {
		t.Fatalf("a primary and its replica: %v", err)
	}
	err := validate(map[string]string{"QUJAT_DATABASE_REPLICA_URL": "mysql://r/db", "QUJAT_DATABASE_REPLICA_MAX_LAG": "-1s"})
	for _, want := range []string{"QUJAT_DATABASE_REPLICA_URL: want postgres://", "QUJAT_DATABASE_REPLICA_MAX_LAG"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a bad URL and lag bound: %v, want %q", err, want)
		}
	}
	err = validate(map[string]string{"QUJAT_DATABASE_REPLICA_URL": "postgres://r/db"})
	if err == nil || !strings.Contains(err.Error(), "needs QUJAT_DATABASE_URL") {
		t.Errorf("a replica without a primary: %v", err)
	}
	env := map[string]string{"QUJAT_DATABASE_REPLICA_URL": "postgres://r/db", "QUJAT_DATA_DIR": t.TempDir()}
	if err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "QUJAT_DATABASE_URL") {
		t.Fatalf("serve with a replica and no primary: %v", err)
	}
}
