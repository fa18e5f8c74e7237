package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet/wallettest"
)

// The walk-through: a centre and an operator from the CLI, an
// upload confirmed with the code from the SMS outbox, the owner's exact
// bytes, a state body with a basis, a bank refused, /v1/verify naming the
// operator, and the purge after QUJAT_DUPLICATE_RETENTION.
func TestDuplicates_WalkThroughFromCentreToPurge(t *testing.T) {
	skipIfShort(t)
	duplicatesWalkThrough(t, map[string]string{"QUJAT_DATA_DIR": t.TempDir(), "QUJAT_SMS_INBOUND_SECRET": "gateway-secret-for-tests"})
}

func TestDuplicates_WalkThroughOnPostgresAndRedis(t *testing.T) {
	skipIfShort(t)
	duplicatesWalkThrough(t, map[string]string{"QUJAT_DATA_DIR": t.TempDir(), "QUJAT_DATABASE_URL": wallettest.PostgresSchemaURL(t),
		"QUJAT_REDIS_URL": shortlivedtest.RedisURL(t), "QUJAT_REDIS_PREFIX": shortlivedtest.UniquePrefix(t), "QUJAT_DEV": "1"})
}

func duplicatesWalkThrough(t *testing.T, env map[string]string) {
	env["QUJAT_DUPLICATE_RETENTION"] = "3s"
	getenv := func(k string) string { return env[k] }
	base := startService(t, env)
	c := client{t, base}
	cli := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), args, getenv, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	centre := regexp.MustCompile(`client_id:\s+(\S+)`).FindStringSubmatch(cli("clients", "create", "--name", "Centre No 1", "--kind", "service_centre"))[1]
	staffID := regexp.MustCompile(`staff_id:\s+(\S+)`).FindStringSubmatch(cli("staff", "create", "--organisation", centre, "--iin", "900903412710", "--name", "Aigerim Nurlanova", "--role", "operator"))[1]
	gov := regexp.MustCompile(`client_id:\s+(\S+)\s+client_secret:\s+(\S+)`).FindStringSubmatch(cli("clients", "create", "--name", "Ministry", "--kind", "gov", "--document-types", "id_card"))
	bank := regexp.MustCompile(`client_id:\s+(\S+)\s+client_secret:\s+(\S+)`).FindStringSubmatch(cli("clients", "create", "--name", "Bank", "--kind", "bank", "--document-types", "id_card"))
	orgToken := func(id, secret string) string {
		res, err := http.PostForm(base+"/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return regexp.MustCompile(`"access_token":"([^"]+)"`).FindStringSubmatch(string(b))[1]
	}
	lastCode := func(phone string) string {
		_, sms := c.call("GET", "/v1/dev/sms?to="+strings.ReplaceAll(phone, "+", "%2B"), "", nil)
		return code6.FindString(sms["messages"].([]any)[0].(map[string]any)["text"].(string))
	}

	_, ch := c.call("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": "900903412710"})
	_, tok := c.call("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch["challenge_id"].(string), "code": lastCode("+77021337514")})
	op := tok["access_token"].(string)

	scan := []byte("%PDF-1.4\n% a marriage certificate\n\x00\x01\x02\xfe\xff\n%%EOF\n")
	upload := func(fields map[string]string, name string, content []byte) (int, []byte) {
		t.Helper()
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		form := map[string]string{"iin": "880412310009", "type": "marriage_certificate", "number": "I-AB 123456", "issued_on": "2015-06-01", "issued_by": "Registry office"}
		for k, v := range fields {
			form[k] = v
		}
		for k, v := range form {
			w.WriteField(k, v)
		}
		fw, _ := w.CreateFormFile("scan", name)
		fw.Write(content)
		w.Close()
		req, _ := http.NewRequest("POST", base+"/v1/centre/duplicates", &body)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+op)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	// Bad uploads get the documented errors and send no SMS.
	elf := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0}, 64)...)
	big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("0"), 11<<20)...)
	for _, tc := range []struct {
		name    string
		fields  map[string]string
		file    string
		content []byte
		status  int
	}{
		{"unknown type", map[string]string{"type": "casino_chip"}, "a.pdf", scan, 400},
		{"an executable renamed .pdf", nil, "passport.pdf", elf, 415},
		{"11 MiB", nil, "big.pdf", big, 413},
	} {
		if st, b := upload(tc.fields, tc.file, tc.content); st != tc.status || !strings.Contains(string(b), `"code":"invalid_request"`) {
			t.Errorf("%s: %d %s, want %d invalid_request", tc.name, st, b, tc.status)
		}
	}
	_, sms := c.call("GET", "/v1/dev/sms?to=%2B77011234567", "", nil)
	if n := len(sms["messages"].([]any)); n != 0 {
		t.Fatalf("refused uploads sent %d SMS", n)
	}
	// A wrong code three times ends the consent: the right one is then refused.
	st, killed := upload(nil, "marriage.pdf", scan)
	if st != 201 {
		t.Fatalf("upload: %d %s", st, killed)
	}
	killedID := regexp.MustCompile(`"id":"(dup_[^"]+)"`).FindStringSubmatch(string(killed))[1]
	right := lastCode("+77011234567")
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	for i := 0; i < 3; i++ {
		if st, _ := c.call("POST", "/v1/centre/duplicates/"+killedID+"/confirm", op, map[string]string{"code": wrong}); i < 2 && st != 401 {
			t.Fatalf("wrong code %d: %d", i, st)
		}
	}
	if st, res := c.call("POST", "/v1/centre/duplicates/"+killedID+"/confirm", op, map[string]string{"code": right}); st != 410 || res["error"].(map[string]any)["code"] != "expired" {
		t.Fatalf("the right code after three wrong ones: %d %v", st, res)
	}

	st, up := upload(nil, "marriage.pdf", scan)
	if st != 201 {
		t.Fatalf("upload: %d %s", st, up)
	}
	id := regexp.MustCompile(`"id":"(dup_[^"]+)"`).FindStringSubmatch(string(up))[1]
	st, cert := c.call("POST", "/v1/centre/duplicates/"+id+"/confirm", op, map[string]string{"code": lastCode("+77011234567")})
	if st != 200 || cert["status"] != "certified" {
		t.Fatalf("confirm: %d %v", st, cert)
	}

	get := func(path, token string) (int, []byte) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	owner := c.signIn("880412310009", "+77011234567")
	if st, b := get("/v1/duplicates/"+id+"/scan", owner); st != 200 || !bytes.Equal(b, scan) {
		t.Fatalf("owner's download: %d %q", st, b)
	}
	basis := "?basis=" + url.QueryEscape("Child benefit application 42")
	if st, b := get("/v1/gov/duplicates/"+id+"/scan", orgToken(gov[1], gov[2])); st != 400 || !strings.Contains(string(b), `"code":"invalid_request"`) {
		t.Fatalf("state body without a basis: %d %s", st, b)
	}
	if st, b := get("/v1/gov/duplicates/"+id+"/scan"+basis, orgToken(gov[1], gov[2])); st != 200 || !bytes.Equal(b, scan) {
		t.Fatalf("state body: %d", st)
	}
	if st, _ := get("/v1/gov/duplicates/"+id+"/scan"+basis, orgToken(bank[1], bank[2])); st != 403 {
		t.Fatalf("bank: %d", st)
	}
	_, v := c.call("POST", "/v1/verify", "", map[string]string{"jws": cert["jws"].(string)})
	if v["valid"] != true || v["signer"].(map[string]any)["id"] != staffID {
		t.Fatalf("verify: %v", v)
	}

	// QUJAT_DUPLICATE_RETENTION=3s: the service's purger deletes the scan
	// (its bytes first, then the tombstone with the owner's event).
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, v = c.call("POST", "/v1/verify", "", map[string]string{"jws": cert["jws"].(string)})
		if v["reason"] == "purged" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the duplicate was not purged: %v", v)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if v["valid"] != false {
		t.Fatalf("verify after the purge: %v", v)
	}
	if st, _ := get("/v1/duplicates/"+id+"/scan", owner); st != 410 {
		t.Fatalf("the owner's scan after the purge: %d", st)
	}
	if out := cli("duplicates", "purge"); !strings.Contains(out, "purged 0") {
		t.Fatalf("purge after the worker: %q", out)
	}
}
