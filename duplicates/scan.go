package duplicates

import "bytes"

// MaxScan is the largest scan accepted: 10 MiB.
const MaxScan = 10 << 20

// Scan content types.
const (
	TypePDF  = "application/pdf"
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
)

// ScanType returns the content type of a scan judged by its first bytes
// (PDF, JPEG or PNG), never by a file name, and whether it is one of them.
func ScanType(b []byte) (string, bool) {
	switch {
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return TypePDF, true
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return TypeJPEG, true
	case bytes.HasPrefix(b, []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}):
		return TypePNG, true
	}
	return "", false
}
