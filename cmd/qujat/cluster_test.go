package main

import (
	"testing"

	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet/wallettest"
)

// The walk-through on PostgreSQL and a Redis Cluster (three masters, three
// replicas) named as QUJAT_REDIS_URL names one: its nodes' addresses,
// comma-separated; and again by one seed address in the redis+cluster://
// form.
func TestServe_PostgresAndRedisClusterWalkThrough(t *testing.T) {
	skipIfShort(t)
	c := shortlivedtest.StartCluster(t)
	for name, url := range map[string]string{"addresses": c.URL(), "one seed": "redis+cluster://" + c.Addrs()[3]} {
		t.Run(name, func(t *testing.T) {
			base := startService(t, map[string]string{"QUJAT_DATABASE_URL": wallettest.PostgresSchemaURL(t),
				"QUJAT_REDIS_URL": url, "QUJAT_REDIS_PREFIX": shortlivedtest.UniquePrefix(t), "QUJAT_DEV": "1"})
			c := client{t, base}
			if st, m := c.call("GET", "/readyz", "", nil); st != 200 {
				t.Fatalf("/readyz: %d %v", st, m)
			}
			walkThrough(t, base)
		})
	}
}
