package wallet

import (
	"fmt"
	"time"
)

// IIN is a Kazakh individual identification number: 12 digits, YYMMDD of the
// birth date, a century-and-sex digit, a four-digit serial and a check digit.
type IIN string

var (
	iinWeights1 = [11]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	iinWeights2 = [11]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
)

// IINCheckDigit computes the check digit of the first 11 digits. It returns
// false when both weight passes give 10: no IIN is issued with such digits.
func IINCheckDigit(first11 string) (int, bool) {
	if len(first11) != 11 {
		return 0, false
	}
	sum := func(w [11]int) int {
		s := 0
		for i := 0; i < 11; i++ {
			s += int(first11[i]-'0') * w[i]
		}
		return s % 11
	}
	c := sum(iinWeights1)
	if c == 10 {
		c = sum(iinWeights2)
		if c == 10 {
			return 0, false
		}
	}
	return c, true
}

// ParseIIN checks s is a well-formed IIN (digits, a real birth date, a known
// century digit, the right check digit). It returns EINVALID otherwise.
func ParseIIN(s string) (IIN, error) {
	if len(s) != 12 {
		return "", Errorf(EINVALID, "iin must be 12 digits")
	}
	for i := 0; i < 12; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", Errorf(EINVALID, "iin must be 12 digits")
		}
	}
	if _, err := IIN(s).birthDate(); err != nil {
		return "", Errorf(EINVALID, "iin does not encode a valid birth date")
	}
	c, ok := IINCheckDigit(s[:11])
	if !ok || int(s[11]-'0') != c {
		return "", Errorf(EINVALID, "iin check digit is wrong")
	}
	return IIN(s), nil
}

func (i IIN) birthDate() (time.Time, error) {
	if len(i) != 12 {
		return time.Time{}, fmt.Errorf("bad length")
	}
	var century int
	switch i[6] {
	case '1', '2':
		century = 1800
	case '3', '4':
		century = 1900
	case '5', '6':
		century = 2000
	default:
		return time.Time{}, fmt.Errorf("bad century digit")
	}
	yy := int(i[0]-'0')*10 + int(i[1]-'0')
	mm := int(i[2]-'0')*10 + int(i[3]-'0')
	dd := int(i[4]-'0')*10 + int(i[5]-'0')
	d := time.Date(century+yy, time.Month(mm), dd, 0, 0, 0, 0, time.UTC)
	if d.Year() != century+yy || int(d.Month()) != mm || d.Day() != dd {
		return time.Time{}, fmt.Errorf("bad date")
	}
	return d, nil
}

// BirthDate returns the birth date encoded in a valid IIN (zero time if invalid).
func (i IIN) BirthDate() time.Time {
	d, _ := i.birthDate()
	return d
}

// Female reports the sex encoded in the century digit.
func (i IIN) Female() bool { return len(i) == 12 && (i[6]-'0')%2 == 0 }

// MakeIIN builds a valid IIN from a birth date, sex and serial (0..9999).
// It returns false if that serial has no valid check digit.
func MakeIIN(birth time.Time, female bool, serial int) (IIN, bool) {
	cd := 2*((birth.Year()-1800)/100) + 1
	if female {
		cd++
	}
	s := fmt.Sprintf("%02d%02d%02d%d%04d", birth.Year()%100, int(birth.Month()), birth.Day(), cd, serial%10000)
	c, ok := IINCheckDigit(s)
	if !ok {
		return "", false
	}
	return IIN(fmt.Sprintf("%s%d", s, c)), true
}

// ComingOfAge returns the first day on which a person born on birth is an adult
// (18). Someone born on 29 February comes of age on 1 March in non-leap years.
func ComingOfAge(birth time.Time) time.Time {
	b := time.Date(birth.Year(), birth.Month(), birth.Day(), 0, 0, 0, 0, time.UTC)
	// AddDate normalises 29 February of a non-leap year to 1 March.
	return b.AddDate(18, 0, 0)
}

// IsMinor reports whether a person born on birth is under 18 at now. The day
// is judged in UTC+5 (Kazakhstan), the civil day of the registry.
func IsMinor(birth, now time.Time) bool {
	local := now.In(CivilZone)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	return today.Before(ComingOfAge(birth))
}

// CivilZone is the time zone in which birthdays are counted.
var CivilZone = time.FixedZone("Asia/Almaty", 5*60*60)
