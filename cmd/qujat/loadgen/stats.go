package loadgen

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value such that at least p % of the
// values are less than or equal to it. Zero for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Result is what one phase or baseline measured.
type Result struct {
	Name string `json:"name"`
	// What one operation is, in words.
	What string `json:"what,omitempty"`
	// Requests is every operation completed; OK those that succeeded.
	Requests int `json:"requests"`
	OK       int `json:"ok"`
	// Seconds is how long the phase ran (less than the duration if its pool
	// of shares ran out: Exhausted is then set).
	Seconds   float64 `json:"seconds"`
	Exhausted bool    `json:"exhausted,omitempty"`
	// PacedAt is the target rate of a paced phase (operations per second).
	PacedAt float64 `json:"paced_at,omitempty"`
	// RPS is Requests per second, OKPerSecond OK per second.
	RPS         float64 `json:"rps"`
	OKPerSecond float64 `json:"ok_per_second"`
	// Latency percentiles of every operation, in milliseconds.
	P50ms  float64 `json:"p50_ms"`
	P95ms  float64 `json:"p95_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
	MeanMS float64 `json:"mean_ms"`
	// Errors counts failed operations by HTTP status ("0": no response).
	Errors map[string]int `json:"errors,omitempty"`
	// Ratios are OKPerSecond divided by each baseline's OKPerSecond.
	Ratios map[string]float64 `json:"ratios,omitempty"`
	// MachineCPU is the busy share of all cores during the run (0..1);
	// ClientCPU the share the bench process itself used. OtherCPUms is the
	// CPU time per operation of everything but the bench (the service and
	// its servers, and whatever else runs), in milliseconds.
	MachineCPU float64 `json:"machine_cpu,omitempty"`
	ClientCPU  float64 `json:"client_cpu,omitempty"`
	OtherCPUms float64 `json:"other_cpu_ms_per_op,omitempty"`
	// CPUmsByProcess is the CPU time per successful operation of the
	// processes of each command name that used at least 1 % of a core
	// during the run (the service, postgres, redis-server; the bench is
	// "qujat" too when it is the service's own binary, so its own time is
	// taken out of that name), in milliseconds.
	CPUmsByProcess map[string]float64 `json:"cpu_ms_by_process,omitempty"`
	// PG is what PostgreSQL did per successful operation (--pg-stats).
	PG *PGStats `json:"pg,omitempty"`
	// Note says anything the figures need read with them.
	Note string `json:"note,omitempty"`
}

// tally is what one worker records.
type tally struct {
	lat    []time.Duration
	ok     int
	errors map[int]int
}

func (t *tally) add(d time.Duration, status int, ok bool) {
	t.lat = append(t.lat, d)
	if ok {
		t.ok++
		return
	}
	if t.errors == nil {
		t.errors = map[int]int{}
	}
	t.errors[status]++
}

// summarize merges the workers' tallies into a Result.
func summarize(name string, elapsed time.Duration, tallies []*tally) Result {
	r := Result{Name: name, Seconds: elapsed.Seconds()}
	var all []time.Duration
	var sum time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		r.OK += t.ok
		for st, n := range t.errors {
			if r.Errors == nil {
				r.Errors = map[string]int{}
			}
			r.Errors[strconv.Itoa(st)] += n
		}
	}
	slices.Sort(all)
	for _, d := range all {
		sum += d
	}
	r.Requests = len(all)
	if r.Seconds > 0 {
		r.RPS = float64(r.Requests) / r.Seconds
		r.OKPerSecond = float64(r.OK) / r.Seconds
	}
	r.P50ms = ms(Percentile(all, 50))
	r.P95ms = ms(Percentile(all, 95))
	r.P99ms = ms(Percentile(all, 99))
	if len(all) > 0 {
		r.MaxMS = ms(all[len(all)-1])
		r.MeanMS = ms(sum / time.Duration(len(all)))
	}
	return r
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// ErrorStatuses returns the statuses of r.Errors in order.
func (r Result) ErrorStatuses() []string {
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(keys[i])
		b, _ := strconv.Atoi(keys[j])
		return a < b
	})
	return keys
}

// ServerErrors is how many operations got a 5xx status.
func (r Result) ServerErrors() int {
	n := 0
	for k, v := range r.Errors {
		if st, _ := strconv.Atoi(k); st >= 500 {
			n += v
		}
	}
	return n
}

// cpuUse fills r's CPU fields from samples taken at the start and end of
// its run on ncpu cores.
func (r *Result) cpuUse(a, b cpuSample, elapsed time.Duration, ncpu int) {
	if !a.ok || !b.ok || b.total <= a.total || elapsed <= 0 || ncpu <= 0 {
		return
	}
	r.MachineCPU = round3(float64(b.busy-a.busy) / float64(b.total-a.total))
	r.ClientCPU = round3(float64(b.self-a.self) / float64(elapsed) / float64(ncpu))
	if r.Requests > 0 {
		rest := max(0, r.MachineCPU-r.ClientCPU) * float64(ncpu) * elapsed.Seconds()
		r.OtherCPUms = round3(rest * 1000 / float64(r.Requests))
	}
	if r.OK > 0 && a.procs != nil && b.procs != nil {
		self := filepath.Base(os.Args[0])
		for name, t := range b.procs {
			d := t - a.procs[name]
			if name == self || len(name) == 15 && strings.HasPrefix(self, name) { // comm is cut to 15 bytes
				d -= b.self - a.self
			}
			if d <= 0 || float64(d) < 0.01*float64(elapsed) {
				continue
			}
			if r.CPUmsByProcess == nil {
				r.CPUmsByProcess = make(map[string]float64)
			}
			r.CPUmsByProcess[name] = round3(float64(d) / float64(time.Millisecond) / float64(r.OK))
		}
	}
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
