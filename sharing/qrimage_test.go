package sharing

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	mathrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	qrcode "github.com/skip2/go-qrcode"
)

// Share URLs as Open makes them: a 26-character share id and 32 characters
// of secret after the public URL.
var qrTestURLs = []string{
	"https://qujat.test/s/shr_abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXYZ-_0123",
	"https://wallet.qujat.example.kz/s/shr_abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXYZ-_0123",
}

var qrTestSizes = []int{MinQRSize, MinQRSize + 1, 100, 127, 255, DefaultQRSize, 257, 500, 1000, MaxQRSize - 1, MaxQRSize}

func TestDrawQR_DecodesToExactlyTheContentAtEverySize(t *testing.T) {
	for _, url := range qrTestURLs {
		for _, size := range qrTestSizes {
			t.Run(strconv.Itoa(len(url))+"chars/"+strconv.Itoa(size)+"px", func(t *testing.T) {
				b, err := drawQR(url, size)
				if err != nil {
					t.Fatal(err)
				}
				img := decodePNG(t, b)
				if sz := img.Bounds().Size(); sz.X != size || sz.Y != size {
					t.Errorf("image is %v, want %d×%d", sz, size, size)
				}
				if got := decodeQRImage(t, img); got != url {
					t.Errorf("QR encodes %q, want %q", got, url)
				}
			})
		}
	}
}

// Share URLs whose smallest Medium symbol, as go-qrcode masks it, has a
// false finder pattern: gozxing does not read them at 256 px.
var qrFalseFinderURLs = []string{
	"https://qujat.test/s/shr_g3A31DW1Bl4EG0IZ82Dy93szuJ.eo1_t2bF1bqq-XqkSp2Jcy-V9hLw",
	"https://qujat.test/s/shr_RUO7bV_-m7Pyx3OFR3pOr17PO_.JdSs6w4i1Ylw1VJFEwz_t9K9oalQ",
	"https://qujat.test/s/shr_RWr01dn3MeDs1oomJEfSBWTmcR.sDQrqqM0bgrR2LSMeif_ykQTfPWg",
}

func TestDrawQR_SymbolWithAFalseFinderPatternIsEncodedOneVersionUp(t *testing.T) {
	for _, url := range qrFalseFinderURLs {
		q, err := qrcode.New(url, qrLevel)
		if err != nil {
			t.Fatal(err)
		}
		if !hasFalseFinder(q.Bitmap()) {
			t.Errorf("%s: version %d symbol has no false finder", url, q.VersionNumber)
		}
		modules, err := qrModules(url)
		if err != nil {
			t.Fatal(err)
		}
		if len(modules) <= len(q.Bitmap()) || hasFalseFinder(modules) {
			t.Errorf("%s: %d modules, false finder %v", url, len(modules), hasFalseFinder(modules))
		}
		for _, size := range []int{MinQRSize, DefaultQRSize, MaxQRSize} {
			b, err := drawQR(url, size)
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeQRImage(t, decodePNG(t, b)); got != url {
				t.Errorf("%d px: QR encodes %q", size, got)
			}
		}
	}
}

func TestDrawQR_RandomShareURLsDecode(t *testing.T) {
	r := mathrand.New(mathrand.NewPCG(8, 8))
	secret := make([]byte, 40)
	for range 300 {
		for i := range secret {
			secret[i] = byte(r.Uint32())
		}
		s := base64.RawURLEncoding.EncodeToString(secret)
		url := "https://qujat.test/s/shr_" + strings.ToLower(s[:26]) + "." + s[26:]
		b, err := drawQR(url, DefaultQRSize)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeQRImage(t, decodePNG(t, b)); got != url {
			t.Fatalf("QR encodes %q, want %q", got, url)
		}
	}
}

func TestDrawQR_EveryModuleIsAWholeBlockOfPixelsInAQuietZone(t *testing.T) {
	sizes := qrTestSizes
	if testing.Short() {
		// Every pixel of the large images takes seconds: up to the default.
		sizes = nil
		for _, s := range qrTestSizes {
			if s <= DefaultQRSize {
				sizes = append(sizes, s)
			}
		}
	}
	for _, url := range qrTestURLs {
		q, err := qrcode.New(url, qrLevel)
		if err != nil {
			t.Fatal(err)
		}
		modules := q.Bitmap()
		n := len(modules)
		if n != q.VersionNumber*4+17+8 {
			t.Fatalf("%d modules a side for version %d: the bitmap has no 4-module quiet zone", n, q.VersionNumber)
		}
		for _, size := range sizes {
			b, err := writeQRPNG(modules, size)
			if err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, b)
			scale := size / n
			margin := (size - n*scale) / 2
			if scale < 1 {
				t.Fatalf("%d px is too small for %d modules", size, n)
			}
			if size-n*scale >= n {
				t.Errorf("%d px: modules of %d px leave %d px over", size, scale, size-n*scale)
			}
			for y := range size {
				for x := range size {
					mx, my := (x-margin)/scale, (y-margin)/scale
					want := false
					if x >= margin && y >= margin && mx < n && my < n {
						want = modules[my][mx]
					}
					if got := isDark(t, img.At(x, y)); got != want {
						t.Fatalf("%d px: pixel (%d,%d) dark=%v, want %v (module (%d,%d))", size, x, y, got, want, mx, my)
					}
				}
			}
		}
	}
}

func TestDrawQR_SizeSmallerThanTheModulesGivesOnePixelPerModule(t *testing.T) {
	url := qrTestURLs[1]
	for len(url) < 300 {
		url += "/abcdefghij"
	}
	q, err := qrcode.New(url, qrLevel)
	if err != nil {
		t.Fatal(err)
	}
	n := len(q.Bitmap())
	if n <= MinQRSize {
		t.Fatalf("the test needs more than %d modules, has %d", MinQRSize, n)
	}
	b, err := drawQR(url, MinQRSize)
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b)
	if sz := img.Bounds().Size(); sz.X != n || sz.Y != n {
		t.Errorf("image is %v, want %d×%d", sz, n, n)
	}
	if got := decodeQRImage(t, img); got != url {
		t.Errorf("QR encodes %q, want %q", got, url)
	}
}

func TestDrawQR_ConcurrentDrawingsGiveTheSameBytes(t *testing.T) {
	want, err := drawQR(qrTestURLs[0], DefaultQRSize)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for _, size := range []int{DefaultQRSize, MaxQRSize - i} {
				got, err := drawQR(qrTestURLs[0], size)
				if err != nil {
					t.Error(err)
					return
				}
				if size == DefaultQRSize && !bytes.Equal(got, want) {
					t.Error("a concurrent drawing differs")
				}
			}
		})
	}
	wg.Wait()
}

func TestQRPNGSizeHint_CoversTheImage(t *testing.T) {
	for _, url := range qrTestURLs {
		for _, size := range qrTestSizes {
			b, err := drawQR(url, size)
			if err != nil {
				t.Fatal(err)
			}
			if testing.Verbose() {
				t.Logf("%d chars, %d px: %d bytes", len(url), size, len(b))
			}
			if len(b) > qrPNGSizeHint(size) {
				t.Errorf("%d px: PNG of %d bytes, hint %d", size, len(b), qrPNGSizeHint(size))
			}
		}
	}
}

func decodePNG(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func decodeQRImage(t testing.TB, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("gozxing bitmap: %v", err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the QR image does not decode: %v", err)
	}
	return res.GetText()
}

func isDark(t testing.TB, c color.Color) bool {
	t.Helper()
	switch y := color.GrayModel.Convert(c).(color.Gray).Y; y {
	case 0:
		return true
	case 0xff:
		return false
	default:
		t.Fatalf("grey pixel %d", y)
		return false
	}
}

// BenchmarkDrawQR measures a drawing (QR encoding and PNG) at the default
// size, over share URLs with random secrets (so that it includes the
// symbols encoded twice, qrModules), and its parts: the encoding at the two
// error-recovery levels considered, the false-finder check, and the PNG at
// the smallest, default and largest sizes.
func BenchmarkDrawQR(b *testing.B) {
	r := mathrand.New(mathrand.NewPCG(1, 2))
	urls := make([]string, 64)
	secret := make([]byte, 40)
	for i := range urls {
		for j := range secret {
			secret[j] = byte(r.Uint32())
		}
		s := base64.RawURLEncoding.EncodeToString(secret)
		urls[i] = "https://qujat.test/s/shr_" + strings.ToLower(s[:26]) + "." + s[26:]
	}
	b.Run("all-"+strconv.Itoa(DefaultQRSize), func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := drawQR(urls[i%len(urls)], DefaultQRSize); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	url := urls[0]
	for _, lv := range []struct {
		name  string
		level qrcode.RecoveryLevel
	}{{"Medium", qrcode.Medium}, {"Low", qrcode.Low}} {
		b.Run("encode-"+lv.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q, err := qrcode.New(url, lv.level)
				if err != nil {
					b.Fatal(err)
				}
				_ = q.Bitmap()
			}
		})
	}
	q, err := qrcode.New(url, qrLevel)
	if err != nil {
		b.Fatal(err)
	}
	modules := q.Bitmap()
	b.Run("falsefinder", func(b *testing.B) {
		for b.Loop() {
			hasFalseFinder(modules)
		}
	})
	for _, size := range []int{MinQRSize, DefaultQRSize, MaxQRSize} {
		b.Run("png-"+strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := writeQRPNG(modules, size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
