package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
)

// BenchmarkCodeRedemptionCalls makes the short-lived store's calls of one
// short-code redemption (sharing.RedeemCode: reserve the guess on four
// hash-tagged budgets, read the code generation, look the code up, give
// the reservation back, read the share's entry) on one redis-server and on
// a Redis Cluster of three masters and three replicas, all on this
// machine, from 16 goroutines as a service's requests would.
func BenchmarkCodeRedemptionCalls(b *testing.B) {
	for _, target := range []string{"single", "cluster"} {
		b.Run(target, func(b *testing.B) {
			var url string
			if target == "single" {
				url = shortlivedtest.StartRedis(b).URL()
			} else {
				url = shortlivedtest.SharedCluster(b).URL()
			}
			ctx := context.Background()
			opened, err := redisstore.Open(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			defer opened.Close()
			s := redisstore.New(opened.Client(), shortlivedtest.UniquePrefix(b))
			const owners = 1000
			for i := range owners {
				if err := s.Put(ctx, fmt.Sprintf("code:%d:0:h", i), []byte("shr"), time.Hour); err != nil {
					b.Fatal(err)
				}
				if err := s.Put(ctx, fmt.Sprintf("sharekey:%d", i), []byte(`{"share_id":"shr"}`), time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			b.SetParallelism(8) // 16 goroutines on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					o := i % owners
					budgets := []wallet.Budget{
						{Key: fmt.Sprintf("rl:{codeguess}:viewer15m:%d", o), Limit: 1 << 40, Window: time.Minute},
						{Key: fmt.Sprintf("rl:{codeguess}:viewerday:%d", o), Limit: 1 << 40, Window: time.Minute},
						{Key: "rl:{codeguess}:ip:192.0.2.1", Limit: 1 << 40, Window: time.Minute},
						{Key: fmt.Sprintf("rl:{codeguess}:owner:%d", o), Limit: 1 << 40, Window: time.Minute},
					}
					if _, err := s.Reserve(ctx, budgets); err != nil {
						b.Error(err)
						return
					}
					if _, _, err := s.Count(ctx, fmt.Sprintf("codegen:%d", o)); err != nil {
						b.Error(err)
						return
					}
					if _, err := s.Get(ctx, fmt.Sprintf("code:%d:0:h", o)); err != nil {
						b.Error(err)
						return
					}
					keys := make([]string, len(budgets))
					for j, bu := range budgets {
						keys[j] = bu.Key
					}
					if err := s.Unreserve(ctx, keys...); err != nil {
						b.Error(err)
						return
					}
					if _, err := s.Get(ctx, fmt.Sprintf("sharekey:%d", o)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
