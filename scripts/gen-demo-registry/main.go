// Command gen-demo-registry writes the demo registry file embedded by package
// integrations/sources: synthetic citizens with valid IINs, their
// guardianships and the records of the population, transport and education
// registries. The output is deterministic; run it through `go generate` in
// integrations/sources after changing the tables below.
//
// The data is judged against 2026-11-23, the reference day of the demo (see
// the test of package sources): which citizens are minors, who turned 18
// recently, which documents have expired.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/wallet"
)

// person is one synthetic citizen. Names follow the Kazakh order on
// documents: surname, given name, patronymic (-uly son of, -qyzy daughter of).
type person struct {
	key        string
	surname    string
	given      string
	patronymic string
	female     bool
	birth      string
	place      string
	note       string
}

var people = []person{
	{"aidos", "Nurlanov", "Aidos", "Serikuly", false, "1988-04-12", "Almaty", "has documents of all seven types; guardian of Alikhan and Amina"},
	{"aigerim", "Nurlanova", "Aigerim", "Bolatqyzy", true, "1990-09-03", "Taraz", "wife of Aidos; guardian of Alikhan and Amina"},
	{"alikhan", "Nurlanov", "Alikhan", "Aidosuly", false, "2015-06-21", "Almaty", "minor with two guardians (Aidos and Aigerim)"},
	{"amina", "Nurlanova", "Amina", "Aidosqyzy", true, "2019-11-02", "Almaty", "minor with two guardians (Aidos and Aigerim)"},
	{"serik", "Nurlanov", "Serik", "Bekuly", false, "1960-02-10", "Almaty", "father of Aidos"},
	{"kulyash", "Nurlanova", "Kulyash", "Amanqyzy", true, "1962-05-05", "Almaty", "mother of Aidos; identity card only"},
	{"gulnar", "Zhaksylykova", "Gulnar", "Amanqyzy", true, "1958-01-17", "Semey", "grandmother and legal guardian (not a parent) of Dias; her passport has expired"},
	{"dias", "Zhaksylykov", "Dias", "Yerlanuly", false, "2012-08-30", "Semey", "minor whose legal guardian is his grandmother Gulnar"},
	{"madina", "Omarova", "Madina", "Kairatqyzy", true, "1995-02-14", "Shymkent", "single mother, guardian of Ayaru"},
	{"ayaru", "Omarova", "Ayaru", "", true, "2022-03-08", "Shymkent", "youngest minor; one guardian (Madina)"},
	{"yerlan", "Sultanov", "Yerlan", "Maratuly", false, "1975-07-05", "Karaganda", "father of Daniyar (just turned 18) and Arman (minor); two vehicles"},
	{"saule", "Sultanova", "Saule", "Nurqyzy", true, "1978-12-25", "Karaganda", "mother of Daniyar and Arman"},
	{"daniyar", "Sultanov", "Daniyar", "Yerlanuly", false, "2008-10-15", "Karaganda", "turned 18 on 2026-10-15: no longer a ward"},
	{"arman", "Sultanov", "Arman", "Yerlanuly", false, "2013-04-04", "Astana", "minor, guardians Yerlan and Saule"},
	{"askar", "Bekov", "Askar", "Qairatuly", false, "1980-05-19", "Aktobe", "his driving licence is revoked"},
	{"dana", "Bekova", "Dana", "Serikqyzy", true, "1984-10-30", "Aktobe", "mother of Temirlan and Nazerke"},
	{"temirlan", "Bekov", "Temirlan", "Asqaruly", false, "2008-02-29", "Aktobe", "born on 29 February 2008: came of age on 1 March 2026"},
	{"nazerke", "Bekova", "Nazerke", "Asqarqyzy", true, "2016-02-29", "Astana", "minor born on 29 February 2016"},
	{"roza", "Zhumabekova", "Roza", "Talgatqyzy", true, "1970-03-11", "Pavlodar", "mother of Inkar"},
	{"inkar", "Zhumabekova", "Inkar", "Muratqyzy", true, "2009-12-20", "Pavlodar", "minor of 16 with an identity card; comes of age 2027-12-20"},
	{"berik", "Kasymov", "Berik", "Zhanuly", false, "1965-11-23", "Kostanay", "professional driver (B, C, D)"},
	{"asel", "Kenzhebayeva", "Asel", "Muratqyzy", true, "1999-07-07", "Astana", "two diplomas (bachelor and master)"},
	{"marat", "Iskakov", "Marat", "Serikuly", false, "1992-01-30", "Atyrau", "married to Aliya"},
	{"aliya", "Iskakova", "Aliya", "Dauletqyzy", true, "1993-06-15", "Atyrau", "married to Marat"},
	{"kanat", "Abdrakhmanov", "Kanat", "Bolatuly", false, "1970-09-09", "Oskemen", "truck owner; his driving licence has expired"},
	{"zhanar", "Abdrakhmanova", "Zhanar", "Yerbolqyzy", true, "1972-02-02", "Oskemen", "married to Kanat"},
	{"yerzhan", "Tulegenov", "Yerzhan", "Askaruly", false, "2001-03-22", "Kyzylorda", "young engineer"},
	{"dinara", "Seitkali", "Dinara", "Nurlanqyzy", true, "1997-08-18", "Taraz", "petroleum engineer"},
	{"timur", "Akhmetov", "Timur", "Rustemuly", false, "1983-12-01", "Almaty", "motorcyclist"},
	{"aruzhan", "Baimukhanova", "Aruzhan", "Kanatqyzy", true, "2004-04-25", "Kyzylorda", "nurse, college diploma"},
	{"olzhas", "Smagulov", "Olzhas", "Yermekuly", false, "1979-08-08", "Shymkent", "identity card only"},
	{"gaukhar", "Yesenova", "Gaukhar", "Aidarqyzy", true, "1991-10-10", "Astana", "one car, one licence"},
}

// birth is a birth certificate: child, parents (keys of people, or a name
// of a parent not in the directory), registry office.
type birth struct {
	child, father, mother string
}

var births = []birth{
	{"aidos", "serik", "kulyash"},
	{"alikhan", "aidos", "aigerim"},
	{"amina", "aidos", "aigerim"},
	{"dias", "=Zhaksylykov Yerlan Asqaruly", "=Zhaksylykova Aliya Serikqyzy"},
	{"ayaru", "", "madina"},
	{"daniyar", "yerlan", "saule"},
	{"arman", "yerlan", "saule"},
	{"temirlan", "askar", "dana"},
	{"nazerke", "askar", "dana"},
	{"inkar", "=Zhumabekov Murat Yesenuly", "roza"},
	{"aruzhan", "=Baimukhanov Kanat Serikuly", "=Baimukhanova Gulmira Asanqyzy"},
	{"yerzhan", "=Tulegenov Askar Zhumauly", "=Tulegenova Saltanat Beisenqyzy"},
}

// guardianship by decision (not a parent).
var appointed = []struct{ guardian, ward, decision string }{
	{"gulnar", "dias", "Resolution of the Semey city akimat No. 412 of 2019-03-14 on guardianship"},
}

var marriages = []struct {
	husband, wife, date, place string
}{
	{"aidos", "aigerim", "2013-08-17", "Almaty"},
	{"yerlan", "saule", "2000-06-10", "Karaganda"},
	{"askar", "dana", "2006-09-02", "Aktobe"},
	{"marat", "aliya", "2018-05-26", "Atyrau"},
	{"kanat", "zhanar", "1994-07-30", "Oskemen"},
}

// noPassport lists the adults without a passport.
var noPassport = map[string]bool{"kulyash": true, "daniyar": true, "temirlan": true, "olzhas": true}

var licences = []struct {
	holder, issued, categories string
	revoked                    bool
}{
	{"aidos", "2019-05-14", "B", false},
	{"aigerim", "2021-03-02", "B", false},
	{"yerlan", "2018-11-20", "B, C", false},
	{"askar", "2017-07-11", "B", true},
	{"temirlan", "2026-04-14", "B", false},
	{"berik", "2020-02-18", "B, C, D", false},
	{"marat", "2021-09-07", "A, B", false},
	{"kanat", "2015-08-11", "B, C, CE", false}, // expired 2025-08-10
	{"yerzhan", "2022-06-30", "B", false},
	{"timur", "2023-04-05", "A, B", false},
	{"gaukhar", "2024-10-15", "B", false},
}

var vehicles = []struct {
	owner, make, model, year, colour, body, engine, plate, wmi, issued string
}{
	{"aidos", "Toyota", "Camry", "2021", "white", "sedan", "2494", "247 AKN 02", "JTN", "2021-06-03"},
	{"yerlan", "Hyundai", "Tucson", "2020", "grey", "SUV", "1999", "518 BRT 09", "KMH", "2020-09-15"},
	{"yerlan", "GAZ", "Gazelle Next", "2018", "white", "van", "2776", "903 CDA 09", "X96", "2018-04-27"},
	{"askar", "Lada", "Granta", "2019", "blue", "sedan", "1596", "112 ATB 04", "XTA", "2019-03-12"},
	{"berik", "Kia", "Sportage", "2022", "black", "SUV", "1999", "375 KZE 10", "KNA", "2022-05-19"},
	{"marat", "Chevrolet", "Cobalt", "2022", "silver", "sedan", "1485", "640 MSA 06", "XWB", "2022-11-01"},
	{"kanat", "KAMAZ", "5490", "2017", "orange", "tractor unit", "11946", "081 OTR 16", "XTC", "2017-10-09"},
	{"timur", "Yamaha", "MT-07", "2023", "black", "motorcycle", "689", "27 ZAT 02", "JYA", "2023-05-22"},
	{"gaukhar", "Hyundai", "Elantra", "2023", "red", "sedan", "1999", "733 GYE 01", "KMH", "2023-08-08"},
}

var diplomas = []struct {
	holder, university, degree, specialty, graduated, honours string
}{
	{"aidos", "Al-Farabi Kazakh National University", "Bachelor", "Information Systems", "2009-06-26", ""},
	{"aigerim", "Asfendiyarov Kazakh National Medical University", "Bachelor", "General Medicine", "2013-06-28", "with honours"},
	{"saule", "Buketov Karaganda University", "Bachelor", "Pedagogy and Psychology", "2000-06-23", ""},
	{"roza", "Toraighyrov Pavlodar University", "Specialist", "Chemistry", "1992-06-30", ""},
	{"madina", "Auezov South Kazakhstan University", "Bachelor", "Accounting and Audit", "2016-06-24", ""},
	{"asel", "Gumilyov Eurasian National University", "Bachelor", "Economics", "2020-06-26", "with honours"},
	{"asel", "Gumilyov Eurasian National University", "Master", "Finance", "2022-06-24", ""},
	{"yerzhan", "Korkyt Ata Kyzylorda University", "Bachelor", "Civil Engineering", "2023-06-30", ""},
	{"dinara", "Satbayev University", "Bachelor", "Petroleum Engineering", "2019-06-28", ""},
	{"aruzhan", "Kyzylorda Higher Medical College", "College diploma", "Nursing", "2024-06-21", ""},
}

// A few fixed exceptions that make the demo interesting.
const (
	expiredPassportHolder = "gulnar" // passport issued 2013-05-10, expired 2023-05-09
)

var registryOffice = map[string]string{
	"Almaty":    "Civil registry office of Almaty",
	"Astana":    "Civil registry office of Astana",
	"Shymkent":  "Civil registry office of Shymkent",
	"Karaganda": "Civil registry office of Karaganda",
	"Aktobe":    "Civil registry office of Aktobe",
	"Pavlodar":  "Civil registry office of Pavlodar",
	"Semey":     "Civil registry office of Semey",
	"Kostanay":  "Civil registry office of Kostanay",
	"Atyrau":    "Civil registry office of Atyrau",
	"Oskemen":   "Civil registry office of Oskemen",
	"Kyzylorda": "Civil registry office of Kyzylorda",
	"Taraz":     "Civil registry office of Taraz",
}

var phonePrefixes = []string{"701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778"}

func main() {
	out := flag.String("o", "integrations/sources/demo/registry.json", "file to write")
	flag.Parse()
	b, err := generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-demo-registry:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen-demo-registry:", err)
		os.Exit(1)
	}
}

type gen struct {
	byKey   map[string]*citizen
	data    sources.DemoData
	counter map[wallet.DocumentType]int
}

type citizen struct {
	person
	iin   wallet.IIN
	birth time.Time
	index int
}

func (c *citizen) fullName() string {
	return strings.TrimSpace(c.surname + " " + c.given + " " + c.patronymic)
}

func date(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

func sex(female bool) string {
	if female {
		return "F"
	}
	return "M"
}

func generate() ([]byte, error) {
	g := &gen{byKey: make(map[string]*citizen), counter: make(map[wallet.DocumentType]int)}
	for i, p := range people {
		c := &citizen{person: p, birth: date(p.birth), index: i}
		// Serials are spread so that IINs look unrelated; skip a serial
		// without a valid check digit.
		for serial := 1000 + i*271; ; serial++ {
			if iin, ok := wallet.MakeIIN(c.birth, p.female, serial); ok {
				c.iin = iin
				break
			}
		}
		g.byKey[p.key] = c
		g.data.Citizens = append(g.data.Citizens, sources.DemoCitizen{
			IIN:       c.iin,
			Name:      c.given + " " + c.surname,
			Phone:     fmt.Sprintf("+7%s%07d", phonePrefixes[i%len(phonePrefixes)], (1234567+i*7919*13)%10000000),
			BirthDate: p.birth,
			Note:      p.note,
		})
	}

	birthCert := make(map[string]string) // child key → certificate number
	for _, b := range births {
		birthCert[b.child] = g.birthCertificate(b)
	}
	for _, b := range births {
		for _, parent := range []string{b.father, b.mother} {
			if parent == "" || strings.HasPrefix(parent, "=") {
				continue
			}
			g.data.Guardianships = append(g.data.Guardianships, sources.Guardianship{
				Ward: g.byKey[b.child].iin, Guardian: g.byKey[parent].iin,
				Basis: sources.BasisParent, Document: birthCert[b.child],
			})
		}
	}
	for _, a := range appointed {
		g.data.Guardianships = append(g.data.Guardianships, sources.Guardianship{
			Ward: g.byKey[a.ward].iin, Guardian: g.byKey[a.guardian].iin,
			Basis: sources.BasisGuardianship, Document: a.decision,
		})
	}

	for _, p := range people {
		c := g.byKey[p.key]
		if !c.birth.AddDate(16, 0, 0).After(date("2026-11-23")) {
			g.idCard(c)
		}
		if !noPassport[p.key] && !c.birth.AddDate(18, 0, 0).After(date("2026-11-23")) {
			g.passport(c)
		}
	}
	for _, m := range marriages {
		g.marriage(m.husband, m.wife, m.date, m.place)
	}
	for _, l := range licences {
		c := g.byKey[l.holder]
		issued := date(l.issued)
		g.add(wallet.DrivingLicence, c, issued, ptr(issued.AddDate(10, 0, -1)), l.revoked, map[string]string{
			"surname":     c.surname,
			"given_name":  c.given,
			"patronymic":  c.patronymic,
			"birth_date":  c.person.birth,
			"birth_place": c.place,
			"categories":  l.categories,
			"authority":   "MIA RK, population service centre of " + c.place,
		})
	}
	for i, v := range vehicles {
		c := g.byKey[v.owner]
		g.add(wallet.VehicleRegistration, c, date(v.issued), nil, false, map[string]string{
			"owner":             c.fullName(),
			"owner_iin":         string(c.iin),
			"make":              v.make,
			"model":             v.model,
			"year":              v.year,
			"colour":            v.colour,
			"body_type":         v.body,
			"engine_volume_cc":  v.engine,
			"plate":             v.plate,
			"vin":               vin(v.wmi, v.year, i),
			"registration_unit": "MIA RK, special population service centre of " + c.place,
		})
	}
	for _, d := range diplomas {
		c := g.byKey[d.holder]
		f := map[string]string{
			"surname":         c.surname,
			"given_name":      c.given,
			"patronymic":      c.patronymic,
			"university":      d.university,
			"degree":          d.degree,
			"specialty":       d.specialty,
			"graduation_date": d.graduated,
		}
		if d.honours != "" {
			f["honours"] = d.honours
		}
		g.add(wallet.Diploma, c, date(d.graduated), nil, false, f)
	}

	// Order records by citizen, then by type, so the file reads by person.
	order := make(map[wallet.IIN]int)
	for _, c := range g.byKey {
		order[c.iin] = c.index
	}
	typeOrder := make(map[wallet.DocumentType]int)
	for i, t := range wallet.DocumentTypes {
		typeOrder[t] = i
	}
	rs := g.data.Records
	for i := 1; i < len(rs); i++ { // insertion sort: stable, small
		for j := i; j > 0; j-- {
			a, b := rs[j-1], rs[j]
			if order[a.Subject] < order[b.Subject] ||
				(order[a.Subject] == order[b.Subject] && typeOrder[a.Type] <= typeOrder[b.Type]) {
				break
			}
			rs[j-1], rs[j] = b, a
		}
	}

	if _, err := sources.NewDemo(g.data); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(g.data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// number returns the next registry number of type t, in that registry's style.
func (g *gen) number(t wallet.DocumentType) string {
	g.counter[t]++
	n := g.counter[t]
	switch t {
	case wallet.IDCard:
		return fmt.Sprintf("0%08d", 41235000+n*3137)
	case wallet.Passport:
		return fmt.Sprintf("N%08d", 10467000+n*2203)
	case wallet.DrivingLicence:
		return fmt.Sprintf("%s%06d", []string{"AA", "AB", "AC", "AD"}[n%4], 203000+n*577)
	case wallet.VehicleRegistration:
		return fmt.Sprintf("%s%08d", []string{"AS", "AT", "AU"}[n%3], 517000+n*1931)
	case wallet.BirthCertificate:
		return fmt.Sprintf("I-AA %07d", 112300+n*4111)
	case wallet.MarriageCertificate:
		return fmt.Sprintf("I-ZhU %07d", 42100+n*2579)
	case wallet.Diploma:
		return fmt.Sprintf("ZhB-B %07d", 1230000+n*6373)
	}
	panic("unknown type " + t)
}

func (g *gen) add(t wallet.DocumentType, c *citizen, issued time.Time, until *time.Time, revoked bool, fields map[string]string) string {
	r := wallet.Record{
		Source:     sources.SourceFor(t),
		Type:       t,
		Number:     g.number(t),
		Issuer:     sources.IssuerFor(t),
		Subject:    c.iin,
		Fields:     fields,
		IssuedAt:   issued,
		ValidUntil: until,
		Revoked:    revoked,
	}
	g.data.Records = append(g.data.Records, r)
	return r.Number
}

// issueDate spreads issue dates over the years before the demo day, never
// before the holder is old enough.
func issueDate(c *citizen, seed, minAge int) time.Time {
	d := time.Date(2017+(c.index*3+seed)%9, time.Month((c.index*5+seed)%12+1), (c.index*7+seed)%27+1, 0, 0, 0, 0, time.UTC)
	if earliest := c.birth.AddDate(minAge, 0, 13); d.Before(earliest) {
		d = earliest
	}
	return d
}

func (g *gen) idCard(c *citizen) {
	issued := issueDate(c, 0, 16)
	g.add(wallet.IDCard, c, issued, ptr(issued.AddDate(10, 0, -1)), false, map[string]string{
		"surname":     c.surname,
		"given_name":  c.given,
		"patronymic":  c.patronymic,
		"sex":         sex(c.female),
		"birth_date":  c.person.birth,
		"birth_place": c.place,
		"nationality": "Kazakh",
		"citizenship": "Republic of Kazakhstan",
		"authority":   "Ministry of Internal Affairs",
	})
}

func (g *gen) passport(c *citizen) {
	issued := issueDate(c, 4, 18)
	if c.key == expiredPassportHolder {
		issued = date("2013-05-10")
	}
	g.add(wallet.Passport, c, issued, ptr(issued.AddDate(10, 0, -1)), false, map[string]string{
		"type":         "P",
		"country_code": "KAZ",
		"surname":      strings.ToUpper(c.surname),
		"given_name":   strings.ToUpper(c.given),
		"sex":          sex(c.female),
		"birth_date":   c.person.birth,
		"birth_place":  c.place,
		"nationality":  "KAZAKHSTAN",
		"authority":    "Ministry of Internal Affairs",
	})
}

// parentFields fills the fields of one parent on a birth certificate.
func (g *gen) parentFields(f map[string]string, role, who string) {
	switch {
	case who == "":
		f[role+"_name"] = "-"
	case strings.HasPrefix(who, "="):
		f[role+"_name"] = who[1:]
	default:
		p := g.byKey[who]
		f[role+"_name"] = p.fullName()
		f[role+"_iin"] = string(p.iin)
	}
}

func (g *gen) birthCertificate(b birth) string {
	c := g.byKey[b.child]
	registered := c.birth.AddDate(0, 0, 5+c.index%20)
	f := map[string]string{
		"surname":         c.surname,
		"given_name":      c.given,
		"patronymic":      c.patronymic,
		"sex":             sex(c.female),
		"birth_date":      c.person.birth,
		"birth_place":     c.place,
		"registry_office": registryOffice[c.place],
		"act_record":      fmt.Sprintf("No. %d of %s", 800+c.index*53, registered.Format("2006-01-02")),
	}
	g.parentFields(f, "father", b.father)
	g.parentFields(f, "mother", b.mother)
	return g.add(wallet.BirthCertificate, c, registered, nil, false, f)
}

// marriage adds one certificate for each spouse: they share the act record
// and differ in number.
func (g *gen) marriage(husbandKey, wifeKey, when, place string) {
	h, w := g.byKey[husbandKey], g.byKey[wifeKey]
	married := date(when)
	act := fmt.Sprintf("No. %d of %s", 300+h.index*41, when)
	for _, c := range []*citizen{h, w} {
		g.add(wallet.MarriageCertificate, c, married, nil, false, map[string]string{
			"husband_name":    h.fullName(),
			"husband_iin":     string(h.iin),
			"wife_name":       w.fullName(),
			"wife_iin":        string(w.iin),
			"marriage_date":   when,
			"marriage_place":  place,
			"surname_after":   h.surname + " / " + w.surname,
			"registry_office": registryOffice[place],
			"act_record":      act,
		})
	}
}

// vin builds a 17-character vehicle identification number: manufacturer
// code, descriptor, model year letter, plant and serial. No I, O or Q.
func vin(wmi, year string, i int) string {
	const alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
	yearLetter := map[string]string{"2017": "H", "2018": "J", "2019": "K", "2020": "L", "2021": "M", "2022": "N", "2023": "P"}[year]
	var desc strings.Builder
	x := 7919 * (i + 3)
	for k := 0; k < 6; k++ {
		desc.WriteByte(alphabet[(x>>(k*3))%len(alphabet)])
	}
	return fmt.Sprintf("%s%s%s%s%06d", wmi, desc.String(), yearLetter, string(alphabet[(i*5)%26]), 100000+i*48611)
}
