package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCalendarReceiptDay_SaturdayIsMondayOrTuesday(t *testing.T) {
	dir := t.TempDir()
	extra := filepath.Join(dir, "kz-2028.json")
	if err := os.WriteFile(extra, []byte(`{"code":"kz","name":"Kazakhstan","time_zone":"Asia/Almaty","years":{"2028":{"source":"test","days_off":["2028-01-03"],"working_days":[]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"QUJAT_DATA_DIR": filepath.Join(dir, "data"), "QUJAT_CALENDAR_FILES": extra}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--calendar", "kz", "--at", "2026-02-14T09:00:00Z"}, "2026-02-16"},
		{[]string{"--calendar", "kz", "--at", "2026-08-29T09:00:00Z"}, "2026-09-01"},
		{[]string{"--calendar", "ru", "--at", "2026-02-21T09:00:00+03:00"}, "2026-02-24"},
		{[]string{"--calendar", "ru", "--at", "2026-02-20T19:30:00Z", "--time-zone", "Asia/Almaty"}, "2026-02-24"},
		{[]string{"--calendar", "kz", "--at", "2028-01-01T09:00:00Z"}, "2028-01-04"},
	} {
		var out bytes.Buffer
		args := append([]string{"calendar", "receipt-day"}, c.args...)
		if err := run(context.Background(), args, func(k string) string { return env[k] }, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got := strings.TrimSpace(out.String()); got != c.want {
			t.Errorf("%v: %s, want %s", args, got, c.want)
		}
	}
	for _, bad := range [][]string{
		{"--calendar", "xx", "--at", "2026-02-14T09:00:00Z"},
		{"--at", "Saturday"},
		{"--time-zone", "Mars/Olympus"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"calendar", "receipt-day"}, bad...), func(k string) string { return env[k] }, &out)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestExchangeVerify_UnknownCaseAndMissingFlag(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"QUJAT_DATA_DIR": filepath.Join(dir, "data")}
	var out bytes.Buffer
	err := run(context.Background(), []string{"exchange", "verify"}, func(k string) string { return env[k] }, &out)
	if exitCode(err) != 2 {
		t.Fatalf("no --case: %v", err)
	}
	err = run(context.Background(), []string{"exchange", "verify", "--case", "case_none"}, func(k string) string { return env[k] }, &out)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown case: %v", err)
	}
}
