package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet/wallettest"
)

// The walk-through as a new user does it, through the commands: a
// centre, an operator and an agency registered from the CLI, `qujat
// agency-sim` serving, a case with a scan and an e-duplicate sent, the
// receipt, two statuses and a signed result back, the citizen's view, the
// result issued, `qujat exchange verify` passing; then `qujat keys
// compromise` of the operator's key tells the agency.
func TestCases_WalkThroughWithTheAgencySimulator(t *testing.T) {
	skipIfShort(t)
	casesWalkThrough(t, map[string]string{"QUJAT_DATA_DIR": t.TempDir()})
}

func TestCases_WalkThroughWithTheAgencySimulatorOnPostgresAndRedis(t *testing.T) {
	skipIfShort(t)
	casesWalkThrough(t, map[string]string{"QUJAT_DATA_DIR": t.TempDir(), "QUJAT_DATABASE_URL": wallettest.PostgresSchemaURL(t),
		"QUJAT_REDIS_URL": shortlivedtest.RedisURL(t), "QUJAT_REDIS_PREFIX": shortlivedtest.UniquePrefix(t), "QUJAT_DEV": "1"})
}

func casesWalkThrough(t *testing.T, env map[string]string) {
	getenv := func(k string) string { return env[k] }
	base := startService(t, env)
	c := client{t, base}
	cli := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), args, getenv, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	id := func(re, s string) string {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no %s in %s", re, s)
		}
		return m[1]
	}
	centre := id(`client_id:\s+(\S+)`, cli("clients", "create", "--name", "Centre No 1", "--kind", "service_centre"))
	gov := id(`client_id:\s+(\S+)`, cli("clients", "create", "--name", "Migration service", "--kind", "gov", "--document-types", "id_card"))
	keyID := id(`key_id:\s+(\S+)`, cli("staff", "create", "--organisation", centre, "--iin", "900903412710", "--name", "Aigerim Nurlanova", "--role", "operator"))

	// The agency: its keys, its registration, the simulator serving.
	keys := filepath.Join(t.TempDir(), "agency")
	out := cli("agency-sim", "keygen", "--out", keys)
	sigFile, encFile := id(`signing key:\s+(\S+)`, out), id(`encryption key:\s+(\S+)`, out)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cli("agencies", "register", "--organisation", gov, "--endpoint", "http://"+addr+"/packages", "--signing-key", sigFile,
		"--encryption-key", encFile, "--time-zone", "Asia/Almaty", "--calendar", "kz")
	if list := cli("agencies", "list"); !strings.Contains(list, gov) || !strings.Contains(list, "current") {
		t.Fatalf("agencies list: %s", list)
	}
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() {
		simDone <- run(ctx, []string{"agency-sim", "--addr", addr, "--keys", keys, "--qujat", base, "--delay", "100ms"}, getenv, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		<-simDone
	})
	for i := 0; i < 400; i++ {
		if r, err := http.Get("http://" + addr + "/healthz"); err == nil {
			r.Body.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}

	lastCode := func(phone string) string {
		_, sms := c.call("GET", "/v1/dev/sms?to="+strings.ReplaceAll(phone, "+", "%2B"), "", nil)
		return code6.FindString(sms["messages"].([]any)[0].(map[string]any)["text"].(string))
	}
	_, ch := c.call("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": "900903412710"})
	_, tok := c.call("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch["challenge_id"].(string), "code": lastCode("+77021337514")})
	op := tok["access_token"].(string)
	post := func(path, field string, fields map[string]string, content []byte) (int, string) {
		t.Helper()
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		for k, v := range fields {
			w.WriteField(k, v)
		}
		fw, _ := w.CreateFormFile(field, "scan.pdf")
		fw.Write(content)
		w.Close()
		req, _ := http.NewRequest("POST", base+path, &body)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+op)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	scan := []byte("%PDF-1.4\n% a marriage certificate\n%%EOF\n")
	st, b := post("/v1/centre/duplicates", "scan", map[string]string{"iin": "880412310009", "type": "marriage_certificate", "number": "I-AB 1",
		"issued_on": "2015-06-01", "issued_by": "Registry office"}, scan)
	if st != 201 {
		t.Fatalf("duplicate: %d %s", st, b)
	}
	dup := id(`"id":"(dup_[^"]+)"`, b)
	if st, _ := c.call("POST", "/v1/centre/duplicates/"+dup+"/confirm", op, map[string]string{"code": lastCode("+77011234567")}); st != 200 {
		t.Fatalf("confirm: %d", st)
	}

	st, opened := c.call("POST", "/v1/centre/cases", op, map[string]any{"iin": "880412310009", "service": "registration at the place of residence",
		"agency": gov, "application": map[string]string{"address": "Astana, Mangilik El 8, 12"}})
	if st != 201 {
		t.Fatalf("open: %d %v", st, opened)
	}
	caseID := opened["id"].(string)
	if st, b := post("/v1/centre/cases/"+caseID+"/documents", "file", map[string]string{"title": "Lease agreement"}, []byte("%PDF-1.4\n% lease\n%%EOF\n")); st != 201 {
		t.Fatalf("attach scan: %d %s", st, b)
	}
	if st, b := c.call("POST", "/v1/centre/cases/"+caseID+"/documents", op, map[string]string{"duplicate_id": dup}); st != 201 {
		t.Fatalf("attach duplicate: %d %v", st, b)
	}
	if st, b := c.call("POST", "/v1/centre/cases/"+caseID+"/send", op, nil); st != 202 {
		t.Fatalf("send: %d %v", st, b)
	}
	var got map[string]any
	for i := 0; i < 1200; i++ {
		_, got = c.call("GET", "/v1/centre/cases/"+caseID, op, nil)
		if got["status"] == "result_received" {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if got["status"] != "result_received" || got["receipt"] == nil || got["day_of_receipt"] == "" {
		t.Fatalf("case: %v", got)
	}
	var statuses []string
	for _, e := range got["events"].([]any) {
		statuses = append(statuses, e.(map[string]any)["status"].(string))
	}
	if s := strings.Join(statuses, ","); s != "queued,delivered,registered,in_progress,result_received" {
		t.Fatalf("events %s", s)
	}

	// The citizen sees the case's events and gets the result.
	citizen := c.signIn("880412310009", "+77011234567")
	_, mine := c.call("GET", "/v1/me/cases", citizen, nil)
	cs := mine["cases"].([]any)
	if len(cs) != 1 || cs[0].(map[string]any)["status"] != "result_received" || len(cs[0].(map[string]any)["events"].([]any)) != 5 {
		t.Fatalf("citizen's cases: %v", mine)
	}
	req, _ := http.NewRequest("GET", base+"/v1/me/cases/"+caseID+"/result", nil)
	req.Header.Set("Authorization", "Bearer "+citizen)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("result: %d", res.StatusCode)
	}
	// The result is among the citizen's documents, signed by the agency,
	// and POST /v1/verify checks it with the agency's registered key.
	_, docs := c.call("GET", "/v1/documents", citizen, nil)
	var result map[string]any
	for _, d := range docs["documents"].([]any) {
		if d := d.(map[string]any); d["type"] == "service_result" {
			result = d
		}
	}
	if result == nil || result["status"] != "valid" || result["source"] != "agency:"+gov ||
		result["fields"].(map[string]any)["case"] != caseID || result["fields"].(map[string]any)["agency"] != "Migration service" {
		t.Fatalf("the result among the documents: %v", docs)
	}
	_, one := c.call("GET", "/v1/documents/"+result["id"].(string), citizen, nil)
	jws, _ := one["jws"].(string)
	if st, v := c.call("POST", "/v1/verify", "", map[string]any{"jws": jws}); st != 200 || v["valid"] != true || v["issuer"] != gov || v["document_id"] != result["id"] {
		t.Fatalf("verify the result: %d %v (jws %q)", st, v, jws)
	}
	if st, issued := c.call("POST", "/v1/centre/cases/"+caseID+"/issue", op, nil); st != 200 || issued["status"] != "issued" {
		t.Fatalf("issue: %d %v", st, issued)
	}
	if _, issued := c.call("GET", "/v1/centre/cases/"+caseID, op, nil); issued["status"] != "issued" {
		t.Fatalf("issued: %v", issued)
	} else if at, err := time.Parse(time.RFC3339, fmt.Sprint(issued["issued_at"])); err != nil {
		t.Fatalf("issued_at: %v", issued)
	} else if until, err := time.Parse(time.RFC3339, fmt.Sprint(issued["retain_until"])); err != nil || until.Before(at.AddDate(1, 0, 0)) {
		t.Fatalf("kept until %v after being issued at %v", issued["retain_until"], at)
	}
	if out := cli("exchange", "verify", "--case", caseID); !strings.Contains(out, "OK:") {
		t.Fatalf("exchange verify: %s", out)
	}
	// The operator's key compromised: replaced, the agency told.
	out = cli("keys", "compromise", "--kid", keyID)
	if !strings.Contains(out, "replaced by") || !strings.Contains(out, "agency "+gov+" told") {
		t.Fatalf("keys compromise: %s", out)
	}
	// The published staff keys say so: the old key compromised, the
	// replacement active.
	_, published := c.call("GET", "/.well-known/staff-keys.json", "", nil)
	keyStatus := map[string]string{}
	for _, k := range published["keys"].([]any) {
		k := k.(map[string]any)
		keyStatus[k["kid"].(string)] = fmt.Sprint(k["status"], " ", k["compromised_at"] != nil)
	}
	if keyStatus[keyID] != "compromised true" || len(keyStatus) != 2 {
		t.Fatalf("published staff keys after the compromise: %v", keyStatus)
	}
}
