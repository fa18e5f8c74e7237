package shortlivedtest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/qujat/qujat/internal/servicetest"
)

// TestClusterFailsOverAndTakesTheOldMasterBack holds the helper the cluster
// suites stand on: six nodes, three masters with a replica each; a killed
// master's replica takes its slots, and the old master, restarted, comes
// back as a replica.
func TestClusterFailsOverAndTakesTheOldMastersBack(t *testing.T) {
	began := time.Now()
	c := StartCluster(t)
	t.Logf("started in %v", time.Since(began))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if len(c.Nodes) != 6 {
		t.Fatalf("%d nodes, want 6", len(c.Nodes))
	}
	masters := map[*RedisServer]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		m, err := c.MasterOf(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		masters[m] = true
	}
	if len(masters) != 3 {
		t.Fatalf("eight keys fall on %d masters, want 3", len(masters))
	}
	old, err := c.MasterOf(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	old.Kill()
	killed := time.Now()
	now, err := c.WaitMasterChange(ctx, "x", old)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("failed over in %v", time.Since(killed))
	if now == old || !now.Running() {
		t.Fatalf("slot of x served by %s after its master %s was killed", now.Addr(), old.Addr())
	}
	if err := c.RestartNode(old); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("healthy again %v after the restart", time.Since(restarted))
	if m, err := c.MasterOf(ctx, "x"); err != nil || m != now {
		t.Fatalf("after the old master's return, x is served by %v (%v), want %s", m, err, now.Addr())
	}

	// A master stalled past the node timeout loses its slots too, and
	// comes back as a replica.
	stalled, err := c.MasterOf(ctx, "y")
	if err != nil {
		t.Fatal(err)
	}
	stalled.Pause()
	taken, err := c.WaitMasterChange(ctx, "y", stalled)
	stalled.Resume()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if m, err := c.MasterOf(ctx, "y"); err != nil || m != taken {
		t.Fatalf("after the stalled master's return, y is served by %v (%v), want %s", m, err, taken.Addr())
	}
}

// Without redis-server or redis-cli a cluster test is skipped, or fails
// when the services are required (as in CI).
func TestStartClusterWithoutRedisSkipsOrFails(t *testing.T) {
	if testing.Short() {
		t.Skip("-short skips before looking for redis-server")
	}
	t.Setenv(servicetest.LogEnv, filepath.Join(t.TempDir(), "services.log")) // not the run's own record
	t.Setenv("PATH", t.TempDir())
	t.Setenv("QUJAT_TEST_REQUIRE_SERVICES", "")
	r := &recordingTB{TB: t}
	if c := StartCluster(r); c != nil || r.skipped == "" || r.failed != "" {
		t.Fatalf("without redis-server: cluster %v, skipped %q, failed %q; want a skip", c, r.skipped, r.failed)
	}
	t.Setenv("QUJAT_TEST_REQUIRE_SERVICES", "1")
	r = &recordingTB{TB: t}
	if c := SharedCluster(r); c != nil || r.failed == "" || r.skipped != "" {
		t.Fatalf("with QUJAT_TEST_REQUIRE_SERVICES=1: cluster %v, skipped %q, failed %q; want a failure", c, r.skipped, r.failed)
	}
}
