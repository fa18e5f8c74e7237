package loadgen

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestParseProcStat_NameWithSpacesAndParentheses(t *testing.T) {
	line := "4242 (redis-server (a) b) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 130 0 0 20 0 4 0 100 0 0\n"
	name, d, ok := parseProcStat(line)
	if !ok || name != "redis-server (a) b" || d != 3800*time.Millisecond {
		t.Fatalf("parse = %q, %v, %v; want redis-server (a) b, 3.8s", name, d, ok)
	}
	for _, bad := range []string{"", "12 no-parens S 1", "12 (x) S 1 2 3", "12 (x) S 1 2 3 4 5 6 7 8 9 10 u s"} {
		if _, _, ok := parseProcStat(bad); ok {
			t.Fatalf("parse(%q) accepted", bad)
		}
	}
}

// A process that burns CPU during a run shows under its name, per
// successful operation; the bench's own time does not show as its own
// name's (the bench is often the service's own binary).
func TestCPUUse_ByProcessName(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	// A copy of sh under a name nothing else on the machine has.
	busy := filepath.Join(t.TempDir(), "qjbusyloop")
	b, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(busy, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(busy, "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	a := sampleCPU()
	if !a.ok || len(a.procs) == 0 {
		t.Fatal("no CPU sample from /proc")
	}
	t0 := time.Now()
	// Keep ourselves busy for 300 ms of CPU (at most 10 s on a crowded
	// machine).
	b2 := sampleCPU()
	for b2.self-a.self < 300*time.Millisecond && time.Since(t0) < 10*time.Second {
		b2 = sampleCPU()
	}
	own := b2.self - a.self
	r := Result{Requests: 10, OK: 10}
	r.cpuUse(a, b2, time.Since(t0), 2)
	if r.CPUmsByProcess["qjbusyloop"] <= 0 {
		t.Fatalf("the busy child is missing: %v", r.CPUmsByProcess)
	}
	self := filepath.Base(os.Args[0])
	if len(self) > 15 {
		self = self[:15]
	}
	// Counted, our own time would be own/10 per operation (give or take a
	// clock tick of 10 ms); taken out, what is left is well under half.
	if ms := r.CPUmsByProcess[self]; ms > float64(own/time.Millisecond)/10/2 {
		t.Fatalf("%s: %.1f ms/op: the bench's own CPU counted (%v)", self, ms, r.CPUmsByProcess)
	}
}
