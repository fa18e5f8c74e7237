package wallettest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// BenchMode is who calls in a write benchmark: one caller, or
// GOMAXPROCS×Parallelism goroutines.
type BenchMode struct {
	Name        string
	Parallelism int // 0: serial
}

// BenchModes are the modes of the stores' write benchmarks and of their
// insert-commit baselines, so that both are measured with the same callers.
var BenchModes = []BenchMode{{"serial", 0}, {"parallel", 4}, {"parallel16", 16}}

// RunWrites times op for i in 0..b.N-1, called as the mode says (each i
// once), and reports operations per second over the timed part.
func RunWrites(b *testing.B, mode BenchMode, op func(i int) error) {
	b.ReportAllocs()
	b.ResetTimer()
	if mode.Parallelism == 0 {
		for i := range b.N {
			if err := op(i); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		next := make(chan int, b.N)
		for i := range b.N {
			next <- i
		}
		close(next)
		b.SetParallelism(mode.Parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(<-next); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

// benchShares creates n single-use shares (not timed).
func benchShares(b *testing.B, s wallet.Store, n int, at time.Time) []wallet.Share {
	b.Helper()
	out := make([]wallet.Share, n)
	for i := range out {
		sh := wallet.Share{ID: fmt.Sprintf("shr_bench%09d", i), DocumentID: "doc_bench", OwnerIIN: "880412310009",
			CreatedBy: "880412310009", MaxViews: 1, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
		if err := s.CreateShare(context.Background(), sh); err != nil {
			b.Fatal(err)
		}
		out[i] = sh
	}
	return out
}

func benchView(i int, at time.Time) wallet.View {
	return wallet.View{ID: fmt.Sprintf("vw_bench%09d", i), DocumentID: "doc_bench", DocumentType: wallet.IDCard,
		OwnerIIN: "880412310009", ViewerKind: wallet.ViewerCitizen, ViewerID: "800519347947",
		Channel: wallet.ChannelQR, At: at, LogIndex: -1}
}

// BenchmarkRedeemShare measures the durable half of a redemption: one
// share's view count raised and its view event inserted, committed (the
// store group-commits concurrent callers). ops/s is redemptions per second;
// compare it with the store's insert-commit baseline in the same mode.
// open returns a fresh, migrated store.
func BenchmarkRedeemShare(b *testing.B, open func(b *testing.B) wallet.Store) {
	for _, mode := range BenchModes {
		b.Run(mode.Name, func(b *testing.B) {
			s := open(b)
			at := time.Now().UTC().Truncate(time.Microsecond)
			shares := benchShares(b, s, b.N, at)
			ctx := context.Background()
			RunWrites(b, mode, func(i int) error {
				_, err := s.RedeemShare(ctx, shares[i].ID, benchView(i, at))
				return err
			})
		})
	}
}

// BenchmarkRecordView measures a view event insert that is not a share
// redemption (a consent or guardian view): one INSERT, committed.
func BenchmarkRecordView(b *testing.B, open func(b *testing.B) wallet.Store) {
	s := open(b)
	at := time.Now().UTC().Truncate(time.Microsecond)
	ctx := context.Background()
	RunWrites(b, BenchModes[0], func(i int) error {
		v := benchView(i, at)
		v.Channel = wallet.ChannelConsent
		v.ConsentID = "cns_bench"
		return s.RecordView(ctx, v)
	})
}
