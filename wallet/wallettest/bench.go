package wallettest

import (
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

// benchShares creates n single-use shares in one change (not timed).
func benchShares(b *testing.B, s *logged, n int, at time.Time) []wallet.Share {
	b.Helper()
	out := make([]wallet.Share, n)
	ops := make([]wallet.Op, n)
	for i := range out {
		out[i] = wallet.Share{ID: fmt.Sprintf("shr_bench%09d", i), DocumentID: "doc_bench", OwnerIIN: "880412310009",
			CreatedBy: "880412310009", MaxViews: 1, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
		ops[i] = wallet.CreateShare{Share: out[i]}
	}
	if err := s.do(ops...); err != nil {
		b.Fatal(err)
	}
	return out
}

func benchView(i int, at time.Time) wallet.View {
	return wallet.View{ID: fmt.Sprintf("vw_bench%09d", i), DocumentID: "doc_bench", DocumentType: wallet.IDCard,
		OwnerIIN: "880412310009", ViewerKind: wallet.ViewerCitizen, ViewerID: "800519347947",
		Channel: wallet.ChannelQR, At: at, LogIndex: -1}
}

// BenchmarkRedeemShare measures the durable half of a redemption as the
// service commits it: one share's view count raised and its view stored
// with its leaf in the history log, committed (the log group-commits
// concurrent callers into one transaction with one checkpoint). ops/s is
// redemptions per second; compare it with the store's insert-commit
// baseline in the same mode. open returns a fresh, migrated store.
func BenchmarkRedeemShare(b *testing.B, open func(b *testing.B) Store) {
	for _, mode := range BenchModes {
		b.Run(mode.Name, func(b *testing.B) {
			s := withLog(b, open(b))
			at := time.Now().UTC().Truncate(time.Microsecond)
			shares := benchShares(b, s, b.N, at)
			RunWrites(b, mode, func(i int) error {
				_, err := s.redeem(shares[i].ID, benchView(i, at))
				return err
			})
		})
	}
}

// BenchmarkRecordView measures a view that is not a share redemption (a
// consent or guardian view) stored with its leaf, one caller at a time:
// one log batch per view.
func BenchmarkRecordView(b *testing.B, open func(b *testing.B) Store) {
	s := withLog(b, open(b))
	at := time.Now().UTC().Truncate(time.Microsecond)
	RunWrites(b, BenchModes[0], func(i int) error {
		v := benchView(i, at)
		v.Channel, v.ViewerKind, v.ViewerID = wallet.ChannelConsent, wallet.ViewerOrganisation, "cli_bench"
		v.ConsentID = "cns_bench"
		_, err := s.recordView(v)
		return err
	})
}
