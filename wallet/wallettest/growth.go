package wallettest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// DefaultPriorRedemptions is how many redemptions BenchmarkRedeemShareAfterPrior
// commits before measuring, unless QUJAT_BENCH_PRIOR says otherwise (a
// count, or several separated by commas, e.g. 1000000,10000000: the
// documented run).
const DefaultPriorRedemptions = 100_000

// priorBatch is how many shares and redemptions one seeding change holds.
const priorBatch = 5_000

// BenchmarkRedeemShareAfterPrior measures redemptions (as
// BenchmarkRedeemShare does, 16 callers per core) on a fresh store and on
// one that already holds prior redemptions (shares, views and their log
// leaves, written through the log as the service writes them, with ids as
// the service makes them, spread over 20,000 owners, or QUJAT_BENCH_CITIZENS,
// and a year), in the same run: the rate
// and the p99 of each, so that "flat with size" reads as a ratio of the
// two. Several sizes grow one store: it is seeded up to the first, measured,
// seeded up to the next, measured again. Seeding is not timed.
func BenchmarkRedeemShareAfterPrior(b *testing.B, open func(b *testing.B) Store) {
	BenchmarkRedeemShareAfterPriorOn(b, open, nil)
}

// BenchmarkRedeemShareAfterPriorOn is BenchmarkRedeemShareAfterPrior whose
// grown store, if grown is not nil, is one kept from an earlier run: grown
// returns it and how many redemptions it holds, and seeding resumes from
// there (a size it already passed is measured as it is). Seeding ten million
// takes hours; a kept store makes the run resumable.
func BenchmarkRedeemShareAfterPriorOn(b *testing.B, open func(b *testing.B) Store, grown func(b *testing.B) (Store, int)) {
	sizes := []int{DefaultPriorRedemptions}
	if v := os.Getenv("QUJAT_BENCH_PRIOR"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 || (len(sizes) > 0 && n <= sizes[len(sizes)-1]) {
				b.Fatalf("QUJAT_BENCH_PRIOR=%q: want counts in increasing order", v)
			}
			sizes = append(sizes, n)
		}
	}
	citizens := 20_000
	if v := os.Getenv("QUJAT_BENCH_CITIZENS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 99_999_999 {
			b.Fatalf("QUJAT_BENCH_CITIZENS=%q: want a count from 1 to 99,999,999", v)
		}
		citizens = n
	}
	fresh := withLog(b, open(b))
	var big *logged
	seeded := 0
	if grown != nil {
		st, n := grown(b)
		big, seeded = withLog(b, st), n
		b.Logf("a kept store with %d prior redemptions", n)
	}
	for _, n := range append([]int{0}, sizes...) {
		s := fresh
		if n > 0 {
			if big == nil {
				big = withLog(b, open(b))
			}
			s = big
			if n > seeded {
				start := time.Now()
				seedRedemptions(b, s, seeded, n, sizes[len(sizes)-1], citizens)
				b.Logf("seeded %d more prior redemptions (%d in all) in %v", n-seeded, n, time.Since(start).Round(time.Millisecond))
				seeded = n
			}
			n = seeded
		}
		b.Run(fmt.Sprintf("prior=%d", n), func(b *testing.B) {
			at := time.Now().UTC().Truncate(time.Microsecond)
			shares := make([]wallet.Share, b.N)
			ops := make([]wallet.Op, 0, priorBatch)
			for i := range shares {
				shares[i] = wallet.Share{ID: timeID(b, at, "shr_"), DocumentID: "doc_bench", OwnerIIN: "880412310009",
					CreatedBy: "880412310009", MaxViews: 1, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
				ops = append(ops, wallet.CreateShare{Share: shares[i]})
				if len(ops) == priorBatch || i == len(shares)-1 {
					if err := s.do(ops...); err != nil {
						b.Fatal(err)
					}
					ops = ops[:0]
				}
			}
			took := make([]time.Duration, b.N)
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = timeID(b, at, "vw_")
			}
			RunWrites(b, BenchModes[2], func(i int) error {
				t0 := time.Now()
				v := benchView(i, at)
				v.ID = ids[i]
				_, err := s.redeem(shares[i].ID, v)
				took[i] = time.Since(t0)
				return err
			})
			slices.Sort(took)
			b.ReportMetric(float64(took[(len(took)*99+99)/100-1].Microseconds())/1000, "p99-ms")
		})
	}
}

// seedRedemptions commits the redemptions from..to-1 of single-use shares,
// in changes of priorBatch, owners and viewers spread over citizens (each
// citizen's rows are keyed by them in the per-citizen indexes: the log's
// chains, lists by owner and viewer) and their times over the year before
// now (all of them, of total).
func seedRedemptions(b *testing.B, s *logged, from, to, total, citizens int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	step := 365 * 24 * time.Hour / time.Duration(total)
	for ; from < to; from += priorBatch {
		to := min(from+priorBatch, to)
		creates := make([]wallet.Op, 0, to-from)
		redeems := make([]wallet.Op, 0, to-from)
		for i := from; i < to; i++ {
			owner := wallet.IIN(fmt.Sprintf("7%011d", i%citizens))
			at := now.Add(-time.Duration(total-i) * step)
			// Ids as the service makes them (wallet.NewTimeID): by time, so
			// their index inserts land at the index's end.
			sh := wallet.Share{ID: timeID(b, at, "shr_"), DocumentID: fmt.Sprintf("doc_prior%08d", i%citizens), OwnerIIN: owner,
				CreatedBy: owner, MaxViews: 1, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
			creates = append(creates, wallet.CreateShare{Share: sh})
			v := wallet.View{ID: timeID(b, at, "vw_"), DocumentID: sh.DocumentID, DocumentType: wallet.IDCard,
				OwnerIIN: owner, ViewerKind: wallet.ViewerCitizen, ViewerID: fmt.Sprintf("6%011d", (i*7)%citizens),
				Channel: wallet.ChannelQR, At: at, LogIndex: -1}
			redeems = append(redeems, wallet.RedeemShare{ShareID: sh.ID, View: v})
		}
		if _, err := s.commit(ctx, wallet.Change{Ops: creates}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.commit(ctx, wallet.Change{Ops: redeems}); err != nil {
			b.Fatal(err)
		}
	}
}

// timeID is a share's or a view's id as the service makes it at at.
func timeID(b *testing.B, at time.Time, prefix string) string {
	id, err := wallet.NewTimeID(rand.Reader, at, prefix)
	if err != nil {
		b.Fatal(err)
	}
	return id
}
