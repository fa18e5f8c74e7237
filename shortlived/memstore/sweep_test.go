package memstore

import (
	"fmt"
	"testing"
	"time"
)

func (s *Store) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// TestSweepBoundsMemory writes keys that nobody reads again, lets them
// expire and writes as many new ones: the expired keys must not pile up.
func TestSweepBoundsMemory(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	s := New(func() time.Time { return now })
	const n = 10000
	for round := range 5 {
		for i := range n {
			if err := s.Put(ctx, fmt.Sprintf("r%d-%d", round, i), []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if got, limit := s.size(), 2*n+minSweepInterval; got > limit {
			t.Fatalf("round %d: %d entries held with %d live, want at most %d", round, got, n, limit)
		}
		now = now.Add(2 * time.Minute)
	}
}

func TestSweepKeepsLiveEntries(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	s := New(func() time.Time { return now })
	if err := s.Put(ctx, "long", []byte("v"), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	for i := range 5 * minSweepInterval {
		if err := s.Put(ctx, fmt.Sprint(i), []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	if got, err := s.Get(ctx, "long"); err != nil || string(got) != "v" {
		t.Fatalf("Get of a live entry after sweeps = %q, %v", got, err)
	}
	if got := s.size(); got > minSweepInterval+1 {
		t.Fatalf("%d entries held, want at most %d", got, minSweepInterval+1)
	}
}
