package wallet_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// memStore is a DocumentStore in memory for tests, with its Committer side
// (Commit) that applies AppendVersion ops with the contract's ECONFLICT
// rules. beforeAppend, if set, runs (once) before a change's AppendVersion
// ops are applied; appendErr, if set, refuses every change.
type memStore struct {
	mu           sync.Mutex
	docs         map[string]*wallet.StoredDocument
	versions     map[string][]wallet.Version
	fetched      []string // "subject/source" per MarkFetched call
	nextIndex    int64    // the next log index Commit hands out
	beforeAppend func(d wallet.StoredDocument, v wallet.Version)
	appendErr    error
}

var (
	_ wallet.DocumentStore = (*memStore)(nil)
	_ wallet.Committer     = (*memStore)(nil)
)

func newMemStore() *memStore {
	return &memStore{docs: map[string]*wallet.StoredDocument{}, versions: map[string][]wallet.Version{}}
}

// Commit is the fake Committer: it takes only AppendVersion ops, applies
// all of them or none, and returns one index per version.
func (s *memStore) Commit(ctx context.Context, c wallet.Change) ([]int64, error) {
	if len(c.Ops) == 0 || len(c.Events) > 0 || len(c.Views) > 0 {
		return nil, wallet.Errorf(wallet.EINVALID, "memStore commits only AppendVersion ops")
	}
	ops := make([]wallet.AppendVersion, len(c.Ops))
	for i, op := range c.Ops {
		av, ok := op.(wallet.AppendVersion)
		if !ok {
			return nil, wallet.Errorf(wallet.EINVALID, "memStore does not apply %T", op)
		}
		ops[i] = av
	}
	if f := s.beforeAppend; f != nil {
		s.beforeAppend = nil
		f(ops[0].Document, ops[0].Version)
	}
	if s.appendErr != nil {
		return nil, s.appendErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Check every op against the state as the earlier ops leave it, then
	// apply them: all or nothing.
	pending := map[string]int{} // document → versions appended by this change
	subject := map[string]wallet.IIN{}
	for _, op := range ops {
		d, v := op.Document, op.Version
		sub, ok := subject[d.ID]
		if cur, stored := s.docs[d.ID]; !ok && stored {
			sub, ok = cur.SubjectIIN, true
		}
		switch {
		case ok && sub != d.SubjectIIN:
			return nil, wallet.Errorf(wallet.ECONFLICT, "document of another subject")
		case v.Version != len(s.versions[d.ID])+pending[d.ID]+1:
			return nil, wallet.Errorf(wallet.ECONFLICT, "version %d is not next", v.Version)
		}
		subject[d.ID] = d.SubjectIIN
		pending[d.ID]++
	}
	indexes := make([]int64, len(ops))
	for i, op := range ops {
		d, v := op.Document, op.Version
		cur, ok := s.docs[d.ID]
		if !ok {
			cp := d
			cur = &cp
			s.docs[d.ID] = cur
		}
		cur.Latest = v
		cur.FetchedAt = d.FetchedAt
		s.versions[d.ID] = append(s.versions[d.ID], v)
		indexes[i] = s.nextIndex
		s.nextIndex++
	}
	return indexes, nil
}

func (s *memStore) MarkFetched(ctx context.Context, subject wallet.IIN, source string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetched = append(s.fetched, string(subject)+"/"+source)
	for _, d := range s.docs {
		if d.SubjectIIN == subject && d.Source == source {
			d.FetchedAt = t
		}
	}
	return nil
}

func (s *memStore) Documents(ctx context.Context, subject wallet.IIN) ([]wallet.StoredDocument, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wallet.StoredDocument
	for _, d := range s.docs {
		if d.SubjectIIN == subject {
			out = append(out, *d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (s *memStore) Document(ctx context.Context, id string) (wallet.StoredDocument, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[id]
	if !ok {
		return wallet.StoredDocument{}, wallet.Errorf(wallet.ENOTFOUND, "no document")
	}
	return *d, nil
}

func (s *memStore) Versions(ctx context.Context, id string) ([]wallet.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.versions[id]
	if !ok {
		return nil, wallet.Errorf(wallet.ENOTFOUND, "no document")
	}
	return append([]wallet.Version(nil), v...), nil
}

// fakeSource answers from a map it may change between calls.
type fakeSource struct {
	name string
	mu   sync.Mutex
	recs []wallet.Record
	err  error
	// wait, if set, is called first; a slow source blocks in it.
	wait func(ctx context.Context)
}

func (f *fakeSource) Name() string { return f.name }

func (f *fakeSource) Records(ctx context.Context, iin wallet.IIN) ([]wallet.Record, error) {
	if f.wait != nil {
		f.wait(ctx)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []wallet.Record
	for _, r := range f.recs {
		if r.Subject == iin {
			r.Fields = cloneFields(r.Fields)
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeSource) set(recs ...wallet.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = recs
}

func (f *fakeSource) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func cloneFields(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// fixtures returns one record of each of the seven types for subject.
func fixtures(t *testing.T, subject, spouse, child wallet.IIN) []wallet.Record {
	t.Helper()
	return []wallet.Record{
		{Source: "population", Type: wallet.IDCard, Number: "043218765", Issuer: "mvd", Subject: subject,
			Fields:   map[string]string{"surname": "ABENOV", "given_names": "ARMAN", "birth_date": "1990-01-01", "sex": "M"},
			IssuedAt: date(2020, 5, 4), ValidUntil: datep(2030, 5, 3)},
		{Source: "population", Type: wallet.Passport, Number: "N12345678", Issuer: "mvd", Subject: subject,
			Fields:   map[string]string{"surname": "ABENOV", "given_names": "ARMAN", "nationality": "KAZ"},
			IssuedAt: date(2019, 2, 1), ValidUntil: datep(2029, 1, 31)},
		{Source: "transport", Type: wallet.DrivingLicence, Number: "AB123456", Issuer: "mvd-traffic", Subject: subject,
			Fields:   map[string]string{"categories": "B,C1", "surname": "ABENOV"},
			IssuedAt: date(2015, 7, 20), ValidUntil: datep(2025, 7, 19)}, // expired at t0
		{Source: "transport", Type: wallet.VehicleRegistration, Number: "KZ01ABC123", Issuer: "mvd-traffic", Subject: subject,
			Fields:   map[string]string{"plate": "123ABC02", "make": "Toyota", "model": "Camry", "vin": "JT2BF22K1W0123456"},
			IssuedAt: date(2021, 3, 3)},
		{Source: "civil", Type: wallet.BirthCertificate, Number: "I-AA 0012345", Issuer: "minjust", Subject: subject,
			Fields:   map[string]string{"place_of_birth": "Almaty", "mother": "ABENOVA S."},
			IssuedAt: date(1990, 1, 15)},
		{Source: "civil", Type: wallet.MarriageCertificate, Number: "I-MR 0098765", Issuer: "minjust", Subject: subject,
			Fields:   map[string]string{"spouse_iin": string(spouse), "place": "Astana"},
			IssuedAt: date(2018, 9, 9), Revoked: true}, // dissolved
		{Source: "education", Type: wallet.Diploma, Number: "JB-0012345", Issuer: "minedu", Subject: subject,
			Fields:   map[string]string{"institution": "Al-Farabi KazNU", "degree": "bachelor", "speciality": "Informatics <&>"},
			IssuedAt: date(2012, 6, 30)},
	}
}

var docIDPattern = regexp.MustCompile(`^doc_[a-z2-7]{20}$`)

func TestContentFromRecord_AllSevenTypes(t *testing.T) {
	subject := mustIIN(t, date(1990, 1, 1), false)
	spouse := mustIIN(t, date(1991, 2, 2), true)
	recs := fixtures(t, subject, spouse, "")
	want := map[wallet.DocumentType]struct{ title, status string }{
		wallet.IDCard:              {"Identity card", wallet.StatusValid},
		wallet.Passport:            {"Passport", wallet.StatusValid},
		wallet.DrivingLicence:      {"Driving licence", wallet.StatusExpired},
		wallet.VehicleRegistration: {"Vehicle registration certificate", wallet.StatusValid},
		wallet.BirthCertificate:    {"Birth certificate", wallet.StatusValid},
		wallet.MarriageCertificate: {"Marriage certificate", wallet.StatusRevoked},
		wallet.Diploma:             {"Diploma", wallet.StatusValid},
	}
	if len(recs) != len(wallet.DocumentTypes) {
		t.Fatalf("fixtures cover %d types", len(recs))
	}
	ids := map[string]bool{}
	for _, r := range recs {
		t.Run(string(r.Type), func(t *testing.T) {
			c, err := wallet.ContentFromRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			w := want[r.Type]
			if c.Type != r.Type || c.Title != w.title || c.SubjectIIN != subject || c.Issuer != r.Issuer ||
				c.Number != r.Number || c.Source != r.Source || c.Revoked != r.Revoked || !c.IssuedAt.Equal(r.IssuedAt) {
				t.Errorf("content %+v from record %+v", c, r)
			}
			if got := c.Status(t0); got != w.status {
				t.Errorf("status %s, want %s", got, w.status)
			}
			if fmt.Sprint(c.Fields) != fmt.Sprint(r.Fields) {
				t.Errorf("fields %v, want %v", c.Fields, r.Fields)
			}
			id := c.ID()
			if !docIDPattern.MatchString(id) || id != wallet.DocumentID(subject, r.Type, r.Number) || ids[id] {
				t.Errorf("id %q", id)
			}
			ids[id] = true

			// Canonical bytes do not depend on map order or on the zone
			// the source used for its dates.
			b1, err := c.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			r2 := r
			r2.Fields = map[string]string{}
			keys := make([]string, 0, len(r.Fields))
			for k := range r.Fields {
				keys = append(keys, k)
			}
			sort.Sort(sort.Reverse(sort.StringSlice(keys)))
			for _, k := range keys {
				r2.Fields[k] = r.Fields[k]
			}
			r2.IssuedAt = r.IssuedAt.In(wallet.CivilZone)
			c2, _ := wallet.ContentFromRecord(r2)
			for i := 0; i < 20; i++ {
				b2, _ := c2.Canonical()
				if string(b1) != string(b2) {
					t.Fatalf("canonical JSON differs:\n%s\n%s", b1, b2)
				}
			}
			back, err := wallet.ParseContent(b1)
			if err != nil {
				t.Fatal(err)
			}
			if b3, _ := back.Canonical(); string(b3) != string(b1) {
				t.Fatalf("round trip changes content:\n%s\n%s", b1, b3)
			}
		})
	}
}

func TestCanonical_ExactBytes(t *testing.T) {
	c := wallet.DocumentContent{
		Type: wallet.Passport, Title: "Passport", SubjectIIN: "900101300123", Issuer: "mvd", Number: "N1",
		Fields:   map[string]string{"z": "1", "a": "2", "m": "<&>"},
		IssuedAt: time.Date(2019, 2, 1, 0, 0, 0, 0, wallet.CivilZone),
	}
	b, err := c.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"passport","title":"Passport","subject_iin":"900101300123","issuer":"mvd","number":"N1",` +
		`"fields":{"a":"2","m":"\u003c\u0026\u003e","z":"1"},"issued_at":"2019-01-31T19:00:00Z","valid_until":null,` +
		`"revoked":false,"source":""}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	c.Fields = nil
	if b, _ := c.Canonical(); !strings.Contains(string(b), `"fields":{}`) {
		t.Fatalf("nil fields: %s", b)
	}
}

func TestContentFromRecord_RefusesUnusableRecords(t *testing.T) {
	good := wallet.Record{Type: wallet.IDCard, Number: "1", Issuer: "mvd", Subject: mustIIN(t, date(1990, 1, 1), false)}
	for name, mod := range map[string]func(*wallet.Record){
		"unknown type": func(r *wallet.Record) { r.Type = "library_card" },
		"no number":    func(r *wallet.Record) { r.Number = " " },
		"no issuer":    func(r *wallet.Record) { r.Issuer = "" },
		"bad subject":  func(r *wallet.Record) { r.Subject = "900101300124x" },
		"wrong checker": func(r *wallet.Record) {
			r.Subject = r.Subject[:11] + wallet.IIN(fmt.Sprint((int(r.Subject[11]-'0')+1)%10))
		},
	} {
		r := good
		mod(&r)
		if _, err := wallet.ContentFromRecord(r); !wallet.IsCode(err, wallet.EINVALID) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if _, err := wallet.ContentFromRecord(good); err != nil {
		t.Fatal(err)
	}
}

func TestDocumentID_StableOpaqueAndDistinct(t *testing.T) {
	a := mustIIN(t, date(1990, 1, 1), false)
	b := mustIIN(t, date(1985, 6, 1), true)
	id := wallet.DocumentID(a, wallet.IDCard, "1")
	if id != wallet.DocumentID(a, wallet.IDCard, "1") || !docIDPattern.MatchString(id) {
		t.Fatalf("id %q", id)
	}
	for _, other := range []string{
		wallet.DocumentID(b, wallet.IDCard, "1"),
		wallet.DocumentID(a, wallet.Passport, "1"),
		wallet.DocumentID(a, wallet.IDCard, "2"),
		wallet.DocumentID(a, wallet.IDCard, "1\x00"),
	} {
		if other == id {
			t.Fatalf("collision %s", id)
		}
	}
	if strings.Contains(id, string(a)) || strings.Contains(id, "1") {
		t.Fatalf("id %q shows its inputs", id)
	}
}

func TestStatus_BoundaryOfValidity(t *testing.T) {
	c := wallet.DocumentContent{ValidUntil: datep(2030, 5, 3)}
	if s := c.Status(date(2030, 5, 3)); s != wallet.StatusValid {
		t.Errorf("on the last instant: %s", s)
	}
	if s := c.Status(date(2030, 5, 3).Add(time.Second)); s != wallet.StatusExpired {
		t.Errorf("after: %s", s)
	}
	c.Revoked = true
	if s := c.Status(date(2040, 1, 1)); s != wallet.StatusRevoked {
		t.Errorf("revoked and expired: %s", s)
	}
}

// refreshFixture is a service over a memory store with three sources.
type refreshFixture struct {
	subject                    wallet.IIN
	store                      *memStore
	keys                       *memKeyRing
	population, transport, edu *fakeSource
	svc                        *wallet.DocumentService
	now                        time.Time
}

func newRefreshFixture(t *testing.T) *refreshFixture {
	t.Helper()
	f := &refreshFixture{
		subject: mustIIN(t, date(1990, 1, 1), false),
		store:   newMemStore(),
		keys:    newMemKeyRing(t, wallet.AlgEdDSA, "mvd", "mvd-traffic", "minjust", "minedu"),
		now:     t0,
	}
	recs := fixtures(t, f.subject, mustIIN(t, date(1991, 2, 2), true), "")
	f.population = &fakeSource{name: "population", recs: recs[0:2]}
	f.transport = &fakeSource{name: "transport", recs: recs[2:4]}
	f.edu = &fakeSource{name: "education", recs: recs[6:7]}
	f.svc = &wallet.DocumentService{
		Store:         f.store,
		Changes:       f.store,
		Sources:       []wallet.Source{f.population, f.transport, f.edu},
		Keys:          f.keys,
		Now:           func() time.Time { return f.now },
		SourceTimeout: time.Second,
	}
	return f
}

func (f *refreshFixture) refresh(t *testing.T) wallet.RefreshResult {
	t.Helper()
	res, err := f.svc.Refresh(context.Background(), f.subject)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func docByType(t *testing.T, docs []wallet.Document, typ wallet.DocumentType) wallet.Document {
	t.Helper()
	for _, d := range docs {
		if d.Type == typ {
			return d
		}
	}
	t.Fatalf("no %s among %d documents", typ, len(docs))
	return wallet.Document{}
}

func TestRefresh_NewVersionOnlyWhenContentChanged(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()

	first := f.refresh(t)
	if len(first.Documents) != 5 || len(first.Changed) != 5 || len(first.FailedSources) != 0 {
		t.Fatalf("first refresh: %d documents, %d changed, failed %v", len(first.Documents), len(first.Changed), first.FailedSources)
	}
	for i, typ := range []wallet.DocumentType{wallet.IDCard, wallet.Passport, wallet.DrivingLicence, wallet.VehicleRegistration, wallet.Diploma} {
		if first.Documents[i].Type != typ {
			t.Fatalf("documents not in display order: %v at %d", first.Documents[i].Type, i)
		}
	}
	id := docByType(t, first.Documents, wallet.DrivingLicence)
	if id.Version != 1 || id.Status != wallet.StatusExpired || id.Title != "Driving licence" || id.JWS == "" ||
		!id.UpdatedAt.Equal(t0) || !id.FetchedAt.Equal(t0) || id.Source != "transport" {
		t.Fatalf("driving licence %+v", id)
	}

	// Asked again an hour later with nothing changed: still version 1
	// everywhere, but fetched now.
	f.now = t0.Add(time.Hour)
	second := f.refresh(t)
	if len(second.Changed) != 0 {
		t.Fatalf("unchanged content made versions: %v", second.Changed)
	}
	for _, d := range second.Documents {
		if d.Version != 1 || !d.UpdatedAt.Equal(t0) || !d.FetchedAt.Equal(f.now) {
			t.Fatalf("%s: version %d updated %v fetched %v", d.Type, d.Version, d.UpdatedAt, d.FetchedAt)
		}
	}

	// The registry changes a field: version 2, chained to version 1.
	recs := fixtures(t, f.subject, "", "")
	recs[3].Fields["plate"] = "777ZZZ02"
	f.transport.set(recs[2], recs[3])
	f.now = t0.Add(2 * time.Hour)
	third := f.refresh(t)
	vr := docByType(t, third.Documents, wallet.VehicleRegistration)
	if len(third.Changed) != 1 || third.Changed[0] != vr.ID || vr.Version != 2 || vr.Fields["plate"] != "777ZZZ02" || !vr.UpdatedAt.Equal(f.now) {
		t.Fatalf("after change: changed %v, %+v", third.Changed, vr)
	}
	versions, err := f.svc.Versions(ctx, vr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[1].PrevHash != versions[0].Hash || versions[0].PrevHash != "" {
		t.Fatalf("versions %+v", versions)
	}
	if err := wallet.VerifyChain(versions); err != nil {
		t.Fatal(err)
	}
	if versions[1].JWS != vr.JWS {
		t.Fatal("document does not carry its latest JWS")
	}

	// Every stored JWS verifies and its jti names its version.
	v := &wallet.Verifier{Keys: f.keys, Status: f.svc.Status, CurrentVersion: f.svc.CurrentVersion, Now: func() time.Time { return f.now }}
	if r := v.Verify(ctx, versions[0].JWS); !r.Valid || !r.Superseded || r.Version != 1 || r.DocumentID != vr.ID {
		t.Fatalf("version 1: %+v", r)
	}
	if r := v.Verify(ctx, versions[1].JWS); !r.Valid || r.Superseded || r.Version != 2 {
		t.Fatalf("version 2: %+v", r)
	}

	// Fourth refresh with the same changed content: still version 2.
	if res := f.refresh(t); len(res.Changed) != 0 {
		t.Fatalf("changed %v", res.Changed)
	}
}

func TestRefresh_SlowAndFailingSourcesDoNotBlockOthersAndKeepLastGoodVersion(t *testing.T) {
	f := newRefreshFixture(t)
	f.svc.SourceTimeout = 100 * time.Millisecond
	f.refresh(t) // all answer: five documents at t0

	// Now transport hangs, ignoring its context, and education fails; the
	// population registry has a change.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.transport.wait = func(ctx context.Context) { <-release }
	f.edu.setErr(wallet.Errorf(wallet.EUNAVAILABLE, "registry down"))
	recs := fixtures(t, f.subject, "", "")
	recs[0].Fields["surname"] = "ABENOV-ALIEV"
	f.population.set(recs[0], recs[1])
	f.now = t0.Add(24 * time.Hour)
	f.store.fetched = nil

	start := time.Now()
	res := f.refresh(t)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("refresh took %v with a source hanging", el)
	}
	if fmt.Sprint(res.FailedSources) != "[transport education]" {
		t.Fatalf("failed sources %v", res.FailedSources)
	}
	if fmt.Sprint(f.store.fetched) != fmt.Sprintf("[%s/population]", f.subject) {
		t.Fatalf("marked fetched: %v", f.store.fetched)
	}
	if len(res.Documents) != 5 {
		t.Fatalf("%d documents", len(res.Documents))
	}
	if d := docByType(t, res.Documents, wallet.IDCard); d.Version != 2 || d.Fields["surname"] != "ABENOV-ALIEV" || !d.FetchedAt.Equal(f.now) {
		t.Fatalf("id card %+v", d)
	}
	for _, typ := range []wallet.DocumentType{wallet.DrivingLicence, wallet.VehicleRegistration, wallet.Diploma} {
		d := docByType(t, res.Documents, typ)
		if d.Version != 1 || !d.FetchedAt.Equal(t0) {
			t.Fatalf("%s of a failed source: version %d fetched %v (want its last good version, fetched at %v)", typ, d.Version, d.FetchedAt, t0)
		}
	}
}

func TestRefresh_AsksSourcesInParallel(t *testing.T) {
	f := newRefreshFixture(t)
	// Each source waits until all three have been asked: only parallel
	// calls can all answer before the timeout.
	var arrived sync.WaitGroup
	arrived.Add(3)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	barrier := func(ctx context.Context) {
		arrived.Done()
		select {
		case <-all:
		case <-ctx.Done():
		}
	}
	f.population.wait, f.transport.wait, f.edu.wait = barrier, barrier, barrier
	f.svc.SourceTimeout = 5 * time.Second
	if res := f.refresh(t); len(res.FailedSources) != 0 || len(res.Documents) != 5 {
		t.Fatalf("failed %v, %d documents", res.FailedSources, len(res.Documents))
	}
}

func TestRefresh_ConcurrentAppendIsRetriedOnce(t *testing.T) {
	f := newRefreshFixture(t)
	f.svc.Sources = []wallet.Source{f.edu}
	f.refresh(t)

	recs := fixtures(t, f.subject, "", "")
	recs[6].Fields["degree"] = "master"
	f.edu.set(recs[6])
	id := wallet.DocumentID(f.subject, wallet.Diploma, recs[6].Number)

	// Another refresh appends version 2 (other content) just before ours.
	f.store.beforeAppend = func(d wallet.StoredDocument, v wallet.Version) {
		other := recs[6]
		other.Fields = map[string]string{"degree": "phd"}
		c, _ := wallet.ContentFromRecord(other)
		content, _ := c.Canonical()
		k, _ := f.keys.Signer("minedu")
		jws, _ := wallet.SignDocument(k, c, 2, f.now)
		v1, _ := f.store.Document(context.Background(), id)
		v2 := wallet.Version{DocumentID: id, Version: 2, Content: content, JWS: jws, PrevHash: v1.Latest.Hash,
			Hash: wallet.VersionHash(v1.Latest.Hash, content, jws), CreatedAt: f.now}
		if _, err := f.store.Commit(context.Background(), wallet.Change{Ops: []wallet.Op{wallet.AppendVersion{Document: d, Version: v2}}}); err != nil {
			t.Error(err)
		}
	}
	res := f.refresh(t)
	d := docByType(t, res.Documents, wallet.Diploma)
	if d.Version != 3 || d.Fields["degree"] != "master" {
		t.Fatalf("after a concurrent append: %+v", d)
	}
	versions, _ := f.svc.Versions(context.Background(), id)
	if err := wallet.VerifyChain(versions); err != nil || len(versions) != 3 {
		t.Fatalf("%d versions: %v", len(versions), err)
	}
}

func TestRefresh_SourceAnsweringAnotherSubjectIsRefused(t *testing.T) {
	f := newRefreshFixture(t)
	other := mustIIN(t, date(1970, 7, 7), true)
	bad := &badSubjectSource{other: other}
	f.svc.Sources = append(f.svc.Sources, bad)
	res := f.refresh(t)
	if fmt.Sprint(res.FailedSources) != "[liar]" || len(res.Documents) != 5 {
		t.Fatalf("failed %v, %d documents", res.FailedSources, len(res.Documents))
	}
	if docs, _ := f.store.Documents(context.Background(), other); len(docs) != 0 {
		t.Fatal("stored a document of another subject")
	}
}

type badSubjectSource struct{ other wallet.IIN }

func (badSubjectSource) Name() string { return "liar" }
func (b badSubjectSource) Records(ctx context.Context, iin wallet.IIN) ([]wallet.Record, error) {
	return []wallet.Record{{Type: wallet.IDCard, Number: "9", Issuer: "mvd", Subject: b.other}}, nil
}

func TestRefresh_IssuerWithoutKeyFailsItsSource(t *testing.T) {
	f := newRefreshFixture(t)
	recs := fixtures(t, f.subject, "", "")
	recs[6].Issuer = "unknown-ministry"
	f.edu.set(recs[6])
	res := f.refresh(t)
	if fmt.Sprint(res.FailedSources) != "[education]" || len(res.Documents) != 4 {
		t.Fatalf("failed %v, %d documents", res.FailedSources, len(res.Documents))
	}
}

func TestRefresh_InvalidSubject(t *testing.T) {
	f := newRefreshFixture(t)
	if _, err := f.svc.Refresh(context.Background(), "123"); !wallet.IsCode(err, wallet.EINVALID) {
		t.Fatalf("err %v", err)
	}
}

func TestDocuments_StatusIsComputedAtReadTime(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	res := f.refresh(t)
	idc := docByType(t, res.Documents, wallet.IDCard)
	if idc.Status != wallet.StatusValid {
		t.Fatal(idc.Status)
	}
	f.now = date(2030, 5, 4)
	d, err := f.svc.Document(ctx, idc.ID)
	if err != nil || d.Status != wallet.StatusExpired || d.Version != 1 {
		t.Fatalf("%+v %v", d, err)
	}
	if st, err := f.svc.Status(ctx, idc.ID); err != nil || st != wallet.StatusExpired {
		t.Fatalf("%s %v", st, err)
	}
	if _, err := f.svc.Document(ctx, "doc_nosuchdocument0000"); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("err %v", err)
	}
	if _, err := f.svc.Versions(ctx, "doc_nosuchdocument0000"); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("err %v", err)
	}
}

func TestRefresh_StoreErrorsAreReturned(t *testing.T) {
	f := newRefreshFixture(t)
	f.store.appendErr = wallet.Errorf(wallet.EUNAVAILABLE, "store down")
	if _, err := f.svc.Refresh(context.Background(), f.subject); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Fatalf("err %v", err)
	}
}
