package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/qujat/qujat/calendar"
)

// openCalendars returns the embedded production calendars with the files
// that QUJAT_CALENDAR_FILES names loaded over them.
func openCalendars(cfg Config) (*calendar.Set, error) {
	set := calendar.Embedded()
	for _, p := range strings.Split(cfg.CalendarFiles, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if err := set.LoadFile(p); err != nil {
			return nil, fmt.Errorf("QUJAT_CALENDAR_FILES: %w", err)
		}
	}
	return set, nil
}

// runCalendar answers from the production calendars: `qujat calendar
// receipt-day --calendar kz|ru --at TIME [--time-zone ZONE]` prints the day
// of receipt (YYYY-MM-DD) of something received at that instant.
func runCalendar(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	const receipt = "qujat calendar receipt-day --calendar kz|ru --at RFC3339 [--time-zone ZONE] [flags]"
	if len(args) == 0 {
		return usageError{"usage: " + receipt}
	}
	sub, rest := args[0], args[1:]
	if isHelpArg(sub) {
		sub, rest = "receipt-day", args
	}
	if sub != "receipt-day" {
		return usageError{fmt.Sprintf("calendar: unknown subcommand %q (see qujat calendar --help)", sub)}
	}
	fs := newFlagSet("calendar receipt-day", receipt+"\nprint the day of receipt of something received at that instant: the day it falls on in the zone, or the next working day", stdout)
	code := fs.String("calendar", "kz", "production calendar: kz or ru (or one loaded from QUJAT_CALENDAR_FILES)")
	atFlag := fs.String("at", "", "the instant of receipt (RFC 3339); default now")
	zone := fs.String("time-zone", "", "the receiver's IANA time zone (default the calendar's: Asia/Almaty, Europe/Moscow)")
	cfg, err := loadConfig(getenv, fs, rest)
	if err != nil {
		return err
	}
	set, err := openCalendars(cfg)
	if err != nil {
		return err
	}
	c, err := set.Get(*code)
	if err != nil {
		return usageError{fmt.Sprintf("calendar receipt-day: no calendar %q (have %s)", *code, strings.Join(set.Codes(), ", "))}
	}
	t := time.Now()
	if *atFlag != "" {
		if t, err = time.Parse(time.RFC3339, *atFlag); err != nil {
			return usageError{fmt.Sprintf("calendar receipt-day: --at %q is not an RFC 3339 time", *atFlag)}
		}
	}
	loc := c.Location
	if *zone != "" {
		if loc, err = time.LoadLocation(*zone); err != nil {
			return usageError{fmt.Sprintf("calendar receipt-day: unknown time zone %q", *zone)}
		}
	}
	d, err := c.ReceiptDay(t, loc)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, d)
	return nil
}
