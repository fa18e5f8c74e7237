package api

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/signin"
)

// The README's Security section states the limits in force; this holds it
// to the numbers in the code, so that a changed limit changes the page.
func TestREADME_SecurityStatesTheLimits(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "### The limits, and what they leave to a guesser")
	if i < 0 {
		t.Fatal("README has no table of the limits")
	}
	sec := readme[i:]
	if j := strings.Index(sec, "\n## "); j >= 0 {
		sec = sec[:j]
	}
	l := sharing.DefaultLimits()
	mins := func(d time.Duration) int { return int(d / time.Minute) }
	for _, want := range []string{
		fmt.Sprintf("| share lifetime | %d s by default, at most %d s; at most %d views |", int(l.DefaultTTL/time.Second), int(l.MaxTTL/time.Second), l.MaxViews),
		fmt.Sprintf("| wrong share codes per viewer | %d in 15 minutes, %d in a day |", l.ViewerWrongCodes15m, l.ViewerWrongCodesDay),
		fmt.Sprintf("| wrong share codes per address | %d a minute", l.AddressWrongCodesMinute),
		fmt.Sprintf("| wrong share codes per owner | %d in 15 minutes void", l.OwnerWrongCodes),
		fmt.Sprintf("| sign-in code | %d digits, lives %d minutes, %d attempts", otp.CodeLength, mins(otp.DefaultTTL), otp.DefaultAttempts),
		fmt.Sprintf("| sign-in codes sent to one phone | %d per fixed hour from one address (IPv6: per /64), %d from all addresses together; a device signed in before (its `device_token`) %d of its own, %d for all known devices together |",
			signin.CodesPerAddress, signin.CodesPerPhone, signin.CodesPerDevice, signin.CodesPerKnownDevices),
		fmt.Sprintf("| sign-in requests per address | %d in %d minutes |", signInRequestsPerAddress, mins(signInAddressWindow)),
		fmt.Sprintf("| shares opened per citizen | %d in %d minutes (fixed window) |", sharesOpenedPerCitizen, mins(sharesOpenedWindow)),
		fmt.Sprintf("| QR images drawn per citizen | %d in %d minutes (fixed window) |", qrImagesPerCitizen, mins(qrImagesWindow)),
		fmt.Sprintf("| extracts printed per citizen | %d in %d minutes (fixed window) |", extractsPerCitizen, mins(extractsWindow)),
		fmt.Sprintf("| document refreshes per citizen | %d in %d minutes (fixed window) |", refreshesPerCitizen, mins(refreshesWindow)),
		fmt.Sprintf("| consent requests per organisation | %d an hour |", consent.DefaultPerClientPerHour),
		fmt.Sprintf("| consent requests per citizen | %d an hour, all organisations and methods together, at most %d of them from one organisation", consent.DefaultPerIINPerHour, consent.DefaultPerClientPerIINPerHour),
		fmt.Sprintf("| consent request | answered within %d minutes; an otp consent's code has %d attempts |", mins(consent.DefaultRequestTTL), otp.DefaultAttempts),
		fmt.Sprintf("received at most %d minutes ago |", mins(consent.InboundWindow)),
		// The arithmetic, from the limits.
		fmt.Sprintf("at most %d × L / 10^6 (L = 1: 3 × 10^-6)", l.OwnerWrongCodes),
		fmt.Sprintf("at most %d wrong codes, so at most\n  %d × L / 10^6", l.ViewerWrongCodesDay, l.ViewerWrongCodesDay),
		fmt.Sprintf("at most %d × 60 × 24 = %s guesses", l.AddressWrongCodesMinute, "14,400"),
		fmt.Sprintf("at most %d + %d = %d SMS in one window, and at most 2 × %d + %d = %d in any 60 minutes",
			signin.MaxCodesPerHour, consent.DefaultPerIINPerHour, signin.MaxCodesPerHour+consent.DefaultPerIINPerHour,
			signin.MaxCodesPerHour, consent.DefaultPerIINPerHour, 2*signin.MaxCodesPerHour+consent.DefaultPerIINPerHour),
		fmt.Sprintf("%d + %d = %d challenges an hour", signin.CodesPerPhone, signin.CodesPerKnownDevices, signin.MaxCodesPerHour),
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("README's limits do not say %q", want)
		}
	}
	if otp.CodeLength != 6 || l.AddressWrongCodesMinute*60*24 != 14400 || l.OwnerWrongCodes != 3 || l.ViewerWrongCodesDay != 20 {
		t.Errorf("the README's worked numbers assume 6 digits, 10 a minute, 3 per owner and 20 a day")
	}
}
