package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
)

// TestFaults_RedisCluster runs the suite with the short-lived store on a
// Redis Cluster of three masters and three replicas (no persistence: the
// replicas keep the data) and breaks its masters: the master of the
// short-code guess counters (which every code redemption needs) is killed
// and restarted 4 s later, when its replica has taken over, so that it
// comes back as a replica; then another master is stalled (SIGSTOP) for
// 4 s, longer than the node timeout, so that its replica takes over while
// clients still hold connections to it. The same invariants hold as on one
// Redis. /readyz may answer ok during these faults once a replica has taken
// over (the store is whole again), so it is only held to not reporting the
// store down outside them. The PostgreSQL phases run in TestFaults alone.
func TestFaults_RedisCluster(t *testing.T) {
	_, pgBin, ok := faultBinaries(t)
	if !ok {
		return
	}
	c := shortlivedtest.StartCluster(t)
	ctx := context.Background()
	guessKey := redisstore.DefaultPrefix + "rl:{codeguess}:x"
	// healthy waits until the cluster is three masters with a replica
	// each again.
	healthy := func() error {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return c.WaitHealthy(wctx)
	}
	// failedOver checks that key's slot has a new master, old's replica:
	// the phase tested a failover, not only an outage.
	failedOver := func(key string, old *shortlivedtest.RedisServer) error {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := c.WaitMasterChange(wctx, key, old)
		return err
	}
	var killed, stalled *shortlivedtest.RedisServer
	var stalledKey string
	runFaults(t, pgBin, faultRun{
		label:    "fault suite on a Redis Cluster",
		redisURL: c.URL(),
		redisPhases: []phase{
			{name: "redis master kill (failover)", dep: "short_lived",
				begin: func() error {
					m, err := c.MasterOf(ctx, guessKey)
					if err != nil {
						return err
					}
					killed = m
					m.Kill()
					return nil
				},
				end: func() error {
					if err := failedOver(guessKey, killed); err != nil {
						return err
					}
					if err := c.RestartNode(killed); err != nil {
						return err
					}
					return healthy()
				}},
			{name: "redis master stall (failover)", dep: "short_lived",
				begin: func() error {
					guess, err := c.MasterOf(ctx, guessKey)
					if err != nil {
						return err
					}
					for i := 0; stalled == nil && i < 100; i++ {
						k := fmt.Sprintf("%ssharekey:%d", redisstore.DefaultPrefix, i)
						m, err := c.MasterOf(ctx, k)
						if err != nil {
							return err
						}
						if m != guess {
							stalled, stalledKey = m, k
						}
					}
					if stalled == nil {
						return fmt.Errorf("no master other than %s found", guess.Addr())
					}
					stalled.Pause()
					return nil
				},
				end: func() error {
					err := failedOver(stalledKey, stalled)
					stalled.Resume()
					if err != nil {
						return err
					}
					return healthy()
				}},
		},
	})
}
