package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
)

func TestStaff_AdministratorRegistersAnOperatorWhoSignsInWhileTheServiceRuns(t *testing.T) {
	skipIfShort(t)
	dir := t.TempDir()
	env := map[string]string{"QUJAT_DATA_DIR": dir, "QUJAT_SMS_INBOUND_SECRET": "gateway-secret-for-tests"}
	getenv := func(k string) string { return env[k] }
	base := startService(t, env)
	c := client{t, base}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"clients", "create", "--name", "Centre No 1", "--kind", "service_centre"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	centre := regexp.MustCompile(`client_id:\s+(\S+)`).FindStringSubmatch(out.String())[1]
	out.Reset()
	if err := run(context.Background(), []string{"staff", "create", "--organisation", centre, "--iin", "900903412710", "--name", "Aigerim Nurlanova", "--role", "operator"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`staff_id:\s+(stf_\S+)\s+key_id:\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no staff id and key id in %q", out.String())
	}
	staffID, kid := m[1], m[2]
	if err := run(context.Background(), []string{"staff", "create", "--organisation", centre, "--iin", "600210320844", "--name", "X", "--role", "official"}, getenv, io.Discard); err == nil {
		t.Fatal("an official of a service centre was registered")
	}
	out.Reset()
	if err := run(context.Background(), []string{"staff", "list"}, getenv, &out); err != nil || !strings.Contains(out.String(), staffID) || !strings.Contains(out.String(), "operator") {
		t.Fatalf("list: %v %q", err, out.String())
	}

	// The running service sees the key made by the other process.
	// (Development also has the demo registry of licences' official.)
	keyOf := func() map[string]any {
		_, keys := c.call("GET", "/.well-known/staff-keys.json", "", nil)
		ks, _ := keys["keys"].([]any)
		for _, k := range ks {
			if k.(map[string]any)["staff_id"] == staffID {
				return k.(map[string]any)
			}
		}
		t.Fatalf("staff keys: no key of %s in %v", staffID, keys)
		return nil
	}
	if k := keyOf(); k["kid"] != kid || k["status"] != "active" {
		t.Fatalf("staff key: %v", k)
	}
	st, ch := c.call("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": "900903412710"})
	if st != 202 {
		t.Fatalf("staff otp: %d %v", st, ch)
	}
	_, sms := c.call("GET", "/v1/dev/sms?to=%2B77021337514", "", nil)
	code := code6.FindString(sms["messages"].([]any)[0].(map[string]any)["text"].(string))
	st, tok := c.call("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch["challenge_id"].(string), "code": code})
	if st != 200 {
		t.Fatalf("staff token: %d %v", st, tok)
	}
	token := tok["access_token"].(string)
	if st, me := c.call("GET", "/v1/centre/me", token, nil); st != 200 || me["staff"].(map[string]any)["id"] != staffID {
		t.Fatalf("me: %d %v", st, me)
	}

	if err := run(context.Background(), []string{"staff", "disable", "--id", staffID}, getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.call("GET", "/v1/centre/me", token, nil); st != 401 {
		t.Fatalf("disabled operator: %d", st)
	}
	if st := keyOf()["status"]; st != "retired" {
		t.Fatalf("disabled operator's key: %v", st)
	}
}
