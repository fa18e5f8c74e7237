package api

import (
	"bytes"
	"html/template"
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// casePage is the readable rendering of a case for people: the application
// with its fields, the documents with their digests and who signed them,
// the days of sending and receipt, the events and the result.
var casePage = template.Must(template.New("case").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.T.title}} {{.Case.ID}}</title>
<style>body{font-family:"DejaVu Sans",sans-serif;max-width:48em;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em;text-align:left;vertical-align:top}
code{font-size:.8em;word-break:break-all}</style></head><body>
<h1>{{.T.title}} <code>{{.Case.ID}}</code></h1>
<table>
<tr><th>{{.T.service}}</th><td>{{.Case.Service}}</td></tr>
<tr><th>{{.T.applicant}}</th><td>{{.Applicant}} ({{.Case.OwnerIIN}})</td></tr>
<tr><th>{{.T.centre}}</th><td>{{.Centre}}</td></tr>
<tr><th>{{.T.agency}}</th><td>{{.Agency}}</td></tr>
<tr><th>{{.T.status}}</th><td>{{.Case.Status}}</td></tr>
<tr><th>{{.T.sent}}</th><td>{{.Case.DayOfSending}}</td></tr>
<tr><th>{{.T.received}}</th><td>{{.Case.DayOfReceipt}}</td></tr>
</table>
<h2>{{.T.fields}}</h2>
<table>{{range .Fields}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>
<h2>{{.T.documents}}</h2>
<table>{{range .Case.Items}}<tr><td>{{.Title}}<br><small>{{.Kind}}, {{.ContentType}}, {{.Size}} B</small></td>
<td>SHA-256 <code>{{.SHA256}}</code><br>{{$.T.signed_by}}: {{$.Operator}}, {{.SignedAt.Format "2006-01-02 15:04 MST"}}</td></tr>{{end}}</table>
<h2>{{.T.events}}</h2>
<table>{{range .Case.Events}}<tr><td>{{.Seq}}</td><td>{{.Status}}</td><td>{{.At.Format "2006-01-02 15:04 MST"}}</td><td>{{.Note}}</td></tr>{{end}}</table>
<h2>{{.T.result}}</h2>
{{with .Case.Result}}<p>{{.Title}} ({{.ContentType}}), {{.ReceivedAt.Format "2006-01-02 15:04 MST"}}<br>SHA-256 <code>{{.SHA256}}</code></p>
{{else}}<p>{{.T.no_result}}</p>{{end}}
</body></html>
`))

type casePageField struct{ Name, Value string }

// caseView renders a case of the operator's centre as HTML (?lang=).
func (s *Server) caseView(c echo.Context) error {
	lang, err := locale.FromRequest(c.Request())
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	by := acting(c)
	cs, err := s.Cases.Get(ctx, by, c.Param("id"))
	if err != nil {
		return err
	}
	t := map[string]string{}
	for _, k := range []string{"title", "service", "applicant", "agency", "centre", "status", "fields", "documents", "signed_by", "sent", "received", "events", "result", "no_result"} {
		t[k] = locale.T(lang, "case.page."+k)
	}
	fields := make([]casePageField, 0, len(cs.Application))
	for k, v := range cs.Application {
		fields = append(fields, casePageField{k, v})
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	name := func(id string) string {
		if s.ClientName != nil {
			if n := s.ClientName(ctx, id); n != "" {
				return n
			}
		}
		return id
	}
	applicant := ""
	if s.Directory != nil {
		if cz, err := s.Directory.Citizen(ctx, cs.OwnerIIN); err == nil {
			applicant = cz.Name
		}
	}
	var b bytes.Buffer
	if err := casePage.Execute(&b, map[string]any{"Lang": string(lang), "T": t, "Case": cs, "Fields": fields,
		"Centre": name(cs.CentreID), "Agency": name(cs.AgencyID), "Applicant": applicant, "Operator": s.operatorName(c, cs.OperatorID)}); err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "render the case")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, b.Bytes())
}

// operatorName is the staff member's name and id.
func (s *Server) operatorName(c echo.Context, id string) string {
	if s.Staff != nil {
		if m, err := s.Staff.Store.StaffMember(c.Request().Context(), id); err == nil {
			return m.Name + " (" + id + ")"
		}
	}
	return id
}
