package shortlivedtest

import (
	"context"
	"testing"
	"time"
)

// TestClusterFailsOverAndTakesTheOldMasterBack holds the helper the cluster
// suites stand on: six nodes, three masters with a replica each; a killed
// master's replica takes its slots, and the old master, restarted, comes
// back as a replica.
func TestClusterFailsOverAndTakesTheOldMasterBack(t *testing.T) {
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
}
