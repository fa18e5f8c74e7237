// Package calendar keeps production calendars (which days are working days
// in a country: weekends, public holidays, days off and working days moved by
// government decree) as data, and answers the one question the exchange with
// agencies asks of them: on which day is something received at a given
// instant taken as received. A package that reaches an agency on a non-working
// day is received on the next working day in the agency's time zone.
//
// Calendars for Kazakhstan ("kz") and Russia ("ru") for 2026 and 2027 are
// embedded; later years (or a corrected year) are loaded from a file of the
// same shape (Load, Set.Add). A year a calendar does not hold is an error, not
// a guess: a day of receipt computed from weekends alone could be wrong in law.
package calendar

import (
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/qujat/qujat/wallet"
)

//go:embed data/*.json
var embedded embed.FS

// Year is one year of a calendar: the Monday-to-Friday days that are not
// worked (holidays and days off moved onto them) and the Saturdays and
// Sundays that are worked (days off moved away).
type Year struct {
	Source      string   `json:"source"`
	Provisional bool     `json:"provisional,omitempty"`
	DaysOff     []string `json:"days_off"`
	WorkingDays []string `json:"working_days"`
}

// File is the JSON form of a calendar, as embedded and as loaded from a file.
type File struct {
	Code     string          `json:"code"`
	Name     string          `json:"name"`
	TimeZone string          `json:"time_zone"`
	Years    map[string]Year `json:"years"`
}

// Calendar is one country's production calendar.
type Calendar struct {
	Code     string
	Name     string
	Location *time.Location // the country's default zone (an agency names its own)
	years    map[int]Year
	off      map[string]bool
	working  map[string]bool
}

// Date is a calendar day (no zone): what a day of receipt is.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String is YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// DateOf is the day t falls on in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

// ParseDate reads YYYY-MM-DD. EINVALID.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, wallet.Errorf(wallet.EINVALID, "%q is not a date (YYYY-MM-DD)", s)
	}
	return DateOf(t, time.UTC), nil
}

func (d Date) time() time.Time { return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC) }

// Next is the following day.
func (d Date) Next() Date { return DateOf(d.time().AddDate(0, 0, 1), time.UTC) }

// Weekday is the day of the week.
func (d Date) Weekday() time.Weekday { return d.time().Weekday() }

// Parse reads a calendar file and checks it: every year's days belong to that
// year, days off fall on Monday to Friday, working days on Saturday or Sunday,
// and the time zone is known. EINVALID naming each problem.
func Parse(r io.Reader) (*Calendar, error) {
	var f File
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, wallet.Errorf(wallet.EINVALID, "calendar: %v", err)
	}
	return build(f)
}

func build(f File) (*Calendar, error) {
	if f.Code == "" {
		return nil, wallet.Errorf(wallet.EINVALID, "calendar: no code")
	}
	loc, err := time.LoadLocation(f.TimeZone)
	if err != nil || f.TimeZone == "" {
		return nil, wallet.Errorf(wallet.EINVALID, "calendar %s: unknown time zone %q", f.Code, f.TimeZone)
	}
	c := &Calendar{Code: f.Code, Name: f.Name, Location: loc, years: map[int]Year{}, off: map[string]bool{}, working: map[string]bool{}}
	for ys, y := range f.Years {
		if err := c.addYear(ys, y); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Calendar) addYear(ys string, y Year) error {
	year, err := strconv.Atoi(ys)
	if err != nil || year < 1990 || year > 2200 {
		return wallet.Errorf(wallet.EINVALID, "calendar %s: %q is not a year", c.Code, ys)
	}
	check := func(s string, weekend bool) (Date, error) {
		d, err := ParseDate(s)
		if err != nil {
			return Date{}, wallet.Errorf(wallet.EINVALID, "calendar %s %d: %q is not a date", c.Code, year, s)
		}
		if d.Year != year {
			return Date{}, wallet.Errorf(wallet.EINVALID, "calendar %s %d: %s is in another year", c.Code, year, s)
		}
		wd := d.Weekday()
		isWeekend := wd == time.Saturday || wd == time.Sunday
		if weekend && !isWeekend {
			return Date{}, wallet.Errorf(wallet.EINVALID, "calendar %s %d: working day %s is a %s, not a Saturday or Sunday", c.Code, year, s, wd)
		}
		if !weekend && isWeekend {
			return Date{}, wallet.Errorf(wallet.EINVALID, "calendar %s %d: day off %s is a %s (weekends are off already)", c.Code, year, s, wd)
		}
		return d, nil
	}
	// Replace the year whole (a corrected calendar replaces the provisional one).
	for k := range c.off {
		if k[:4] == ys {
			delete(c.off, k)
		}
	}
	for k := range c.working {
		if k[:4] == ys {
			delete(c.working, k)
		}
	}
	for _, s := range y.DaysOff {
		d, err := check(s, false)
		if err != nil {
			return err
		}
		c.off[d.String()] = true
	}
	for _, s := range y.WorkingDays {
		d, err := check(s, true)
		if err != nil {
			return err
		}
		c.working[d.String()] = true
	}
	c.years[year] = y
	return nil
}

// Years lists the years the calendar holds, in order.
func (c *Calendar) Years() []int {
	out := make([]int, 0, len(c.years))
	for y := range c.years {
		out = append(out, y)
	}
	sort.Ints(out)
	return out
}

// Provisional tells whether a year's data is marked provisional (built from
// the statutes before the year's decree was published).
func (c *Calendar) Provisional(year int) bool { return c.years[year].Provisional }

// IsWorkingDay tells whether d is a working day. ENOTFOUND if the calendar
// does not hold d's year.
func (c *Calendar) IsWorkingDay(d Date) (bool, error) {
	if _, ok := c.years[d.Year]; !ok {
		return false, wallet.Errorf(wallet.ENOTFOUND, "calendar %s has no data for %d; load it from a file", c.Code, d.Year)
	}
	k := d.String()
	if c.working[k] {
		return true, nil
	}
	if c.off[k] {
		return false, nil
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday, nil
}

// NextWorkingDay is d itself if it is a working day, else the first working
// day after it. ENOTFOUND if the search leaves the years the calendar holds.
func (c *Calendar) NextWorkingDay(d Date) (Date, error) {
	for range 366 {
		ok, err := c.IsWorkingDay(d)
		if err != nil {
			return Date{}, err
		}
		if ok {
			return d, nil
		}
		d = d.Next()
	}
	return Date{}, wallet.Errorf(wallet.EINTERNAL, "calendar %s: no working day within a year of %s", c.Code, d)
}

// ReceiptDay is the day of receipt of something received at instant t by
// an agency in zone loc: the day t falls on there if it is a working day,
// else the next working day. ENOTFOUND if the calendar lacks the year.
func (c *Calendar) ReceiptDay(t time.Time, loc *time.Location) (Date, error) {
	if loc == nil {
		loc = c.Location
	}
	return c.NextWorkingDay(DateOf(t, loc))
}

// Set is the calendars known to a service, by code.
type Set struct {
	byCode map[string]*Calendar
}

// Embedded returns the calendars shipped with Qujat (kz, ru; 2026 and 2027).
func Embedded() *Set {
	s := &Set{byCode: map[string]*Calendar{}}
	entries, err := embedded.ReadDir("data")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	for _, e := range entries {
		f, err := embedded.Open("data/" + e.Name())
		if err != nil {
			panic(err)
		}
		c, err := Parse(f)
		f.Close()
		if err != nil {
			panic(fmt.Sprintf("embedded calendar %s: %v", e.Name(), err))
		}
		s.byCode[c.Code] = c
	}
	return s
}

// Get returns the calendar with that code. ENOTFOUND.
func (s *Set) Get(code string) (*Calendar, error) {
	c, ok := s.byCode[code]
	if !ok {
		return nil, wallet.Errorf(wallet.ENOTFOUND, "no calendar %q", code)
	}
	return c, nil
}

// Codes lists the calendars' codes in order.
func (s *Set) Codes() []string {
	out := make([]string, 0, len(s.byCode))
	for k := range s.byCode {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// LoadFile adds the years in the calendar file at path to the calendar of
// the same code (a new code adds a calendar); a year present in both is
// replaced by the file's. EINVALID if the file is not a valid calendar.
func (s *Set) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return wallet.Errorf(wallet.EINVALID, "calendar file: %v", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return err
	}
	return s.Add(c)
}

// Add merges c into the set (see LoadFile).
func (s *Set) Add(c *Calendar) error {
	old, ok := s.byCode[c.Code]
	if !ok {
		s.byCode[c.Code] = c
		return nil
	}
	for y, data := range c.years {
		if err := old.addYear(strconv.Itoa(y), data); err != nil {
			return err
		}
	}
	return nil
}
