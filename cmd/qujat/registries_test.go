package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/qujat/qujat/extracts/extractstest"
	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet/wallettest"
)

// The "done when", as a new user tries it with make run: the demo
// registry of licences exists with its official; the official publishes a
// licence for a demo citizen; the citizen sees it in the wallet and
// downloads its extract in Kazakh; the extract's QR code (decoded from a
// rendering of the page) opens the published record; the official revokes
// it and the page, the wallet and /v1/verify say so; the audit passes.
func TestRegistries_DemoWalkThrough(t *testing.T) {
	skipIfShort(t)
	registriesWalkThrough(t, map[string]string{"QUJAT_DATA_DIR": t.TempDir(), "QUJAT_SMS_INBOUND_SECRET": "gateway-secret-for-tests"})
}

func TestRegistries_DemoWalkThroughOnPostgresAndRedis(t *testing.T) {
	skipIfShort(t)
	registriesWalkThrough(t, map[string]string{"QUJAT_DATA_DIR": t.TempDir(), "QUJAT_DATABASE_URL": wallettest.PostgresSchemaURL(t),
		"QUJAT_REDIS_URL": shortlivedtest.RedisURL(t), "QUJAT_REDIS_PREFIX": shortlivedtest.UniquePrefix(t), "QUJAT_DEV": "1"})
}

func registriesWalkThrough(t *testing.T, env map[string]string) {
	getenv := func(k string) string { return env[k] }
	svc := startServiceStoppable(t, env)
	stopped := false
	defer func() {
		if !stopped {
			svc.stop()
		}
	}()
	base := svc.base
	c := client{t, base}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), args, getenv, &out)
		return out.String(), err
	}
	// The demo registry is there, and an administrator adds another.
	if out, err := cli("registries", "list"); err != nil || !strings.Contains(out, registries.DemoCode) || !strings.Contains(out, "licence") {
		t.Fatalf("registries list: %v %q", err, out)
	}
	out, err := cli("clients", "create", "--name", "Ministry of Transport", "--kind", "gov", "--document-types", "id_card")
	if err != nil {
		t.Fatal(err)
	}
	gov := regexp.MustCompile(`client_id:\s+(\S+)`).FindStringSubmatch(out)[1]
	if out, err := cli("registries", "create", "--code", "taxi", "--name", "Taxi licences", "--organisation", gov, "--document-type", "licence"); err != nil || !strings.Contains(out, "/r/taxi/") {
		t.Fatalf("registries create: %v %q", err, out)
	}
	if _, err := cli("registries", "create", "--code", "taxi", "--name", "Again", "--organisation", gov, "--document-type", "licence"); err == nil {
		t.Fatal("a second registry with the same code was made")
	}
	if _, err := cli("registries", "create", "--code", "x", "--name", "Bad", "--organisation", gov, "--document-type", "passport"); err == nil {
		t.Fatal("a registry of passports was made")
	}

	// The demo official signs in and publishes a licence for Aidos.
	lastCode := func(phone string) string {
		_, sms := c.call("GET", "/v1/dev/sms?to="+strings.ReplaceAll(phone, "+", "%2B"), "", nil)
		return code6.FindString(sms["messages"].([]any)[0].(map[string]any)["text"].(string))
	}
	_, ch := c.call("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": string(registries.DemoOfficialIIN)})
	st, tok := c.call("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch["challenge_id"].(string), "code": lastCode("+77764322977")})
	if st != 200 {
		t.Fatalf("official's sign-in: %d %v", st, tok)
	}
	off := tok["access_token"].(string)
	st, d := c.call("POST", "/v1/registries/licences/records", off, map[string]any{
		"holder": map[string]string{"iin": "880412310009"},
		"fields": map[string]string{"activity": "Дәріхана қызметі", "address": "Астана, Абай даңғылы 1"},
	})
	if st != 201 {
		t.Fatalf("draft: %d %v", st, d)
	}
	number := d["number"].(string)
	// A draft is neither public nor in the holder's wallet.
	if st, _ := c.call("GET", "/r/licences/"+number, "", nil); st != 404 {
		t.Fatalf("a draft's public page: %d", st)
	}
	aidosEarly := c.signIn("880412310009", "+77011234567")
	if _, m := c.call("GET", "/v1/documents", aidosEarly, nil); strings.Contains(fmt.Sprint(m), number) {
		t.Fatalf("the holder's wallet shows a draft: %v", m)
	}
	if st, p := c.call("POST", "/v1/registries/licences/records/"+number+"/sign", off, nil); st != 200 || p["status"] != "published" {
		t.Fatalf("sign: %d %v", st, p)
	}
	// Another body's official cannot touch it.
	out, err = cli("staff", "create", "--organisation", gov, "--iin", "651123364200", "--name", "Berik Kasymov", "--role", "official")
	if err != nil {
		t.Fatal(err)
	}
	_, ch = c.call("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": "651123364200"})
	_, tok = c.call("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch["challenge_id"].(string), "code": lastCode("+77773293507")})
	if st, _ := c.call("POST", "/v1/registries/licences/records/"+number+"/revoke", tok["access_token"].(string), map[string]string{"reason": "not mine"}); st != 403 {
		t.Fatalf("another body's official revokes: %d", st)
	}

	// The citizen sees it in the wallet and downloads the extract in Kazakh.
	aidos := c.signIn("880412310009", "+77011234567")
	licence := func() map[string]any {
		_, m := c.call("GET", "/v1/documents", aidos, nil)
		for _, d := range m["documents"].([]any) {
			if d := d.(map[string]any); d["type"] == "licence" && d["number"] == number {
				return d
			}
		}
		t.Fatalf("no licence %s in the wallet: %v", number, m)
		return nil
	}
	doc := licence()
	if doc["status"] != "valid" || doc["source"] != "registry:licences" {
		t.Fatalf("the wallet's licence: %v", doc)
	}
	req, _ := http.NewRequest("GET", base+"/v1/documents/"+doc["id"].(string)+"/extract.pdf?lang=kk", nil)
	req.Header.Set("Authorization", "Bearer "+aidos)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("extract: %d %s", res.StatusCode, pdf)
	}
	if text := extractstest.Text(t, pdf); !strings.Contains(text, "Үзінді көшірме") || !strings.Contains(text, "Дәріхана қызметі") || !strings.Contains(text, registries.DemoOfficialName) {
		t.Fatalf("the extract's text:\n%s", text)
	}
	// The phone scans the QR code and opens what it says.
	qr := extractstest.QR(t, pdf)
	if !strings.HasPrefix(qr, base+"/r/licences/"+number) {
		t.Fatalf("QR code %q is not the published record on %s", qr, base)
	}
	scan := client{t, ""}
	if st, p := scan.call("GET", qr, "", nil); st != 200 || p["status"] != "valid" || p["holder"].(map[string]any)["name"] != "Aidos Nurlanov" || p["checked"] != true {
		t.Fatalf("the QR code's page: %d %v", st, p)
	}
	req, _ = http.NewRequest("GET", qr, nil)
	req.Header.Set("Accept", "text/html")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("the QR code's page in a browser: %v %v", err, res)
	} else {
		res.Body.Close()
	}

	// Amended: the extract's QR page says superseded and points to the current version.
	if st, a := c.call("POST", "/v1/registries/licences/records/"+number+"/versions", off, map[string]any{
		"fields": map[string]string{"activity": "Дәріхана қызметі", "address": "Астана, Абай даңғылы 2"}}); st != 201 || a["version"] != 2.0 {
		t.Fatalf("amend: %d %v", st, a)
	}
	if _, p := scan.call("GET", qr, "", nil); p["status"] != "valid" || p["version"] != 1.0 {
		t.Fatalf("a draft changed the published page: %v", p)
	}
	if st, p := c.call("POST", "/v1/registries/licences/records/"+number+"/sign", off, nil); st != 200 || p["version"] != 2.0 {
		t.Fatalf("sign v2: %d %v", st, p)
	}
	if _, p := scan.call("GET", qr, "", nil); p["status"] != "superseded" || p["current_version"] != 2.0 || p["current_url"] != base+"/r/licences/"+number {
		t.Fatalf("the old extract's QR page: %v", p)
	}
	if doc := licence(); doc["version"] != 2.0 || doc["fields"].(map[string]any)["address"] != "Астана, Абай даңғылы 2" {
		t.Fatalf("the wallet after the amendment: %v", doc)
	}

	// Revoked: the page, the wallet and /v1/verify say so at once.
	st, rv := c.call("POST", "/v1/registries/licences/records/"+number+"/revoke", off, map[string]string{"reason": "Licence withdrawn"})
	if st != 200 || rv["status"] != "revoked" {
		t.Fatalf("revoke: %d %v", st, rv)
	}
	if _, p := c.call("GET", "/r/licences/"+number, "", nil); p["status"] != "revoked" || p["reason"] != "Licence withdrawn" {
		t.Fatalf("the page after revoking: %v", p)
	}
	if _, p := scan.call("GET", qr, "", nil); p["record_status"] != "revoked" || p["status"] != "superseded" {
		t.Fatalf("the extract's QR page after revoking: %v", p)
	}
	if doc := licence(); doc["status"] != "revoked" {
		t.Fatalf("the wallet after revoking: %v", doc)
	}
	for _, jws := range []any{doc["jws"], rv["jws"]} {
		if _, v := c.call("POST", "/v1/verify", "", map[string]string{"jws": jws.(string)}); v["valid"] != false || v["status"] != "revoked" {
			t.Fatalf("verify after revoking: %v", v)
		}
	}
	// Every publication is a leaf: the audit of the log and its rows passes.
	svc.stop()
	stopped = true
	if out, err := cli("audit", "verify"); err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
}
