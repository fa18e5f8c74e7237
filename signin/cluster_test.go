package signin_test

import (
	"context"
	"testing"
	"time"

	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
)

func TestMain(m *testing.M) { shortlivedtest.Main(m) }

// clusterShort is a store on the package's shared Redis Cluster (three
// masters, three replicas) under a prefix of its own: the OTP challenges
// and the sending limits (hash-tagged budgets) hold there too.
func clusterShort(t testing.TB, _ func() time.Time) wallet.ShortLivedStore {
	c := shortlivedtest.SharedCluster(t)
	opened, err := redisstore.Open(context.Background(), c.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { opened.Close() })
	return redisstore.New(opened.Client(), shortlivedtest.UniquePrefix(t))
}

func init() {
	backends = append(backends, backend{"sqlite+redis-cluster", sqliteStore, clusterShort})
}
