// Package extractstest reads back the PDFs of extracts as a person would:
// their text with pdftotext, and the QR code decoded from a rendering of
// the page (pdftoppm).
package extractstest

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/qujat/qujat/internal/servicetest"
)

// write puts pdf in a temporary file.
func write(t testing.TB, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "extract.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Text is the PDF's text as pdftotext extracts it.
func Text(t testing.TB, pdf []byte) string {
	t.Helper()
	pdftotext, _ := servicetest.Poppler(t)
	out, err := exec.Command(pdftotext, "-enc", "UTF-8", write(t, pdf), "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// Pages is the number of pages of the PDF (pdfinfo's count, read from
// pdftotext's form feeds).
func Pages(t testing.TB, pdf []byte) int {
	t.Helper()
	return bytes.Count([]byte(Text(t, pdf)), []byte{'\f'})
}

// Render returns the first page as a PNG at dpi.
func Render(t testing.TB, pdf []byte, dpi int) []byte {
	t.Helper()
	_, pdftoppm := servicetest.Poppler(t)
	out := filepath.Join(t.TempDir(), "page")
	if b, err := exec.Command(pdftoppm, "-png", "-r", strconv.Itoa(dpi), "-f", "1", "-l", "1", "-singlefile", write(t, pdf), out).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, b)
	}
	b, err := os.ReadFile(out + ".png")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// QR decodes the QR code on the rendered first page.
func QR(t testing.TB, pdf []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(Render(t, pdf, 150)))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("no QR code found on the rendered page: %v", err)
	}
	return res.GetText()
}
