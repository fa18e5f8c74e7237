package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/sqlite"
)

// benchStore opens a migrated store on a file, as the service does.
func benchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "qujat.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchShares creates n single-use shares (not timed).
func benchShares(b *testing.B, s *sqlite.Store, n int, at time.Time) []wallet.Share {
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

// BenchmarkRedeemShare measures the durable half of a redemption on SQLite:
// one share's view count raised and its view event inserted, committed
// (WAL, one writer). "serial" is one caller; "parallel" is GOMAXPROCS×4
// callers and "parallel16" GOMAXPROCS×16, queueing for the committer that
// group-commits them on the single writer connection. ops/s is redemptions
// per second; compare it with BenchmarkInsertCommit's of the same mode.
func BenchmarkRedeemShare(b *testing.B) {
	for _, mode := range benchModes {
		par := mode.parallelism > 0
		b.Run(mode.name, func(b *testing.B) {
			s := benchStore(b)
			at := time.Now().UTC().Truncate(time.Microsecond)
			shares := benchShares(b, s, b.N, at)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			if !par {
				for i := range b.N {
					if _, err := s.RedeemShare(ctx, shares[i].ID, benchView(i, at)); err != nil {
						b.Fatal(err)
					}
				}
				reportRate(b)
				return
			}
			next := make(chan int, b.N)
			for i := range b.N {
				next <- i
			}
			close(next)
			b.SetParallelism(mode.parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := <-next
					if _, err := s.RedeemShare(ctx, shares[i].ID, benchView(i, at)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b)
		})
	}
}

// BenchmarkRecordView measures a view event insert that is not a share
// redemption (a consent or guardian view): one INSERT, committed.
func BenchmarkRecordView(b *testing.B) {
	s := benchStore(b)
	at := time.Now().UTC().Truncate(time.Microsecond)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		v := benchView(i, at)
		v.Channel = wallet.ChannelConsent
		v.ConsentID = "cns_bench"
		if err := s.RecordView(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
}
