package servicetest

import (
	"os/exec"
	"testing"
)

// Poppler returns the paths of Debian's poppler-utils pdftotext and
// pdftoppm, with which tests read back the PDFs the service makes. Without
// them t is skipped, or fails under QUJAT_TEST_REQUIRE_SERVICES=1 (CI
// installs them).
func Poppler(t testing.TB) (pdftotext, pdftoppm string) {
	t.Helper()
	text, err1 := exec.LookPath("pdftotext")
	ppm, err2 := exec.LookPath("pdftoppm")
	if err1 != nil || err2 != nil {
		Missing(t, "poppler", "pdftotext and pdftoppm (Debian's poppler-utils) are not installed")
		return "", ""
	}
	Ran(t, "poppler")
	return text, ppm
}
