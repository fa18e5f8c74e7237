package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet/wallettest"
)

// roundRobin is the test's load balancer: each request goes to the next
// instance.
func roundRobin(t *testing.T, bases []string) string {
	t.Helper()
	proxies := make([]*httputil.ReverseProxy, len(bases))
	for i, b := range bases {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
	}
	var next atomic.Uint64
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[next.Add(1)%uint64(len(proxies))].ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)
	return lb.URL
}

// codeFrom finds the newest code sent to phone in any instance's
// development outbox: the instance whose worker delivered it holds it.
func codeFrom(t *testing.T, bases []string, phone string, after time.Time) string {
	t.Helper()
	for range 200 {
		for _, b := range bases {
			_, m := client{t, b}.call("GET", "/v1/dev/sms?to="+url.QueryEscape(phone), "", nil)
			msgs, _ := m["messages"].([]any)
			for _, x := range msgs {
				msg := x.(map[string]any)
				at, _ := time.Parse(time.RFC3339Nano, msg["at"].(string))
				if !at.Before(after) {
					if code := code6.FindString(msg["text"].(string)); code != "" {
						return code
					}
				}
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no code for %s from any instance", phone)
	return ""
}

// Three instances of `qujat serve` (the whole program, each with its own
// pools, caches and log sequencer) on one PostgreSQL and one Redis, behind a
// round-robin balancer, take concurrent issuance and racing redemptions.
// Afterwards: no single-use share released twice, every 200 has its view
// with its log leaf in both histories, `qujat audit verify` passes, and the
// checkpoints the three instances publish are each a prefix of the
// largest (consistency proofs check).
func TestServe_ThreeInstancesOneLog(t *testing.T) {
	skipIfShort(t)
	env := map[string]string{
		"QUJAT_DATABASE_URL":  wallettest.PostgresSchemaURL(t),
		"QUJAT_REDIS_URL":     shortlivedtest.RedisURL(t),
		"QUJAT_REDIS_PREFIX":  shortlivedtest.UniquePrefix(t),
		"QUJAT_DATA_DIR":      t.TempDir(), // the keys: made by the first, read by the others
		"QUJAT_DEV":           "1",
		"QUJAT_DEV_UNLIMITED": "1",
	}
	copyEnv := func() map[string]string {
		m := make(map[string]string, len(env))
		for k, v := range env {
			m[k] = v
		}
		return m
	}
	bases := []string{startService(t, copyEnv())}
	bases = append(bases, startService(t, copyEnv()), startService(t, copyEnv()))
	lb := roundRobin(t, bases)
	c := client{t, lb}

	// Owners and viewers, signed in through the balancer.
	_, m := c.call("GET", "/v1/dev/citizens", "", nil)
	type person struct{ iin, phone, token string }
	var owners, viewers []person
	for _, x := range m["citizens"].([]any) {
		cz := x.(map[string]any)
		p := person{iin: cz["iin"].(string), phone: cz["phone"].(string)}
		switch p.iin {
		case "880412310009", "900903412710":
			owners = append(owners, p)
		case "800519347947", "841030450658", "750705337106", "781225439811":
			viewers = append(viewers, p)
		}
	}
	signIn := func(p *person) {
		t0 := time.Now().UTC().Add(-time.Second)
		st, m := c.call("POST", "/v1/auth/otp", "", map[string]string{"iin": p.iin})
		if st != 202 {
			t.Fatalf("otp %s: %d %v", p.iin, st, m)
		}
		code := codeFrom(t, bases, p.phone, t0)
		st, tok := c.call("POST", "/v1/auth/token", "", map[string]string{"challenge_id": m["challenge_id"].(string), "code": code})
		if st != 200 {
			t.Fatalf("token %s: %d %v", p.iin, st, tok)
		}
		p.token = tok["access_token"].(string)
	}
	for i := range owners {
		signIn(&owners[i])
	}
	for i := range viewers {
		signIn(&viewers[i])
	}
	if len(owners) != 2 || len(viewers) != 4 {
		t.Fatalf("owners %d, viewers %d", len(owners), len(viewers))
	}
	docsOf := map[string][]string{}
	for _, o := range owners {
		_, m := c.call("GET", "/v1/documents", o.token, nil)
		for _, d := range m["documents"].([]any) {
			docsOf[o.iin] = append(docsOf[o.iin], d.(map[string]any)["id"].(string))
		}
	}

	// The load: workers issue single-use shares and have two viewers
	// race for each, through the balancer.
	const workers, rounds = 8, 12
	var (
		mu       sync.Mutex
		released = map[string]int{}  // share id → 200s
		views    = map[string]bool{} // view ids answered with 200
		bad      []string
		issued   atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		bad = append(bad, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	// Meanwhile, the checkpoints each instance publishes are sampled.
	type cp struct {
		base string
		c    historylog.Checkpoint
	}
	var (
		cps      []cp
		sampling = make(chan struct{})
		sampled  sync.WaitGroup
	)
	checkpoint := func(b string) (historylog.Checkpoint, error) {
		res, err := http.Get(b + "/v1/log/checkpoint")
		if err != nil {
			return historylog.Checkpoint{}, err
		}
		defer res.Body.Close()
		text, _ := io.ReadAll(res.Body)
		return historylog.ParseCheckpoint(text)
	}
	sampled.Add(1)
	go func() {
		defer sampled.Done()
		for i := 0; ; i++ {
			select {
			case <-sampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			b := bases[i%len(bases)]
			c, err := checkpoint(b)
			if err != nil {
				fail("checkpoint of %s: %v", b, err)
				return
			}
			mu.Lock()
			cps = append(cps, cp{b, c})
			mu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				o := owners[(w+r)%len(owners)]
				doc := docsOf[o.iin][r%len(docsOf[o.iin])]
				st, sh := post(lb, "/v1/documents/"+doc+"/shares", o.token, map[string]any{"max_views": 1})
				if st != 201 {
					fail("issue: %d %v", st, sh)
					continue
				}
				issued.Add(1)
				var rw sync.WaitGroup
				for k := range 2 {
					v := viewers[(w+r+k)%len(viewers)]
					rw.Add(1)
					go func() {
						defer rw.Done()
						st, red := post(lb, "/v1/shares/redeem", v.token, map[string]string{"token": sh["token"].(string)})
						switch {
						case st == 200:
							mu.Lock()
							released[sh["id"].(string)]++
							views[red["view_id"].(string)] = true
							mu.Unlock()
						case st == 410:
							// used by the other viewer
						default:
							fail("redeem: %d %v", st, red)
						}
					}()
				}
				rw.Wait()
			}
		}()
	}
	wg.Wait()
	close(sampling)
	sampled.Wait()
	for _, b := range bad {
		t.Error(b)
	}
	for id, n := range released {
		if n > 1 {
			t.Errorf("single-use share %s released %d times", id, n)
		}
	}
	// Nothing failed here: each share's one use went to one of the two.
	if int64(len(released)) != issued.Load() {
		t.Errorf("%d of %d shares were released (a use lost)", len(released), issued.Load())
	}
	// Every 200 is a view with its leaf, in the owners' histories.
	seen := map[string]bool{}
	for _, o := range owners {
		_, m := c.call("GET", "/v1/views?as=owner", o.token, nil)
		for _, x := range m["views"].([]any) {
			v := x.(map[string]any)
			if v["log_index"] == nil {
				t.Errorf("view %v without its log index", v["id"])
			}
			seen[v["id"].(string)] = true
		}
	}
	for id := range views {
		if !seen[id] {
			t.Errorf("a 200 answered view %s, which no owner's history shows", id)
		}
	}

	// Every checkpoint an instance published, during the load and after
	// it, is a prefix of the log as the last one sees it.
	for _, b := range bases {
		c, err := checkpoint(b)
		if err != nil {
			t.Fatalf("checkpoint of %s: %v", b, err)
		}
		cps = append(cps, cp{b, c})
	}
	sort.SliceStable(cps, func(i, j int) bool { return cps[i].c.Size < cps[j].c.Size })
	last := cps[len(cps)-1]
	sizes := map[int64]bool{}
	for _, x := range cps[:len(cps)-1] {
		sizes[x.c.Size] = true
		if x.c.Size == last.c.Size {
			if x.c.Root != last.c.Root {
				t.Errorf("two checkpoints of size %d with different roots", x.c.Size)
			}
			continue
		}
		_, m := client{t, last.base}.call("GET", fmt.Sprintf("/v1/log/proof/consistency?from=%d&to=%d", x.c.Size, last.c.Size), "", nil)
		var proof tlog.TreeProof
		for _, h := range m["proof"].([]any) {
			b, _ := base64.StdEncoding.DecodeString(h.(string))
			var hh tlog.Hash
			copy(hh[:], b)
			proof = append(proof, hh)
		}
		if err := tlog.CheckTree(proof, last.c.Size, last.c.Root, x.c.Size, x.c.Root); err != nil {
			t.Errorf("a checkpoint of %s, size %d, is not a prefix of size %d: %v", x.base, x.c.Size, last.c.Size, err)
		}
	}
	if len(sizes) < 3 {
		t.Errorf("only %d distinct checkpoint sizes were sampled during the load", len(sizes))
	}
	t.Logf("%d shares released once, %d views; %d checkpoints sampled (%d sizes), the last of size %d",
		len(released), len(seen), len(cps), len(sizes), last.c.Size)

	// The audit of the whole store.
	if out, err := audit(t, copyEnv()); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}

// post is a concurrent-safe JSON POST (client.call fails the test from
// the goroutine that calls it, which must be the test's).
func post(base, path, token string, body any) (int, map[string]any) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"body": strings.TrimSpace(string(raw))}
	}
	return res.StatusCode, m
}
