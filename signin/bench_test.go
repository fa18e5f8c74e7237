package signin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
)

// BenchmarkStart compares a sign-in request for a registered IIN with one
// for an unknown IIN, on the embedded stores: the two must do the same work
// (the same store writes, no gateway call), so their times should be the
// same within noise. Each iteration asks for another citizen, so that no
// budget runs out.
func BenchmarkStart(b *testing.B) {
	for _, registered := range []bool{true, false} {
		name := "unknown"
		if registered {
			name = "registered"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnvOn(b, embedded)
			dir := directory{}
			iins := make([]wallet.IIN, 0, b.N)
			birth := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := 0; len(iins) < b.N; i++ {
				iin, ok := wallet.MakeIIN(birth.AddDate(0, 0, i/9000), false, 1000+i%9000)
				if !ok {
					continue
				}
				iins = append(iins, iin)
				if registered {
					dir[iin] = wallet.Citizen{IIN: iin, Name: "Bench", Phone: fmt.Sprintf("+7701%07d", len(iins)), BirthDate: birth}
				}
			}
			e.svc.Directory = dir
			b.ResetTimer()
			for i := range b.N {
				if _, err := e.svc.Start(ctx, iins[i], signin.Requester{Address: address}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
