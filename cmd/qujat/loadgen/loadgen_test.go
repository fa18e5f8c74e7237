package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestPercentile_NearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}, {0.1, time.Millisecond}}
	for _, c := range cases {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("Percentile(1..100ms, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 99); got != 0 {
		t.Errorf("Percentile(empty) = %v, want 0", got)
	}
	one := []time.Duration{7 * time.Millisecond}
	for _, p := range []float64{1, 50, 99, 100} {
		if got := Percentile(one, p); got != 7*time.Millisecond {
			t.Errorf("Percentile(one value, %v) = %v", p, got)
		}
	}
	// Nearest rank: p99 of 10 values is the 10th, p50 the 5th.
	ten := d[:10]
	if got := Percentile(ten, 99); got != 10*time.Millisecond {
		t.Errorf("p99 of 10 = %v, want 10ms", got)
	}
	if got := Percentile(ten, 50); got != 5*time.Millisecond {
		t.Errorf("p50 of 10 = %v, want 5ms", got)
	}
}

func TestSummarize_MergesWorkersAndCountsErrorsByStatus(t *testing.T) {
	a, b := &tally{}, &tally{}
	for i := 1; i <= 50; i++ {
		a.add(time.Duration(i)*time.Millisecond, 200, true)
		b.add(time.Duration(50+i)*time.Millisecond, 200, true)
	}
	a.add(time.Millisecond, 503, false)
	b.add(time.Millisecond, 0, false)
	b.add(time.Millisecond, 503, false)
	r := summarize("x", 2*time.Second, []*tally{a, b})
	if r.Requests != 103 || r.OK != 100 {
		t.Fatalf("requests %d ok %d, want 103 and 100", r.Requests, r.OK)
	}
	if r.OKPerSecond != 50 || r.RPS != 51.5 {
		t.Errorf("ok/s %v req/s %v, want 50 and 51.5", r.OKPerSecond, r.RPS)
	}
	if r.Errors["503"] != 2 || r.Errors["0"] != 1 || len(r.Errors) != 2 {
		t.Errorf("errors %v", r.Errors)
	}
	if r.ServerErrors() != 2 {
		t.Errorf("ServerErrors = %d, want 2", r.ServerErrors())
	}
	if got := r.ErrorStatuses(); strings.Join(got, ",") != "0,503" {
		t.Errorf("ErrorStatuses = %v", got)
	}
	if r.MaxMS != 100 {
		t.Errorf("max %v ms, want 100", r.MaxMS)
	}
}

func TestCheckLoopback_RefusesEveryHostButLoopback(t *testing.T) {
	good := map[string]string{
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/":       "http://127.0.0.1:8080",
		"http://127.1.2.3:1":           "http://127.1.2.3:1",
		"https://[::1]:8443":           "https://[::1]:8443",
		"http://[::ffff:127.0.0.1]:80": "http://[::ffff:127.0.0.1]:80",
	}
	for in, want := range good {
		got, err := CheckLoopback(in)
		if err != nil || got != want {
			t.Errorf("CheckLoopback(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"http://10.0.0.1:8080", "http://192.168.1.2", "http://0.0.0.0:8080", "http://[::]:8080",
		"http://example.com", "http://localhost.example.com:8080", "http://127.0.0.1.nip.io",
		"ftp://127.0.0.1", "127.0.0.1:8080", "http://user:pw@127.0.0.1:8080",
		"http://127.0.0.1:8080/v1", "http://127.0.0.1:8080?x=1", "http://:8080", "::",
	}
	for _, in := range bad {
		if got, err := CheckLoopback(in); err == nil {
			t.Errorf("CheckLoopback(%q) = %q, nil; want a refusal", in, got)
		}
	}
}

func TestIsLoopbackHost_LocalhostOnlyWhenEveryAddressIsLoopback(t *testing.T) {
	lookup := func(addrs ...string) func(context.Context, string) ([]net.IPAddr, error) {
		return func(context.Context, string) ([]net.IPAddr, error) {
			var out []net.IPAddr
			for _, a := range addrs {
				out = append(out, net.IPAddr{IP: net.ParseIP(a)})
			}
			return out, nil
		}
	}
	if !isLoopbackHost("localhost", lookup("127.0.0.1", "::1")) {
		t.Error("localhost resolving to 127.0.0.1 and ::1 refused")
	}
	if isLoopbackHost("localhost", lookup("127.0.0.1", "203.0.113.5")) {
		t.Error("localhost resolving to a public address accepted")
	}
	if isLoopbackHost("localhost", func(context.Context, string) ([]net.IPAddr, error) { return nil, errors.New("no") }) {
		t.Error("localhost that does not resolve accepted")
	}
	if isLoopbackHost("myhost", lookup("127.0.0.1")) {
		t.Error("a name other than localhost accepted")
	}
}

func TestParsePhases(t *testing.T) {
	ps, err := ParsePhases(DefaultPhases)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name())
	}
	if got := strings.Join(names, ","); got != DefaultPhases {
		t.Errorf("names %q, want %q", got, DefaultPhases)
	}
	if ps[5].Kind != PhaseRedeemToken || ps[5].Fraction != 0.7 {
		t.Errorf("paced phase %+v", ps[5])
	}
	ps, err = ParsePhases(" list , qr,,redeem-token, redeem-token@70% ")
	if err != nil || len(ps) != 4 || ps[0].Kind != PhaseList || ps[3].Fraction != 0.7 {
		t.Errorf("ParsePhases with spaces and percent = %+v, %v", ps, err)
	}
	for _, bad := range []string{"", " , ", "issue,nope", "redeem-token@0.7", "issue,issue", "issue@0", "issue,issue@1.5", "issue,issue@x", "ISSUE"} {
		if ps, err := ParsePhases(bad); err == nil {
			t.Errorf("ParsePhases(%q) = %+v, want an error", bad, ps)
		}
	}
}

func TestReport_JSONHasEveryFigure(t *testing.T) {
	r := &Report{URL: "http://127.0.0.1:8080", Concurrency: 4, DurationS: 1, CPUs: 2, CommitBaseline: BaselineSQLite,
		Baselines: []Result{{Name: BaselineSQLite, Requests: 10, OK: 10, OKPerSecond: 1000, P99ms: 2}},
		Phases: []Result{{Name: "redeem-token", Requests: 5, OK: 4, OKPerSecond: 600, P50ms: 1, P95ms: 2, P99ms: 3,
			Errors: map[string]int{"410": 1}, Ratios: map[string]float64{BaselineSQLite: 0.6}}}}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Baselines []map[string]any `json:"baselines"`
		Phases    []map[string]any `json:"phases"`
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	p := back.Phases[0]
	for _, k := range []string{"name", "requests", "ok", "rps", "ok_per_second", "p50_ms", "p95_ms", "p99_ms", "errors", "ratios"} {
		if _, ok := p[k]; !ok {
			t.Errorf("phase JSON lacks %q: %v", k, p)
		}
	}
	if p["errors"].(map[string]any)["410"] != float64(1) || p["ratios"].(map[string]any)[BaselineSQLite] != 0.6 {
		t.Errorf("phase JSON %v", p)
	}
	buf.Reset()
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"redeem-token", "410:1", "0.60", BaselineSQLite} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestLoop_StopsAtTheDurationAndWhenExhausted(t *testing.T) {
	start := time.Now()
	r := loop(context.Background(), "t", 3, 200*time.Millisecond, 0, nil, func(ctx context.Context, w int) (int, bool, bool) {
		time.Sleep(time.Millisecond)
		return 200, true, false
	})
	if el := time.Since(start); el > 2*time.Second || r.OK == 0 || r.Exhausted {
		t.Errorf("closed loop: %v elapsed, %+v", el, r)
	}
	left := 10
	var mu = make(chan struct{}, 1)
	r = loop(context.Background(), "t", 2, 10*time.Second, 0, nil, func(ctx context.Context, w int) (int, bool, bool) {
		mu <- struct{}{}
		defer func() { <-mu }()
		if left == 0 {
			return 0, false, true
		}
		left--
		return 200, true, false
	})
	if r.OK != 10 || !r.Exhausted || r.Seconds > 5 {
		t.Errorf("exhausted loop: %+v", r)
	}
	r = loop(context.Background(), "t", 2, 300*time.Millisecond, 100, nil, func(ctx context.Context, w int) (int, bool, bool) {
		return 500, false, false
	})
	if r.Requests < 20 || r.Requests > 32 || r.PacedAt != 100 || r.Errors["500"] != r.Requests {
		t.Errorf("paced loop at 100/s for 0.3s: %+v", r)
	}
}
