package calendar

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestReceiptDay_Table(t *testing.T) {
	set := Embedded()
	almaty, _ := time.LoadLocation("Asia/Almaty")
	moscow, _ := time.LoadLocation("Europe/Moscow")
	cases := []struct {
		name, cal string
		loc       *time.Location
		at, want  string
	}{
		{"kz working Tuesday stays", "kz", almaty, "2026-03-03T10:00:00Z", "2026-03-03"},
		{"kz Saturday goes to Monday", "kz", almaty, "2026-02-14T09:00:00Z", "2026-02-16"},
		{"kz Sunday goes to Monday", "kz", almaty, "2026-02-15T09:00:00Z", "2026-02-16"},
		{"kz Saturday before a holiday Monday goes to Tuesday", "kz", almaty, "2026-08-29T09:00:00Z", "2026-09-01"},
		{"kz Saturday 7 March: 9 March is off, Tuesday 10", "kz", almaty, "2026-03-07T09:00:00Z", "2026-03-10"},
		{"kz Nauryz: Saturday 21 March to Thursday 26", "kz", almaty, "2026-03-21T09:00:00Z", "2026-03-26"},
		{"kz late Friday UTC is already Saturday in Almaty", "kz", almaty, "2026-02-13T20:00:00Z", "2026-02-16"},
		{"kz late Friday in Almaty is still Friday", "kz", almaty, "2026-02-13T18:59:59Z", "2026-02-13"},
		{"kz Kurban Ait Wednesday goes to Thursday", "kz", almaty, "2026-05-27T06:00:00Z", "2026-05-28"},
		{"kz Independence Day", "kz", almaty, "2026-12-16T06:00:00Z", "2026-12-17"},
		{"kz new year 2027 across the year", "kz", almaty, "2026-12-31T20:00:00Z", "2027-01-05"},
		{"ru new year holidays to 12 January", "ru", moscow, "2026-01-01T09:00:00Z", "2026-01-12"},
		{"ru Saturday before Defender Day Monday to Tuesday", "ru", moscow, "2026-02-21T09:00:00Z", "2026-02-24"},
		{"ru transferred day off 31 December", "ru", moscow, "2026-12-31T09:00:00Z", "2027-01-11"},
		{"ru 2027 worked Saturday 13 November", "ru", moscow, "2027-11-13T09:00:00Z", "2027-11-13"},
		{"ru 2027 bridge 5 November", "ru", moscow, "2027-11-05T09:00:00Z", "2027-11-08"},
		{"zone of the agency, not of the calendar", "ru", almaty, "2026-02-20T19:30:00Z", "2026-02-24"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := set.Get(tc.cal)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ReceiptDay(at(t, tc.at), tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Fatalf("ReceiptDay(%s) = %s, want %s", tc.at, got, tc.want)
			}
		})
	}
}

func TestEmbedded_CoversBothCountriesBothYears(t *testing.T) {
	set := Embedded()
	if got := strings.Join(set.Codes(), ","); got != "kz,ru" {
		t.Fatalf("codes %s", got)
	}
	for _, code := range set.Codes() {
		c, _ := set.Get(code)
		ys := c.Years()
		if len(ys) != 2 || ys[0] != 2026 || ys[1] != 2027 {
			t.Fatalf("%s years %v", code, ys)
		}
		if c.Provisional(2026) {
			t.Fatalf("%s 2026 is from the published calendar", code)
		}
	}
	// Number of working days in 2026 as the published calendars give them.
	for code, want := range map[string]int{"kz": 246, "ru": 247} {
		c, _ := set.Get(code)
		n := 0
		for d := (Date{2026, 1, 1}); d.Year == 2026; d = d.Next() {
			ok, err := c.IsWorkingDay(d)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				n++
			}
		}
		if n != want {
			t.Errorf("%s: %d working days in 2026, want %d", code, n, want)
		}
	}
}

func TestReceiptDay_YearNotHeldIsNotFound(t *testing.T) {
	c, _ := Embedded().Get("kz")
	_, err := c.ReceiptDay(at(t, "2028-03-01T09:00:00Z"), nil)
	if wallet.ErrorCode(err) != wallet.ENOTFOUND {
		t.Fatalf("err %v", err)
	}
	if _, err := Embedded().Get("xx"); wallet.ErrorCode(err) != wallet.ENOTFOUND {
		t.Fatalf("unknown calendar: %v", err)
	}
}

func TestLoadFile_AddsAndReplacesYears(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kz.json")
	body := `{"code":"kz","name":"Kazakhstan","time_zone":"Asia/Almaty","years":{
	  "2028":{"source":"test","days_off":["2028-01-03"],"working_days":["2028-01-08"]},
	  "2027":{"source":"decree","days_off":["2027-01-01","2027-01-04","2027-01-05"],"working_days":[]}}}`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	set := Embedded()
	if err := set.LoadFile(p); err != nil {
		t.Fatal(err)
	}
	c, _ := set.Get("kz")
	// 2028-01-01 is a Saturday; Monday 3 is off; the worked Saturday 8 is not reached first.
	got, err := c.ReceiptDay(at(t, "2028-01-01T06:00:00Z"), nil)
	if err != nil || got.String() != "2028-01-04" {
		t.Fatalf("2028: %v %v", got, err)
	}
	if ok, _ := c.IsWorkingDay(Date{2028, 1, 8}); !ok {
		t.Fatal("worked Saturday")
	}
	// 2027 replaced whole: 7 January (off in the embedded data) is now worked.
	if ok, _ := c.IsWorkingDay(Date{2027, 1, 7}); !ok {
		t.Fatal("2027 not replaced")
	}
	if ok, _ := c.IsWorkingDay(Date{2027, 1, 5}); ok {
		t.Fatal("2027 new day off")
	}
	// 2026 untouched.
	if ok, _ := c.IsWorkingDay(Date{2026, 3, 9}); ok {
		t.Fatal("2026 changed")
	}
}

func TestParse_RefusesBadCalendars(t *testing.T) {
	for name, body := range map[string]string{
		"not json":             `{`,
		"unknown field":        `{"code":"kz","time_zone":"Asia/Almaty","years":{},"x":1}`,
		"no code":              `{"time_zone":"Asia/Almaty","years":{}}`,
		"unknown zone":         `{"code":"kz","time_zone":"Mars/Olympus","years":{}}`,
		"bad year":             `{"code":"kz","time_zone":"Asia/Almaty","years":{"20x6":{"days_off":[]}}}`,
		"date of another year": `{"code":"kz","time_zone":"Asia/Almaty","years":{"2026":{"days_off":["2027-01-04"]}}}`,
		"day off on a Sunday":  `{"code":"kz","time_zone":"Asia/Almaty","years":{"2026":{"days_off":["2026-03-08"]}}}`,
		"worked Wednesday":     `{"code":"kz","time_zone":"Asia/Almaty","years":{"2026":{"working_days":["2026-03-04"]}}}`,
		"not a date":           `{"code":"kz","time_zone":"Asia/Almaty","years":{"2026":{"days_off":["2026-02-30"]}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(strings.NewReader(body)); wallet.ErrorCode(err) != wallet.EINVALID {
				t.Fatalf("err %v", err)
			}
		})
	}
}
