package consent_test

import (
	"context"
	"testing"
	"time"

	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
)

func TestMain(m *testing.M) { shortlivedtest.Main(m) }

// clusterCodes is a store on the package's shared Redis Cluster (three
// masters, three replicas) under a prefix of its own: consent challenges,
// SMS reply references and the per-citizen request limits (hash-tagged
// budgets) hold there too.
func clusterCodes(t *testing.T, _ func() time.Time) wallet.ShortLivedStore {
	c := shortlivedtest.SharedCluster(t)
	opened, err := redisstore.Open(context.Background(), c.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { opened.Close() })
	return redisstore.New(opened.Client(), shortlivedtest.UniquePrefix(t))
}

func init() {
	backends = append(backends, backend{"sqlite+redis-cluster", sqliteStore, clusterCodes})
}
