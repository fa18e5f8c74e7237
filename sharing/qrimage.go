package sharing

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"sync"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/qujat/qujat/wallet"
)

// qrLevel is the error recovery of share QR codes: Medium, about 15 % of
// the symbol may be lost (to glare, a cracked screen, a thumb). Low (7 %)
// is not reliably cheaper with go-qrcode: its cost is mostly Reed–Solomon
// arithmetic, which for a share URL is sometimes less at Low and sometimes
// more (BenchmarkDrawQR/encode-*), while the symbol size rarely changes.
const qrLevel = qrcode.Medium

// drawQR returns a size×size PNG of the QR code of content: see qrModules
// and writeQRPNG.
func drawQR(content string, size int) ([]byte, error) {
	modules, err := qrModules(content)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot encode the QR code")
	}
	png, err := writeQRPNG(modules, size)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot draw the QR code")
	}
	return png, nil
}

// qrExtraVersions is how many larger versions qrModules tries when a
// symbol has a false finder pattern.
const qrExtraVersions = 3

// qrModules encodes content in the smallest QR version that holds it and
// returns its modules, the 4-module quiet zone included.
//
// go-qrcode picks the data mask by the standard's penalty score, which
// still lets through symbols (about 1 share URL in 200) whose data contain a
// false finder pattern: a place whose row and column both read
// dark-light-dark-light-dark in a finder's 1:1:3:1:1 proportions. Scanners
// of the ZXing family, scanning from the top, can take it for the
// bottom-left finder and then fail to read the code. Such a symbol is
// encoded again one version up (the same content, its modules elsewhere),
// up to qrExtraVersions times; if every one has a false finder, the
// smallest is used. About 1 share URL in 14 is encoded twice (the check
// errs on the side of caution).
func qrModules(content string) ([][]bool, error) {
	q, err := qrcode.New(content, qrLevel)
	if err != nil {
		return nil, err
	}
	modules := q.Bitmap()
	if !hasFalseFinder(modules) {
		return modules, nil
	}
	for v := q.VersionNumber + 1; v <= min(q.VersionNumber+qrExtraVersions, 40); v++ {
		next, err := qrcode.NewWithForcedVersion(content, v, qrLevel)
		if err != nil {
			return nil, err
		}
		if m := next.Bitmap(); !hasFalseFinder(m) {
			return m, nil
		}
	}
	return modules, nil // none better: the smallest
}

// hasFalseFinder reports whether modules (quiet zone of 4 included) have a
// finder-like place outside the three finder patterns, as a scanner going
// down the rows would find it: in a row, dark, light, dark, light, dark
// runs of exactly 1, 1, 3, 1 and 1 modules (a finder's size, which the
// scanner checks against the real ones), and in the column through the
// middle of the 3, roughly the same proportions (nearFinderProportions).
func hasFalseFinder(modules [][]bool) bool {
	n := len(modules)
	var runs [][2]int // start, length of each run of one colour in a row
	for y, row := range modules {
		runs = runs[:0]
		for x := 0; x < n; {
			start := x
			for x < n && row[x] == row[start] {
				x++
			}
			runs = append(runs, [2]int{start, x - start})
		}
		for i := 2; i+2 < len(runs); i++ {
			c := runs[i]
			if !row[c[0]] || !finderProportions(runs[i-2][1], runs[i-1][1], c[1], runs[i+1][1], runs[i+2][1]) {
				continue
			}
			x := c[0] + c[1]/2
			if !inFinderPattern(n, x, y) && columnLooksLikeFinder(modules, x, y) {
				return true
			}
		}
	}
	return false
}

// columnLooksLikeFinder reports whether column x, through the dark module
// at row y, reads dark, light, dark, light, dark in roughly a finder's
// proportions, y in the middle run.
func columnLooksLikeFinder(modules [][]bool, x, y int) bool {
	// runs[0] goes up from y, runs[1] down from y+1: the middle run's
	// part, then the light run, then the dark one.
	var runs [2][3]int
	for i, dir := range [2]int{-1, 1} {
		yy := y
		if dir > 0 {
			yy++
		}
		for r, dark := range [3]bool{true, false, true} {
			for yy >= 0 && yy < len(modules) && modules[yy][x] == dark {
				runs[i][r]++
				yy += dir
			}
		}
	}
	up, down := runs[0], runs[1]
	return nearFinderProportions(up[2], up[1], up[0]+down[0], down[1], down[2])
}

// finderProportions reports whether five runs are exactly a finder
// pattern's 1:1:3:1:1 modules.
func finderProportions(a, b, c, d, e int) bool {
	return a == 1 && b == 1 && c == 3 && d == 1 && e == 1
}

// nearFinderProportions reports whether five runs are roughly in a finder
// pattern's proportions, as a scanner checks a column across a row's
// candidate: 5 to 9 modules in all, each run within half a module of its
// share.
func nearFinderProportions(a, b, c, d, e int) bool {
	total := a + b + c + d + e
	if a == 0 || b == 0 || c == 0 || d == 0 || e == 0 || total < 5 || total > 9 {
		return false
	}
	module := float64(total) / 7
	near := func(run int, share float64) bool {
		diff := float64(run) - share*module
		return diff < module/2*share && -diff < module/2*share
	}
	return near(a, 1) && near(b, 1) && near(c, 3) && near(d, 1) && near(e, 1)
}

// inFinderPattern reports whether module (x, y) is in one of the three
// 7×7 finder patterns of a symbol of n modules with a 4-module quiet zone.
func inFinderPattern(n, x, y int) bool {
	in := func(v, from int) bool { return v >= from && v < from+7 }
	lo, hi := 4, n-4-7
	return (in(x, lo) || in(x, hi)) && in(y, lo) || in(x, lo) && in(y, hi)
}

// writeQRPNG draws modules (rows of dark/light modules, the quiet zone
// included, as qrcode.QRCode.Bitmap returns them) as a size×size
// black-and-white PNG. Every module is the same whole number of pixels, as
// many as fit, and the symbol is centred, the pixels left over adding to the
// quiet zone: whole-pixel modules keep every edge sharp, which scanners need
// more than they need the symbol to fill the image to the last pixel. If
// size is smaller than the number of modules, the image is one pixel per
// module instead: larger than asked, but every module is there.
//
// The PNG is 1-bit greyscale, written here rather than by image/png, whose
// encoder packs 1-bit images through an interface call per pixel (≈ 0.25 ms
// at 256 px, 4 ms at 1024 px). The image is never held whole: each row of
// modules is packed once into a row of bits and that row is compressed as
// many times as a module is tall. Rows use filter type None: the repeated
// rows compress well without filtering.
func writeQRPNG(modules [][]bool, size int) ([]byte, error) {
	n := len(modules)
	scale := size / n
	if scale < 1 {
		scale, size = 1, n
	}
	margin := (size - n*scale) / 2
	rowBytes := 1 + (size+7)/8 // filter type byte, then the pixels, 8 a byte

	var out bytes.Buffer
	out.Grow(qrPNGSizeHint(size))
	out.WriteString("\x89PNG\r\n\x1a\n")

	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(size))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(size))
	ihdr[8] = 1 // bit depth; colour type 0 (greyscale), deflate, no filter method, no interlace: zeros
	writePNGChunk(&out, "IHDR", ihdr[:])

	// IDAT, compressed straight into out; its length and CRC are filled in
	// afterwards.
	start := out.Len()
	out.WriteString("\x00\x00\x00\x00IDAT")
	z := qrZlibWriters.Get().(*zlib.Writer)
	defer qrZlibWriters.Put(z)
	z.Reset(&out)

	buf := make([]byte, 2*rowBytes)
	white, row := buf[:rowBytes], buf[rowBytes:]
	for i := 1; i < rowBytes; i++ {
		white[i] = 0xff // 1 is white; the padding bits of the last byte are white too
	}
	writeRows := func(r []byte, times int) error {
		for range times {
			if _, err := z.Write(r); err != nil {
				return err
			}
		}
		return nil
	}
	if err := writeRows(white, margin); err != nil {
		return nil, err
	}
	for _, line := range modules {
		copy(row, white)
		blank := true
		for mx, dark := range line {
			if !dark {
				continue
			}
			blank = false
			for x := margin + mx*scale; x < margin+(mx+1)*scale; x++ {
				row[1+x/8] &^= 0x80 >> (x % 8)
			}
		}
		r := row
		if blank {
			r = white
		}
		if err := writeRows(r, scale); err != nil {
			return nil, err
		}
	}
	if err := writeRows(white, size-margin-n*scale); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	b := out.Bytes()
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-8))
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], crc32.ChecksumIEEE(b[start+4:]))
	out.Write(crc[:])

	writePNGChunk(&out, "IEND", nil)
	return out.Bytes(), nil
}

// writePNGChunk appends a chunk: length, type, data, CRC of type and data.
func writePNGChunk(out *bytes.Buffer, typ string, data []byte) {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)))
	copy(hdr[4:], typ)
	crc := crc32.Update(crc32.ChecksumIEEE(hdr[4:]), crc32.IEEETable, data)
	out.Write(hdr[:])
	out.Write(data)
	binary.BigEndian.PutUint32(hdr[:4], crc)
	out.Write(hdr[:4])
}

// qrZlibWriters keeps compressors (a few hundred KB each) across images.
var qrZlibWriters = sync.Pool{New: func() any {
	z, err := zlib.NewWriterLevel(nil, zlib.BestSpeed)
	if err != nil {
		panic(err) // only for an invalid level
	}
	return z
}}

// qrPNGSizeHint is a little more than the PNG of a share's QR code at
// size pixels usually takes, so that the output grows at most once.
func qrPNGSizeHint(size int) int { return 1024 + 4*size }
