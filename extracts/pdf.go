package extracts

import (
	"bytes"
	_ "embed"
	"sort"
	"strconv"
	"time"

	"codeberg.org/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// The fonts of every extract: DejaVu Sans (regular and bold), which have
// the Cyrillic and Kazakh letters (ә ғ қ ң ө ұ ү һ і); their licence is
// fonts/LICENSE.
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
)

// FontRegular returns the embedded regular font (for tests of its glyphs).
func FontRegular() []byte { return fontRegular }

// form is what one extract shows.
type form struct {
	Lang              locale.Lang
	Type              wallet.DocumentType
	Title             string
	Number            string
	Holder, HolderIIN string
	Issuer            string
	Registry          string // a hosted record's registry
	SignedBy          string // a hosted record's signing official
	IssuedAt          time.Time
	ValidUntil        *time.Time
	Status            string
	Fields            map[string]string
	Version           int
	Hash              string
	PrintedAt         time.Time
	URL               string
}

// render makes the one-page PDF of f. EINTERNAL if it cannot.
func render(f form) ([]byte, error) {
	qr, err := qrcode.Encode(f.URL, qrcode.Medium, 512)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "extract: QR code")
	}
	t := func(key string) string { return locale.T(f.Lang, key) }
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(18, 18, 18)
	pdf.AddUTF8FontFromBytes("dejavu", "", fontRegular)
	pdf.AddUTF8FontFromBytes("dejavu", "B", fontBold)
	pdf.SetTitle(t("extract.title")+" — "+f.Title+" № "+f.Number, true)
	pdf.SetCreator("Qujat", true)
	pdf.SetCreationDate(f.PrintedAt)
	pdf.SetModificationDate(f.PrintedAt)
	pdf.SetLang(string(f.Lang))
	pdf.AddPage()

	pdf.SetFont("dejavu", "B", 11)
	pdf.SetTextColor(90, 90, 90)
	pdf.CellFormat(120, 6, "Qujat · "+t("extract.title"), "", 1, "L", false, 0, "")
	pdf.SetTextColor(0, 0, 0)
	pdf.SetFont("dejavu", "B", 18)
	pdf.MultiCell(125, 9, f.Title+" № "+f.Number, "", "L", false)
	pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qr))
	pdf.ImageOptions("qr", 147, 14, 45, 45, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	pdf.SetFont("dejavu", "", 7)
	pdf.SetXY(140, 60)
	pdf.MultiCell(58, 3.2, t("extract.check"), "", "C", false)

	pdf.SetY(42)
	row := func(label, value string) {
		if value == "" {
			return
		}
		pdf.SetFont("dejavu", "B", 9.5)
		pdf.SetTextColor(80, 80, 80)
		pdf.SetX(18)
		pdf.MultiCell(118, 5, label, "", "L", false)
		pdf.SetFont("dejavu", "", 11)
		pdf.SetTextColor(0, 0, 0)
		pdf.SetX(18)
		pdf.MultiCell(118, 5.8, value, "", "L", false)
		pdf.Ln(1.2)
	}
	row(t("extract.status"), t("status."+f.Status))
	row(t("document.holder"), f.Holder+" ("+f.HolderIIN+")")
	row(t("document.number"), f.Number)
	row(t("extract.registry"), f.Registry)
	row(t("document.issuer"), f.Issuer)
	row(t("extract.signed_by"), f.SignedBy)
	row(t("document.issued_at"), f.IssuedAt.UTC().Format(time.DateOnly))
	if f.ValidUntil != nil {
		row(t("document.valid_until"), f.ValidUntil.UTC().Format(time.DateOnly))
	}
	names := make([]string, 0, len(f.Fields))
	for k := range f.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 0 {
		pdf.Ln(2)
		pdf.SetDrawColor(200, 200, 200)
		pdf.Line(18, pdf.GetY(), 192, pdf.GetY())
		pdf.Ln(3)
	}
	for _, k := range names {
		row(locale.Label(f.Lang, f.Type, k), f.Fields[k])
		if pdf.GetY() > 240 {
			break // one page: the rest is on the checked page
		}
	}
	pdf.SetY(252)
	pdf.SetDrawColor(200, 200, 200)
	pdf.Line(18, pdf.GetY(), 192, pdf.GetY())
	pdf.Ln(2)
	pdf.SetFont("dejavu", "", 8.5)
	foot := func(label, value string) {
		pdf.SetX(18)
		pdf.CellFormat(56, 4.6, label+":", "", 0, "L", false, 0, "")
		pdf.CellFormat(118, 4.6, value, "", 1, "L", false, 0, "")
	}
	foot(t("extract.version"), strconv.Itoa(f.Version))
	foot(t("extract.hash"), f.Hash)
	foot(t("extract.printed_at"), f.PrintedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	foot("URL", f.URL)
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "extract: PDF")
	}
	return b.Bytes(), nil
}
