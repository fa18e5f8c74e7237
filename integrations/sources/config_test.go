package sources_test

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/wallet"
)

func TestParseConfig_ReadsSourceURLPairs(t *testing.T) {
	cfg, err := sources.ParseConfig(" population=http://127.0.0.1:9090/ , transport=https://10.0.0.5:8443/api,education=http://127.0.0.1:9091")
	if err != nil {
		t.Fatal(err)
	}
	want := []sources.Registry{
		{Source: "population", BaseURL: "http://127.0.0.1:9090"},
		{Source: "transport", BaseURL: "https://10.0.0.5:8443/api"},
		{Source: "education", BaseURL: "http://127.0.0.1:9091"},
	}
	if jsonOf(t, cfg.Registries) != jsonOf(t, want) {
		t.Errorf("got %+v, want %+v", cfg.Registries, want)
	}
}

func TestParseConfig_OneURLServesEverySource(t *testing.T) {
	cfg, err := sources.ParseConfig("http://127.0.0.1:9090")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Registries) != len(sources.SourceNames()) {
		t.Errorf("got %+v", cfg.Registries)
	}
}

func TestParseConfig_EmptyMeansTheDemo(t *testing.T) {
	cfg, err := sources.ParseConfig("  ")
	if err != nil || cfg.Enabled() {
		t.Errorf("got %+v, %v; want an empty config", cfg, err)
	}
}

func TestParseConfig_ReportsEveryProblemAtOnce(t *testing.T) {
	_, err := sources.ParseConfig("transport=ftp://x,transport=http://a,weather=http://b,education,education=http://user:pw@c")
	if !wallet.IsCode(err, wallet.EINVALID) {
		t.Fatalf("%v, want %s", err, wallet.EINVALID)
	}
	msg := wallet.ErrorMessage(err)
	for _, want := range []string{"ftp://x", "listed twice", `unknown source "weather"`, `"education" is not source=url`, "credentials", "no population entry"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "pw") {
		t.Errorf("%q repeats a password", msg)
	}
}

func TestConfigFromEnv_RequiresASecretWithRegistries(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := sources.ConfigFromEnv(env(map[string]string{"QUJAT_SOURCES": "http://127.0.0.1:9090"})); !wallet.IsCode(err, wallet.EINVALID) {
		t.Errorf("no secret: %v, want %s", err, wallet.EINVALID)
	}
	_, err := sources.ConfigFromEnv(env(map[string]string{"QUJAT_SOURCES": "weather=x", "QUJAT_SOURCES_SECRET": "short"}))
	if msg := wallet.ErrorMessage(err); !strings.Contains(msg, "weather") || !strings.Contains(msg, "shorter") {
		t.Errorf("%q: want both problems", msg)
	}
	cfg, err := sources.ConfigFromEnv(env(map[string]string{"QUJAT_SOURCES": "http://127.0.0.1:9090", "QUJAT_SOURCES_SECRET": testSecret}))
	if err != nil || cfg.Secret != testSecret || !cfg.Enabled() {
		t.Errorf("got %+v, %v", cfg, err)
	}
	cfg, err = sources.ConfigFromEnv(env(nil))
	if err != nil || cfg.Enabled() {
		t.Errorf("nothing set: %+v, %v; want the demo", cfg, err)
	}
}

func TestConfig_NewClientsServesEverySourceAndTheDirectory(t *testing.T) {
	demo := loadDemo(t)
	srv := startSim(t, demo, sources.SimOptions{})
	cfg, err := sources.ConfigFromEnv(func(k string) string {
		return map[string]string{"QUJAT_SOURCES": srv.URL, "QUJAT_SOURCES_SECRET": testSecret}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	srcs, dir, err := cfg.NewClients(sources.ClientConfig{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	iin := richestAdult(t, demo)
	for _, s := range srcs {
		if rs, err := s.Records(t.Context(), iin); err != nil || len(rs) == 0 {
			t.Errorf("%s: %d records, %v", s.Name(), len(rs), err)
		}
	}
	if c, err := dir.Citizen(t.Context(), iin); err != nil || c.IIN != iin {
		t.Errorf("Citizen: %+v, %v", c, err)
	}
}

func TestSimFlags_ReadPerSourceSettings(t *testing.T) {
	var opts sources.SimOptions
	fs := flag.NewFlagSet("registry-sim", flag.ContinueOnError)
	fs.Var(&opts.Latency, "latency", "")
	fs.Var(&opts.FailRate, "fail-rate", "")
	fs.Var(&opts.Fail, "fail", "")
	fs.Var(&opts.Garbage, "garbage", "")
	err := fs.Parse([]string{"--latency", "transport=3s", "--latency", "education=1s,population=250ms",
		"--fail", "education", "--garbage", "all", "--fail-rate", "population=0.25"})
	if err != nil {
		t.Fatal(err)
	}
	if got := opts.Latency.String(); got != "education=1s,population=250ms,transport=3s" {
		t.Errorf("latency %s", got)
	}
	if !opts.Fail[sources.Education] || opts.Fail[sources.Transport] {
		t.Errorf("fail %s", opts.Fail)
	}
	if len(opts.Garbage) != 3 {
		t.Errorf("garbage %s", opts.Garbage)
	}
	if opts.FailRate[sources.Population] != 0.25 {
		t.Errorf("fail rate %s", opts.FailRate)
	}
}

func TestSimFlags_RefuseBadValuesNamingEachProblem(t *testing.T) {
	_, err := sources.ParseSourceDurations("transport=fast,weather=1s,education=-1s,population")
	msg := wallet.ErrorMessage(err)
	for _, want := range []string{"fast", "weather", "-1s", "population"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not mention %q", msg, want)
		}
	}
	if _, err := sources.ParseSourceRates("transport=1.5"); !wallet.IsCode(err, wallet.EINVALID) {
		t.Errorf("rate 1.5: %v", err)
	}
	if _, err := sources.ParseSourceSet("education,weather"); !wallet.IsCode(err, wallet.EINVALID) {
		t.Errorf("set with weather: %v", err)
	}
	if d, err := sources.ParseSourceDurations("transport=3s,education=1s"); err != nil || d[sources.Transport] != 3*time.Second {
		t.Errorf("got %v, %v", d, err)
	}
}
