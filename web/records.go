package web

import (
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// RecordPage is a hosted registry's published record as its public page
// shows it (GET /r/{code}/{number}, …/versions/{v}).
type RecordPage struct {
	Registry, Organisation string
	DocumentType           wallet.DocumentType
	Number, Holder         string
	Status                 string // of the version shown: valid, expired, revoked or superseded
	Version                int
	CurrentVersion         int
	CurrentURL             string
	RecordStatus           string
	Fields                 map[string]string
	ValidUntil             *time.Time
	Reason                 string
	SignedBy               string
	SignedAt               time.Time
	JWS, Hash, PrevHash    string
	Checked                bool
	Versions               []RecordVersion
}

// RecordVersion is one signed version in a record's list.
type RecordVersion struct {
	Version  int
	Status   string
	SignedAt time.Time
	Hash     string
	URL      string
}

// ExtractPage is what an extract's public check page (/e/{id}) shows.
type ExtractPage struct {
	DocumentType            wallet.DocumentType
	Number, Holder, Issuer  string
	IssuedAt                time.Time
	Version, CurrentVersion int
	Hash, Status            string
	CreatedAt               time.Time
}

// recordView is the template's form of a RecordPage or an ExtractPage.
type recordView struct {
	Title, Registry, Organisation, Number, Holder, Issuer, IssuedAt string
	Status, StatusText, RecordStatusText                            string
	Version, CurrentVersion                                         int
	IsCurrent                                                       bool
	CurrentURL, ValidUntil, Reason, SignedBy, SignedAt              string
	JWS, Hash, PrevHash, MadeAt                                     string
	Checked                                                         bool
	Fields                                                          []fieldRow
	Versions                                                        []versionRow
	Extract                                                         bool
}

type versionRow struct {
	Version                         int
	StatusText, SignedAt, Hash, URL string
	Shown                           bool
}

func statusText(lang, status string) string { return locale.T(locale.Lang(lang), "status."+status) }

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// Record renders a published record's page.
func (p *Pages) Record(c echo.Context, r RecordPage) error {
	lang := p.lang(c)
	names := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	title, labels := p.documentText(lang, r.DocumentType, names)
	v := &recordView{
		Title: title, Registry: r.Registry, Organisation: r.Organisation, Number: r.Number, Holder: r.Holder,
		Status: r.Status, StatusText: statusText(lang, r.Status), RecordStatusText: statusText(lang, r.RecordStatus),
		Version: r.Version, CurrentVersion: r.CurrentVersion, IsCurrent: r.Version == r.CurrentVersion, CurrentURL: r.CurrentURL,
		Reason: r.Reason, SignedBy: r.SignedBy, SignedAt: when(r.SignedAt), JWS: r.JWS, Hash: r.Hash, PrevHash: r.PrevHash,
		Checked: r.Checked,
	}
	if r.ValidUntil != nil {
		v.ValidUntil = day(*r.ValidUntil)
	}
	for _, k := range names {
		v.Fields = append(v.Fields, fieldRow{Label: labels[k], Value: r.Fields[k]})
	}
	for _, ver := range r.Versions {
		v.Versions = append(v.Versions, versionRow{Version: ver.Version, StatusText: statusText(lang, ver.Status),
			SignedAt: when(ver.SignedAt), Hash: ver.Hash, URL: ver.URL + "?lang=" + lang, Shown: ver.Version == r.Version})
	}
	pg := p.newPage(lang)
	pg.Record = v
	pg.Title = title + " " + r.Number + " · " + text(lang, "app")
	return p.render(c, http.StatusOK, "record", pg)
}

// Extract renders an extract's public check page.
func (p *Pages) Extract(c echo.Context, e ExtractPage) error {
	lang := p.lang(c)
	title, _ := p.documentText(lang, e.DocumentType, nil)
	v := &recordView{
		Extract: true, Title: title, Number: e.Number, Holder: e.Holder, Issuer: e.Issuer, IssuedAt: day(e.IssuedAt),
		Status: e.Status, StatusText: statusText(lang, e.Status), Version: e.Version, CurrentVersion: e.CurrentVersion,
		IsCurrent: e.Version == e.CurrentVersion, Hash: e.Hash, MadeAt: when(e.CreatedAt),
	}
	pg := p.newPage(lang)
	pg.Record = v
	pg.Title = locale.T(locale.Lang(lang), "extract.title") + " · " + title + " · " + text(lang, "app")
	return p.render(c, http.StatusOK, "record", pg)
}

// lt is a text of the shared catalogue (locale), for the template.
func lt(lang, key string) string { return locale.T(locale.Lang(lang), key) }
