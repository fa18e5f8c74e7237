package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// Limits of a run.
const (
	MaxDuration    = 2 * time.Minute // per phase: shares (600 s) and tokens (15 min) outlive a phase
	MaxConcurrency = 512
	maxPool        = 300_000 // shares issued ahead for one phase, at most
	// qrPoolSize is more shares than the service's QR cache holds (256
	// images), cycled through so that each request draws an image.
	qrPoolSize = 512
)

// Config is what a run is asked to do.
type Config struct {
	URL         string        // base URL of the service (loopback only)
	Duration    time.Duration // of each phase and baseline
	Concurrency int           // workers of each phase and baseline
	Phases      []Phase
	// Servers of the baselines: PostgreSQL when DatabaseURL is set, else an
	// SQLite scratch file (at SQLitePath, or in a fresh directory under
	// ScratchDir); Redis when RedisURL is set.
	DatabaseURL string
	RedisURL    string
	SQLitePath  string
	ScratchDir  string
	// Pool, if positive, is how many shares to have ready before each
	// redemption phase run closed-loop (default: estimated from the rates
	// seen so far).
	Pool int
	// Citizens is how many demo citizens to sign in (default 12): each
	// sign-in spends one of the phone's five codes an hour and one of the
	// address's sign-in requests.
	Citizens int
	// NoBaselines skips the baselines.
	NoBaselines bool
	// PGStats reads PostgreSQL's counters (DatabaseURL's database) around
	// each phase, waiting PGSettle (DefaultPGSettle if zero) before each
	// reading, and reports them per successful operation.
	PGStats  bool
	PGSettle time.Duration
	// Progress receives a line per second and notes on preparation; nil
	// discards them.
	Progress io.Writer
}

// Report is the outcome of a run.
type Report struct {
	URL         string    `json:"url"`
	Started     time.Time `json:"started"`
	Concurrency int       `json:"concurrency"`
	DurationS   float64   `json:"duration_s"`
	CPUs        int       `json:"cpus"`
	GoVersion   string    `json:"go_version"`
	Owners      int       `json:"owners"`
	Viewers     int       `json:"viewers"`
	Baselines   []Result  `json:"baselines"`
	Phases      []Result  `json:"phases"`
	// CommitBaseline names the baseline that bounds issuance and
	// redemption (each commits at least one row).
	CommitBaseline string   `json:"commit_baseline,omitempty"`
	Notes          []string `json:"notes,omitempty"`
}

func (c *Config) validate() error {
	if c.Duration < 100*time.Millisecond || c.Duration > MaxDuration {
		return fmt.Errorf("--duration must be between 100ms and %s", MaxDuration)
	}
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		return fmt.Errorf("--concurrency must be between 1 and %d", MaxConcurrency)
	}
	if len(c.Phases) == 0 {
		return errors.New("no phases")
	}
	if c.Citizens == 0 {
		c.Citizens = 12
	}
	if c.Citizens < 2 || c.Citizens > 64 {
		return fmt.Errorf("--citizens must be between 2 and 64")
	}
	if c.PGStats && c.DatabaseURL == "" {
		return errors.New("--pg-stats needs the service's PostgreSQL (--database-url or QUJAT_DATABASE_URL)")
	}
	if c.Pool < 0 || c.Pool > maxPool {
		return fmt.Errorf("--pool must be between 0 and %d", maxPool)
	}
	base, err := CheckLoopback(c.URL)
	if err != nil {
		return err
	}
	c.URL = base
	return nil
}

// Run prepares citizens, measures the baselines, then runs the phases.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	rep := &Report{
		URL: cfg.URL, Started: time.Now().UTC().Truncate(time.Second), Concurrency: cfg.Concurrency,
		DurationS: cfg.Duration.Seconds(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
	}
	a := newAPI(cfg.URL, cfg.Concurrency)
	defer a.close()

	// Citizens: owners have documents; viewers are the others, so that no
	// viewer ever meets a share of their own.
	fmt.Fprintf(progress, "bench: signing the demo citizens in at %s\n", cfg.URL)
	cs, err := a.signInAll(ctx, progress, cfg.Citizens)
	if err != nil {
		return nil, err
	}
	var owners []ownedDoc
	var viewers []*citizen
	nOwners := 0
	for i, c := range cs {
		if i%2 == 0 && len(c.docs) > 0 {
			nOwners++
			for _, d := range c.docs {
				owners = append(owners, ownedDoc{owner: c, doc: d})
			}
		} else {
			viewers = append(viewers, c)
		}
	}
	if nOwners == 0 || len(viewers) == 0 {
		return nil, fmt.Errorf("bench needs at least one owner with documents and one viewer; %d citizens signed in", len(cs))
	}
	rep.Owners, rep.Viewers = nOwners, len(viewers)
	fmt.Fprintf(progress, "bench: %d owners (%d documents), %d viewers\n", nOwners, len(owners), len(viewers))

	if !cfg.NoBaselines {
		bs, err := runBaselines(ctx, cfg, progress)
		if err != nil {
			return nil, err
		}
		rep.Baselines = bs
		if len(bs) > 0 && bs[0].Name != BaselineRedis {
			rep.CommitBaseline = bs[0].Name
		}
	}

	b := &bencher{cfg: cfg, api: a, owners: owners, viewers: viewers, all: cs, progress: progress, peak: map[string]float64{}}
	if cfg.PGStats {
		settle := cfg.PGSettle
		if settle <= 0 {
			settle = DefaultPGSettle
		}
		if b.pg, err = newPGStats(ctx, cfg.DatabaseURL, settle); err != nil {
			return nil, err
		}
		defer b.pg.close()
	}
	for _, ph := range cfg.Phases {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		r, err := b.phase(ctx, ph)
		if err != nil {
			return rep, fmt.Errorf("phase %s: %w", ph.Name(), err)
		}
		ratios(&r, rep.Baselines)
		rep.Phases = append(rep.Phases, r)
	}
	rep.Notes = append(rep.Notes,
		"ratios are ok/s of the phase over ok/s of the baseline, measured in this run at the same concurrency",
		"the bench process shares the machine with the service: client_cpu is its share of all cores")
	return rep, nil
}

func ratios(r *Result, bs []Result) {
	for _, bl := range bs {
		if bl.OKPerSecond > 0 {
			if r.Ratios == nil {
				r.Ratios = map[string]float64{}
			}
			r.Ratios[bl.Name] = round3(r.OKPerSecond / bl.OKPerSecond)
		}
	}
}

func runBaselines(ctx context.Context, cfg Config, progress io.Writer) ([]Result, error) {
	var bls []*baseline
	defer func() {
		for _, bl := range bls {
			bl.close()
		}
	}()
	var commit *baseline
	var err error
	if cfg.DatabaseURL != "" {
		commit, err = postgresBaseline(ctx, cfg.DatabaseURL, cfg.Concurrency)
	} else {
		dir := cfg.ScratchDir
		if dir == "" {
			dir = "."
		}
		commit, err = sqliteBaseline(ctx, cfg.SQLitePath, dir)
	}
	if err != nil {
		return nil, err
	}
	bls = append(bls, commit)
	if cfg.RedisURL != "" {
		rb, err := redisBaseline(ctx, cfg.RedisURL, cfg.Concurrency)
		if err != nil {
			return nil, err
		}
		bls = append(bls, rb)
	}
	hb, err := httpBaseline(ctx, cfg.Concurrency)
	if err != nil {
		return nil, err
	}
	bls = append(bls, hb)
	var out []Result
	for _, bl := range bls {
		fmt.Fprintf(progress, "bench: baseline %s: %s\n", bl.name, bl.what)
		r := measured(ctx, bl.name, cfg.Concurrency, cfg.Duration, 0, progress, bl.op)
		r.What = bl.what
		out = append(out, r)
	}
	return out, nil
}

// measured is loop with the machine's CPU use sampled around it.
func measured(ctx context.Context, name string, conc int, d time.Duration, rate float64, progress io.Writer, op opFunc) Result {
	a := sampleCPU()
	t0 := time.Now()
	r := loop(ctx, name, conc, d, rate, progress, op)
	r.cpuUse(a, sampleCPU(), time.Since(t0), runtime.NumCPU())
	return r
}

// bencher holds what the phases share.
type bencher struct {
	cfg      Config
	api      *api
	owners   []ownedDoc
	viewers  []*citizen
	all      []*citizen
	progress io.Writer
	live     pool               // issued, not yet redeemed shares
	qr       []share            // shares whose QR images are fetched
	peak     map[string]float64 // ok/s of each phase run closed-loop
	counter  atomic.Uint64
	pg       *pgStats // nil without --pg-stats
}

func (b *bencher) phase(ctx context.Context, ph Phase) (Result, error) {
	if err := b.api.refreshOld(ctx, b.all); err != nil {
		return Result{}, err
	}
	conc, d := b.cfg.Concurrency, b.cfg.Duration
	rate := 0.0
	if ph.Fraction > 0 {
		rate = ph.Fraction * b.peak[ph.Kind]
		if rate <= 0 {
			return Result{}, fmt.Errorf("%s reached no rate to pace at", ph.Kind)
		}
	}
	var op opFunc
	what := ""
	switch ph.Kind {
	case PhaseIssue:
		what = "POST /v1/documents/{id}/shares (single-use, no PNG)"
		op = func(ctx context.Context, w int) (int, bool, bool) {
			s, st, err := b.api.issue(ctx, b.owners, b.counter.Add(1))
			if err != nil || st != 201 {
				return st, false, false
			}
			b.live.add(s)
			return st, true, false
		}
	case PhaseRedeemToken, PhaseRedeemCode:
		want := b.poolTarget(ph, rate)
		if err := b.fill(ctx, want); err != nil {
			return Result{}, err
		}
		byCode := ph.Kind == PhaseRedeemCode
		what = `POST /v1/shares/redeem {"token"}`
		if byCode {
			what = `POST /v1/shares/redeem {"short_code", "owner_iin"}`
		}
		op = func(ctx context.Context, w int) (int, bool, bool) {
			s, ok := b.live.take()
			if !ok {
				return 0, false, true
			}
			v := b.viewers[b.counter.Add(1)%uint64(len(b.viewers))]
			var body []byte
			if byCode {
				body = mustJSON(map[string]string{"short_code": s.code, "owner_iin": s.owner.IIN})
			} else {
				body = mustJSON(map[string]string{"token": s.token})
			}
			st, err := b.api.do(ctx, "POST", "/v1/shares/redeem", v.access, body, nil)
			return st, err == nil && st == 200, false
		}
	case PhaseQR:
		if err := b.fillQR(ctx); err != nil {
			return Result{}, err
		}
		what = fmt.Sprintf("GET qr_url (PNG), cycling through %d shares: every request draws", len(b.qr))
		op = func(ctx context.Context, w int) (int, bool, bool) {
			s := b.qr[b.counter.Add(1)%uint64(len(b.qr))]
			st, err := b.api.do(ctx, "GET", s.qrURL, s.owner.access, nil, nil)
			return st, err == nil && st == 200, false
		}
	case PhaseList:
		what = "GET /v1/documents"
		op = func(ctx context.Context, w int) (int, bool, bool) {
			od := b.owners[b.counter.Add(1)%uint64(len(b.owners))]
			st, err := b.api.do(ctx, "GET", "/v1/documents", od.owner.access, nil, nil)
			return st, err == nil && st == 200, false
		}
	default:
		return Result{}, fmt.Errorf("unknown phase %q", ph.Kind)
	}
	if rate > 0 {
		fmt.Fprintf(b.progress, "bench: phase %s paced at %.0f/s for %s at concurrency %d\n", ph.Name(), rate, d, conc)
	} else {
		fmt.Fprintf(b.progress, "bench: phase %s for %s at concurrency %d\n", ph.Name(), d, conc)
	}
	var before pgCounters
	if b.pg != nil {
		fmt.Fprintf(b.progress, "bench: waiting %s for PostgreSQL's counters to settle\n", b.pg.settle)
		var err error
		if before, err = b.pg.read(ctx); err != nil {
			return Result{}, err
		}
	}
	r := measured(ctx, ph.Name(), conc, d, rate, b.progress, op)
	r.What = what
	if b.pg != nil {
		after, err := b.pg.read(ctx)
		if err != nil {
			return Result{}, err
		}
		r.PG = per(before, after, r.OK)
	}
	if ph.Kind == PhaseRedeemToken || ph.Kind == PhaseRedeemCode {
		b.live.compact()
	}
	if ph.Kind == PhaseIssue {
		b.live.compact()
	}
	if r.Exhausted {
		r.Note = fmt.Sprintf("ran out of prepared shares after %.1fs (raise --pool)", r.Seconds)
	}
	if rate == 0 {
		b.peak[ph.Kind] = r.OKPerSecond
	}
	return r, nil
}

// poolTarget is how many live shares a redemption phase should start with:
// for a paced phase, what it will take; otherwise Pool, or 1.5 times what the
// best rate seen so far would take (redemption is guessed at three times
// issuance before any redemption ran, one second of issuance when nothing
// ran).
func (b *bencher) poolTarget(ph Phase, rate float64) int {
	d := b.cfg.Duration.Seconds()
	if rate > 0 {
		return min(maxPool, int(math.Ceil(rate*d*1.05))+b.cfg.Concurrency)
	}
	if b.cfg.Pool > 0 {
		return b.cfg.Pool
	}
	est := max(b.peak[PhaseRedeemToken], b.peak[PhaseRedeemCode])
	if est == 0 {
		est = 3 * b.peak[PhaseIssue]
	}
	if est == 0 {
		est = 3 * 200 // a guess; the phase stops early if it runs out
	}
	return min(maxPool, int(math.Ceil(est*d*1.5))+b.cfg.Concurrency)
}

// fill issues shares until the pool holds want live ones (not measured).
func (b *bencher) fill(ctx context.Context, want int) error {
	b.live.compact()
	need := want - b.live.size()
	if need <= 0 {
		return nil
	}
	fmt.Fprintf(b.progress, "bench: preparing %d shares (not measured)\n", need)
	var left, failed atomic.Int64
	left.Store(int64(need))
	r := loop(ctx, "(preparing shares)", b.cfg.Concurrency, 10*MaxDuration, 0, b.progress, func(ctx context.Context, w int) (int, bool, bool) {
		if left.Add(-1) < 0 || failed.Load() > 100 {
			return 0, false, true
		}
		s, st, err := b.api.issue(ctx, b.owners, b.counter.Add(1))
		if err != nil || st != 201 {
			left.Add(1)
			failed.Add(1)
			return st, false, false
		}
		b.live.add(s)
		return st, true, false
	})
	if r.OK < need {
		return fmt.Errorf("could prepare only %d of %d shares (errors by status: %v)", r.OK, need, r.Errors)
	}
	return nil
}

// fillQR issues the shares of the QR phase once.
func (b *bencher) fillQR(ctx context.Context) error {
	if len(b.qr) > 0 && time.Since(b.qr[0].at) < shareMaxAge {
		return nil
	}
	b.qr = b.qr[:0]
	fmt.Fprintf(b.progress, "bench: preparing %d shares for the QR phase (not measured)\n", qrPoolSize)
	for i := 0; i < qrPoolSize; i++ {
		s, st, err := b.api.issue(ctx, b.owners, b.counter.Add(1))
		if err != nil || st != 201 {
			return fmt.Errorf("issuing a share for the QR phase: status %d %v", st, err)
		}
		b.qr = append(b.qr, s)
	}
	return nil
}
