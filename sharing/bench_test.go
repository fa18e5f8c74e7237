package sharing_test

import (
	"testing"
)

// BenchmarkQR measures the QR endpoint's work: a drawn image served from
// the cache (durable read of the share included), and a first drawing.
func BenchmarkQR(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		e := newEnv(b, memorySQLite)
		doc, o := e.open(b, 0, 1)
		if _, err := e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 0); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first", func(b *testing.B) {
		e := newEnv(b, memorySQLite)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			doc, o := e.open(b, 0, 1)
			b.StartTimer()
			if _, err := e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRedeemToken measures one redemption of a fresh share's token on
// memory + SQLite: the ticket spent, the view committed.
func BenchmarkRedeemToken(b *testing.B) {
	e := newEnv(b, memorySQLite)
	v := viewer(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		_, o := e.open(b, 0, 1)
		b.StartTimer()
		if _, err := e.svc.RedeemToken(ctx, v, o.Token); err != nil {
			b.Fatal(err)
		}
	}
}
