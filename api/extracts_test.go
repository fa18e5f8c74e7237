package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/qujat/qujat/extracts/extractstest"
	"github.com/qujat/qujat/wallet"
)

// pathOf is the path of a URL the service printed (its public base is
// https://qujat.test in these tests).
func pathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host != "qujat.test" {
		t.Fatalf("not a URL of the service: %q", raw)
	}
	return u.Path
}

func TestExtracts_AHostedRecordsQROpensItsVersionWhichSaysSupersededAfterAnAmendment(t *testing.T) {
	ts := newTestServer(t)
	off := ts.hostedRegistry("pharma", officialIIN, "Serik Official")
	holder := ts.signIn(licenceHolder)
	number := wantStatus(t, "create", ts.do("POST", "/v1/registries/pharma/records", off, map[string]any{
		"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": "Дәріхана қызметі"},
	}), 201)["number"].(string)
	wantStatus(t, "sign", ts.do("POST", "/v1/registries/pharma/records/"+number+"/sign", off, nil), 200)
	doc := ts.walletLicence(holder.Access)

	// The extract in Kazakh: text, one page, the QR code of version 1's page.
	r := ts.do("GET", "/v1/documents/"+doc["id"].(string)+"/extract.pdf?lang=kk", holder.Access, nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/pdf" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("extract: %d %v", r.Status, r.Header)
	}
	text := extractstest.Text(t, r.Body)
	for _, w := range []string{"Лицензия", "Үзінді көшірме", "Қызмет түрі", "Дәріхана қызметі", "Aidos Nurlanov", "Serik Official", "Жарамды", number} {
		if !strings.Contains(text, w) {
			t.Errorf("%q not in the extract:\n%s", w, text)
		}
	}
	if n := extractstest.Pages(t, r.Body); n != 1 {
		t.Fatalf("%d pages", n)
	}
	qr := extractstest.QR(t, r.Body)
	if pathOf(t, qr) != "/r/pharma/"+number+"/versions/1" || r.Header.Get("X-Qujat-Extract-Url") != qr {
		t.Fatalf("QR code: %q (header %q)", qr, r.Header.Get("X-Qujat-Extract-Url"))
	}
	page := wantStatus(t, "QR page", ts.doWith("GET", pathOf(t, qr), "", nil, map[string]string{"Accept": "application/json"}), 200)
	if page["status"] != "valid" || page["version"] != 1.0 || page["checked"] != true || !strings.Contains(text, page["hash"].(string)) {
		t.Fatalf("QR page before the amendment (the extract prints its hash): %v", page)
	}
	// The Russian one reads in Russian.
	ru := ts.do("GET", "/v1/documents/"+doc["id"].(string)+"/extract.pdf?lang=ru", holder.Access, nil)
	if text := extractstest.Text(t, ru.Body); !strings.Contains(text, "Выписка") || !strings.Contains(text, "Вид деятельности") || !strings.Contains(text, "Действителен") {
		t.Fatalf("Russian extract:\n%s", text)
	}

	// Amended: the old extract's page says superseded and points to the current version.
	wantStatus(t, "amend", ts.do("POST", "/v1/registries/pharma/records/"+number+"/versions", off, map[string]any{"fields": map[string]string{"activity": "Pharmacy, wholesale"}}), 201)
	wantStatus(t, "sign v2", ts.do("POST", "/v1/registries/pharma/records/"+number+"/sign", off, nil), 200)
	page = ts.doWith("GET", pathOf(t, qr), "", nil, map[string]string{"Accept": "application/json"}).JSON(t)
	if page["status"] != "superseded" || page["current_version"] != 2.0 || pathOf(t, page["current_url"].(string)) != "/r/pharma/"+number {
		t.Fatalf("the old extract's page: %v", page)
	}
	html := ts.doWith("GET", pathOf(t, qr)+"?lang=en", "", nil, map[string]string{"Accept": "text/html"})
	if !strings.Contains(string(html.Body), "Superseded") || !strings.Contains(string(html.Body), "https://qujat.test/r/pharma/"+number) {
		t.Fatalf("the old extract's HTML page: %s", html.Body)
	}
	// Revoked: the old extract's page and the current one say so.
	wantStatus(t, "revoke", ts.do("POST", "/v1/registries/pharma/records/"+number+"/revoke", off, map[string]string{"reason": "Withdrawn"}), 200)
	if p := ts.doWith("GET", "/r/pharma/"+number, "", nil, map[string]string{"Accept": "application/json"}).JSON(t); p["status"] != "revoked" {
		t.Fatalf("current page after revoking: %v", p)
	}
	if p := ts.doWith("GET", pathOf(t, qr), "", nil, map[string]string{"Accept": "application/json"}).JSON(t); p["status"] != "superseded" || p["record_status"] != "revoked" {
		t.Fatalf("old page after revoking: %v", p)
	}
	// Each extract is an event in the owner's history.
	if body := string(ts.do("GET", "/v1/me/history", holder.Access, nil).Body); strings.Count(body, wallet.EventExtractMade) != 2 {
		t.Fatalf("history: %s", body)
	}
}

func TestExtracts_AnyDocumentsQROpensItsCheckPageWhichFollowsTheDocument(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.signIn(licenceHolder)
	docs := ts.do("GET", "/v1/documents", owner.Access, nil).JSON(t)["documents"].([]any)
	var doc map[string]any
	for _, d := range docs {
		if d.(map[string]any)["type"] == "id_card" {
			doc = d.(map[string]any)
		}
	}
	r := ts.do("GET", "/v1/documents/"+doc["id"].(string)+"/extract.pdf?lang=en", owner.Access, nil)
	if r.Status != 200 {
		t.Fatalf("extract: %d %s", r.Status, r.Body)
	}
	qr := extractstest.QR(t, r.Body)
	path := pathOf(t, qr)
	id := strings.TrimPrefix(path, "/e/")
	if !strings.HasPrefix(id, "ext_") || len(id) < 26 || r.Header.Get("X-Qujat-Extract-Id") != id {
		t.Fatalf("QR code: %q", qr)
	}
	if text := extractstest.Text(t, r.Body); !strings.Contains(text, "Identity card") || !strings.Contains(text, doc["number"].(string)) {
		t.Fatalf("extract text:\n%s", text)
	}
	check := wantStatus(t, "check page", ts.doWith("GET", path, "", nil, map[string]string{"Accept": "application/json"}), 200)
	holder := check["holder"].(map[string]any)["name"].(string)
	if check["status"] != "valid" || check["version"] != doc["version"] || check["current_version"] != doc["version"] || check["number"] != doc["number"] ||
		check["document_type"] != "id_card" || holder != "A**** N*******" || strings.Contains(string(mustJSON(t, check)), string(licenceHolder)) {
		t.Fatalf("check page: %v", check)
	}
	if page := ts.doWith("GET", path+"?lang=kk", "", nil, map[string]string{"Accept": "text/html"}); page.Status != 200 || !strings.Contains(string(page.Body), "Жарамды") || strings.Contains(string(page.Body), "Aidos") {
		t.Fatalf("check page HTML: %d %s", page.Status, page.Body)
	}
	wantStatus(t, "unknown extract", ts.do("GET", "/e/ext_aaaaaaaaaaaaaaaaaaaaaaaaaa", "", nil), 404)
	wantStatus(t, "not an extract id", ts.do("GET", "/e/doc_x", "", nil), 404)
	wantStatus(t, "bad language", ts.do("GET", "/v1/documents/"+doc["id"].(string)+"/extract.pdf?lang=de", owner.Access, nil), 400)

	// Another citizen: not found; a guardian: a ward's document.
	other := ts.signIn("620505423555")
	wantStatus(t, "another citizen", ts.do("GET", "/v1/documents/"+doc["id"].(string)+"/extract.pdf", other.Access, nil), 404)
	wantStatus(t, "no token", ts.do("GET", "/v1/documents/"+doc["id"].(string)+"/extract.pdf", "", nil), 401)
	wards := ts.do("GET", "/v1/wards/150621515423/documents", owner.Access, nil).JSON(t)["documents"].([]any)
	if len(wards) == 0 {
		t.Fatal("the ward has no documents")
	}
	wardDoc := wards[0].(map[string]any)["id"].(string)
	if r := ts.do("GET", "/v1/documents/"+wardDoc+"/extract.pdf?lang=kk", owner.Access, nil); r.Status != 200 {
		t.Fatalf("a guardian's extract of a ward's document: %d %s", r.Status, r.Body)
	}
}
