package sources_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/wallet"
)

// demoDay is the reference day of the demo data: minors, the recently adult
// and the expired documents are judged on it.
var demoDay = time.Date(2026, 11, 23, 12, 0, 0, 0, wallet.CivilZone)

func loadDemo(t *testing.T) *sources.Demo {
	t.Helper()
	d, err := sources.LoadDemo()
	if err != nil {
		t.Fatalf("LoadDemo: %v", err)
	}
	return d
}

// unknownIIN is a valid IIN that is nobody's in the demo.
func unknownIIN(t *testing.T) wallet.IIN {
	t.Helper()
	for serial := 1; ; serial++ {
		if iin, ok := wallet.MakeIIN(time.Date(1944, 5, 9, 0, 0, 0, 0, time.UTC), false, serial); ok {
			return iin
		}
	}
}

// demoFacts indexes the demo for the invariant tests.
type demoFacts struct {
	citizens  map[wallet.IIN]wallet.Citizen
	guardians map[wallet.IIN][]wallet.IIN
	records   map[wallet.IIN][]wallet.Record
	all       []wallet.Record
}

func facts(t *testing.T, d *sources.Demo) demoFacts {
	t.Helper()
	ctx := context.Background()
	f := demoFacts{
		citizens:  make(map[wallet.IIN]wallet.Citizen),
		guardians: make(map[wallet.IIN][]wallet.IIN),
		records:   make(map[wallet.IIN][]wallet.Record),
	}
	for _, c := range d.Citizens() {
		f.citizens[c.IIN] = c
		g, err := d.Guardians(ctx, c.IIN)
		if err != nil {
			t.Fatalf("Guardians(%s): %v", c.IIN, err)
		}
		f.guardians[c.IIN] = g
		for _, s := range d.Sources() {
			rs, err := s.Records(ctx, c.IIN)
			if err != nil {
				t.Fatalf("%s.Records(%s): %v", s.Name(), c.IIN, err)
			}
			f.records[c.IIN] = append(f.records[c.IIN], rs...)
			f.all = append(f.all, rs...)
		}
	}
	return f
}

func (f demoFacts) has(iin wallet.IIN, typ wallet.DocumentType) []wallet.Record {
	var out []wallet.Record
	for _, r := range f.records[iin] {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func TestDemo_CitizensHaveValidIINsMatchingBirthDatesAndUniquePhones(t *testing.T) {
	d := loadDemo(t)
	cs := d.Citizens()
	if len(cs) < 30 {
		t.Fatalf("%d citizens, want at least 30", len(cs))
	}
	phones := map[string]wallet.IIN{}
	iins := map[wallet.IIN]bool{}
	for _, c := range cs {
		if _, err := wallet.ParseIIN(string(c.IIN)); err != nil {
			t.Errorf("%s: %v", c.IIN, err)
		}
		if iins[c.IIN] {
			t.Errorf("%s listed twice", c.IIN)
		}
		iins[c.IIN] = true
		if !c.BirthDate.Equal(c.IIN.BirthDate()) || c.BirthDate.Location() != time.UTC {
			t.Errorf("%s: birth date %v, the IIN says %v", c.IIN, c.BirthDate, c.IIN.BirthDate())
		}
		if len(c.Phone) != 12 || c.Phone[:3] != "+77" {
			t.Errorf("%s: phone %q is not +7 7xx xxx xx xx", c.IIN, c.Phone)
		}
		if other, dup := phones[c.Phone]; dup {
			t.Errorf("%s and %s share phone %s", other, c.IIN, c.Phone)
		}
		phones[c.Phone] = c.IIN
		if c.Name == "" {
			t.Errorf("%s has no name", c.IIN)
		}
	}
}

func TestDemo_MinorsHaveAdultGuardiansBackedByRecords(t *testing.T) {
	d := loadDemo(t)
	f := facts(t, d)
	minors, twoGuardians, notParent := 0, false, false
	wardsOf := map[wallet.IIN]int{}
	for iin, c := range f.citizens {
		if !wallet.IsMinor(c.BirthDate, demoDay) {
			continue
		}
		minors++
		if y := c.BirthDate.Year(); y < 2009 || y > 2022 {
			t.Errorf("minor %s born in %d, want 2009–2022", iin, y)
		}
		gs := f.guardians[iin]
		if len(gs) == 0 {
			t.Errorf("minor %s has no guardian", iin)
		}
		if len(gs) >= 2 {
			twoGuardians = true
		}
		if len(f.has(iin, wallet.BirthCertificate)) == 0 {
			t.Errorf("minor %s has no birth certificate", iin)
		}
		for _, g := range gs {
			gc, ok := f.citizens[g]
			if !ok {
				t.Errorf("guardian %s of %s is not a citizen", g, iin)
				continue
			}
			if wallet.IsMinor(gc.BirthDate, demoDay) {
				t.Errorf("guardian %s of %s is a minor", g, iin)
			}
			if !slices.Contains(gc.GuardianOf, iin) {
				t.Errorf("guardian %s does not list ward %s in GuardianOf", g, iin)
			}
			wardsOf[g]++
			if !namedParent(f, iin, g) {
				notParent = true
			}
		}
	}
	if minors < 5 {
		t.Errorf("%d minors on %s, want at least 5", minors, demoDay.Format(time.DateOnly))
	}
	if !twoGuardians {
		t.Error("no minor has two guardians")
	}
	guardianOfTwo := false
	for _, n := range wardsOf {
		guardianOfTwo = guardianOfTwo || n >= 2
	}
	if !guardianOfTwo {
		t.Error("no guardian represents two minors")
	}
	if !notParent {
		t.Error("no guardian who is not a parent named on the birth certificate")
	}
}

// namedParent reports whether parent is named on child's birth certificate.
func namedParent(f demoFacts, child, parent wallet.IIN) bool {
	for _, r := range f.has(child, wallet.BirthCertificate) {
		if r.Fields["father_iin"] == string(parent) || r.Fields["mother_iin"] == string(parent) {
			return true
		}
	}
	return false
}

func TestDemo_GuardianOfAndGuardiansAgree(t *testing.T) {
	f := facts(t, loadDemo(t))
	for iin, c := range f.citizens {
		for _, w := range c.GuardianOf {
			if !slices.Contains(f.guardians[w], iin) {
				t.Errorf("%s lists ward %s, whose guardians are %v", iin, w, f.guardians[w])
			}
		}
		// Parents named with an IIN on a birth certificate are guardians.
		for _, r := range f.has(iin, wallet.BirthCertificate) {
			for _, p := range []string{r.Fields["father_iin"], r.Fields["mother_iin"]} {
				if p != "" && !slices.Contains(f.guardians[iin], wallet.IIN(p)) {
					t.Errorf("%s: parent %s on the birth certificate is not a guardian", iin, p)
				}
			}
		}
	}
}

func TestDemo_HasSomeoneWhoJustTurned18AndIsNoLongerAMinor(t *testing.T) {
	f := facts(t, loadDemo(t))
	from := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	found := false
	for iin, c := range f.citizens {
		coa := wallet.ComingOfAge(c.BirthDate)
		if coa.Before(from) || coa.After(to) {
			continue
		}
		found = true
		if wallet.IsMinor(c.BirthDate, demoDay) {
			t.Errorf("%s came of age on %s but is a minor on the demo day", iin, coa.Format(time.DateOnly))
		}
		if !wallet.IsMinor(c.BirthDate, from) {
			t.Errorf("%s was not a minor on %s", iin, from.Format(time.DateOnly))
		}
		if len(f.guardians[iin]) == 0 {
			t.Errorf("%s has no guardians in the registry: the end of guardianship cannot be shown", iin)
		}
	}
	if !found {
		t.Error("nobody came of age between 2026-09-01 and 2026-11-22")
	}
}

func TestDemo_HasALeapDayBirthComingOfAgeOnFirstMarch(t *testing.T) {
	f := facts(t, loadDemo(t))
	found := false
	for iin, c := range f.citizens {
		if c.BirthDate.Month() != time.February || c.BirthDate.Day() != 29 {
			continue
		}
		found = true
		coa := wallet.ComingOfAge(c.BirthDate)
		want := time.Date(c.BirthDate.Year()+18, time.March, 1, 0, 0, 0, 0, time.UTC)
		if !coa.Equal(want) {
			t.Errorf("%s comes of age on %s, want %s", iin, coa.Format(time.DateOnly), want.Format(time.DateOnly))
		}
		eve := coa.AddDate(0, 0, -1).Add(12 * time.Hour)
		if !wallet.IsMinor(c.BirthDate, eve) || wallet.IsMinor(c.BirthDate, coa.Add(12*time.Hour)) {
			t.Errorf("%s: minority does not end on %s", iin, coa.Format(time.DateOnly))
		}
	}
	if !found {
		t.Error("nobody was born on 29 February")
	}
}

func TestDemo_RecordsCoverEveryTypeWithTheRightSourceAndIssuer(t *testing.T) {
	d := loadDemo(t)
	f := facts(t, d)
	byType := map[wallet.DocumentType]int{}
	numbers := map[wallet.DocumentType]map[string]bool{}
	revoked, expired := 0, 0
	for _, r := range f.all {
		byType[r.Type]++
		if _, ok := f.citizens[r.Subject]; !ok {
			t.Errorf("%s %s: subject %s is not a citizen", r.Type, r.Number, r.Subject)
		}
		if r.Source != sources.SourceFor(r.Type) || r.Issuer != sources.IssuerFor(r.Type) {
			t.Errorf("%s %s: source %s issuer %s", r.Type, r.Number, r.Source, r.Issuer)
		}
		if numbers[r.Type] == nil {
			numbers[r.Type] = map[string]bool{}
		}
		if numbers[r.Type][r.Number] {
			t.Errorf("%s number %s used twice", r.Type, r.Number)
		}
		numbers[r.Type][r.Number] = true
		if r.IssuedAt.Before(f.citizens[r.Subject].BirthDate) || r.IssuedAt.After(demoDay) {
			t.Errorf("%s %s issued on %s, outside the holder's life so far", r.Type, r.Number, r.IssuedAt.Format(time.DateOnly))
		}
		for _, k := range requiredFields[r.Type] {
			if r.Fields[k] == "" {
				t.Errorf("%s %s has no field %q", r.Type, r.Number, k)
			}
		}
		if r.Revoked {
			revoked++
		}
		if r.ValidUntil != nil && r.ValidUntil.Before(demoDay) {
			expired++
		}
	}
	for _, typ := range wallet.DocumentTypes {
		if byType[typ] == 0 {
			t.Errorf("no %s record", typ)
		}
	}
	if revoked == 0 {
		t.Error("no revoked record")
	}
	if expired == 0 {
		t.Error("no expired record")
	}
	for _, name := range sources.SourceNames() {
		if _, ok := d.Source(name); !ok {
			t.Errorf("no source %s", name)
		}
	}
}

var requiredFields = map[wallet.DocumentType][]string{
	wallet.IDCard:              {"surname", "given_name", "sex", "birth_date", "birth_place"},
	wallet.Passport:            {"surname", "given_name", "sex", "birth_date", "country_code"},
	wallet.DrivingLicence:      {"surname", "given_name", "birth_date", "categories"},
	wallet.VehicleRegistration: {"owner", "make", "model", "year", "plate", "vin"},
	wallet.BirthCertificate:    {"surname", "given_name", "birth_date", "birth_place", "father_name", "mother_name", "registry_office"},
	wallet.MarriageCertificate: {"husband_name", "husband_iin", "wife_name", "wife_iin", "marriage_date", "act_record"},
	wallet.Diploma:             {"university", "degree", "specialty", "graduation_date"},
}

func TestDemo_AdultsHoldTheExpectedDocuments(t *testing.T) {
	f := facts(t, loadDemo(t))
	adults, withPassport, withBirthCert, allSeven := 0, 0, 0, false
	for iin, c := range f.citizens {
		if wallet.IsMinor(c.BirthDate, demoDay) {
			continue
		}
		adults++
		ids := f.has(iin, wallet.IDCard)
		if len(ids) == 0 {
			t.Errorf("adult %s has no id card", iin)
		}
		for _, r := range ids {
			if r.Revoked || r.ValidUntil == nil || r.ValidUntil.Before(demoDay) {
				t.Errorf("adult %s: id card %s is not valid", iin, r.Number)
			}
		}
		if len(f.has(iin, wallet.Passport)) > 0 {
			withPassport++
		}
		if len(f.has(iin, wallet.BirthCertificate)) > 0 {
			withBirthCert++
		}
		types := 0
		for _, typ := range wallet.DocumentTypes {
			if len(f.has(iin, typ)) > 0 {
				types++
			}
		}
		allSeven = allSeven || types == len(wallet.DocumentTypes)
	}
	if withPassport*2 <= adults {
		t.Errorf("%d of %d adults have a passport, want most", withPassport, adults)
	}
	if withBirthCert == 0 {
		t.Error("no adult has a birth certificate")
	}
	if !allSeven {
		t.Error("no adult has documents of all seven types")
	}
}

func TestDemo_MarriageCertificatesComeInPairs(t *testing.T) {
	f := facts(t, loadDemo(t))
	for iin := range f.records {
		for _, r := range f.has(iin, wallet.MarriageCertificate) {
			h, w := wallet.IIN(r.Fields["husband_iin"]), wallet.IIN(r.Fields["wife_iin"])
			if iin != h && iin != w {
				t.Errorf("%s holds marriage certificate %s of %s and %s", iin, r.Number, h, w)
				continue
			}
			spouse := h
			if iin == h {
				spouse = w
			}
			paired := false
			for _, o := range f.has(spouse, wallet.MarriageCertificate) {
				paired = paired || (o.Fields["act_record"] == r.Fields["act_record"] && o.Number != r.Number)
			}
			if !paired {
				t.Errorf("marriage certificate %s of %s has no counterpart for %s", r.Number, iin, spouse)
			}
		}
	}
}

func TestDemo_UnknownCitizenIsNotFoundAndHasNoRecords(t *testing.T) {
	d := loadDemo(t)
	ctx := context.Background()
	iin := unknownIIN(t)
	if _, err := d.Citizen(ctx, iin); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Errorf("Citizen: %v, want %s", err, wallet.ENOTFOUND)
	}
	if _, err := d.Guardians(ctx, iin); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Errorf("Guardians: %v, want %s", err, wallet.ENOTFOUND)
	}
	for _, s := range d.Sources() {
		rs, err := s.Records(ctx, iin)
		if err != nil || len(rs) != 0 {
			t.Errorf("%s.Records: %v, %v; want none", s.Name(), rs, err)
		}
	}
	if _, err := d.Citizen(ctx, "123"); !wallet.IsCode(err, wallet.EINVALID) {
		t.Errorf("Citizen(malformed): %v, want %s", err, wallet.EINVALID)
	}
}

func TestDemo_ReturnsCopiesThatCallersCannotCorrupt(t *testing.T) {
	d := loadDemo(t)
	ctx := context.Background()
	var guardian wallet.Citizen
	for _, c := range d.Citizens() {
		if len(c.GuardianOf) > 0 {
			guardian = c
			break
		}
	}
	c, _ := d.Citizen(ctx, guardian.IIN)
	c.GuardianOf[0] = "x"
	src, _ := d.Source(sources.Population)
	rs, _ := src.Records(ctx, guardian.IIN)
	rs[0].Fields["surname"] = "Changed"
	again, _ := d.Citizen(ctx, guardian.IIN)
	rs2, _ := src.Records(ctx, guardian.IIN)
	if again.GuardianOf[0] == "x" || rs2[0].Fields["surname"] == "Changed" {
		t.Error("a caller's change reached the registry")
	}
}

func TestNewDemo_ReportsEveryProblemAtOnce(t *testing.T) {
	good, _ := wallet.MakeIIN(time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), false, 1)
	data := sources.DemoData{
		Citizens: []sources.DemoCitizen{
			{IIN: good, Name: "A", Phone: "+77010000000", BirthDate: "1990-01-02"},
			{IIN: "900101300000", Name: "B", Phone: "+77010000000", BirthDate: "1990-01-01"},
		},
		Records: []wallet.Record{{Type: "spaceship", Subject: good}},
	}
	_, err := sources.NewDemo(data)
	if !wallet.IsCode(err, wallet.EINVALID) {
		t.Fatalf("NewDemo: %v, want %s", err, wallet.EINVALID)
	}
	for _, want := range []string{"differs from the IIN", "check digit", "spaceship"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
