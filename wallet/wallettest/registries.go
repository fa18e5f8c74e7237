package wallettest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// registryTests are the conformance cases of hosted registries (settings)
// and of their records, versions and extracts (written through Change).
var registryTests = []struct {
	name string
	fn   func(t *testing.T, s *logged)
}{
	{"Registry_CreateReadList", testRegistries},
	{"RegistryRecord_DraftSignAmendRevokeKeepsSignedVersions", testRegistryLifecycle},
	{"RegistryVersion_RefusesOutOfOrderAndBrokenChains", testRegistryRefusals},
	{"RegistryVersion_ConcurrentAmendsOneWins", testRegistryConcurrent},
	{"Extract_CreateAndRead", testExtracts},
}

func setupRegistry(t *testing.T, s *logged) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateClient(ctx, wallet.Client{ID: "gov-1", Name: "Ministry", Kind: "gov", SecretHash: "h", CreatedAt: t0}))
	must(t, s.CreateRegistry(ctx, wallet.Registry{Code: "lic", Name: "Licences", OrganisationID: "gov-1", DocumentType: "licence", CreatedAt: t0}))
}

func testRegistries(t *testing.T, s *logged) {
	ctx := context.Background()
	setupRegistry(t, s)
	wantCode(t, s.CreateRegistry(ctx, wallet.Registry{Code: "lic", Name: "Again", OrganisationID: "gov-1", DocumentType: "licence", CreatedAt: t0}), wallet.ECONFLICT)
	wantCode(t, s.CreateRegistry(ctx, wallet.Registry{Name: "No code", OrganisationID: "gov-1", CreatedAt: t0}), wallet.EINVALID)
	must(t, s.CreateRegistry(ctx, wallet.Registry{Code: "agr", Name: "Agreements", OrganisationID: "gov-1", DocumentType: "licence", CreatedAt: t0}))
	r, err := s.Registry(ctx, "lic")
	must(t, err)
	want := wallet.Registry{Code: "lic", Name: "Licences", OrganisationID: "gov-1", DocumentType: "licence", CreatedAt: us(t0)}
	if r != want {
		t.Fatalf("registry = %+v, want %+v", r, want)
	}
	_, err = s.Registry(ctx, "nope")
	wantCode(t, err, wallet.ENOTFOUND)
	all, err := s.Registries(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Code != "agr" || all[1].Code != "lic" {
		t.Fatalf("registries = %+v", all)
	}
	_, _, err = s.RegistryRecord(ctx, "lic", "1")
	wantCode(t, err, wallet.ENOTFOUND)
	_, err = s.Extract(ctx, "ext-x")
	wantCode(t, err, wallet.ENOTFOUND)
}

func draft(number string, version int, fields map[string]string, at time.Time) wallet.RegistryVersion {
	return wallet.RegistryVersion{Registry: "lic", Number: number, Version: version, Status: wallet.RegistryDraft,
		Fields: fields, CreatedBy: "stf_off", CreatedAt: at}
}

// signed returns v signed after prev (the hash of the version before).
func signed(v wallet.RegistryVersion, status, prev string, at time.Time) wallet.RegistryVersion {
	v.Status, v.SignedBy, v.SignerName, v.SignedAt = status, "stf_off", "Official", &at
	v.Content = []byte(`{"number":"` + v.Number + `","v":` + string(rune('0'+v.Version)) + `}`)
	v.JWS = "jws." + v.Number + "." + string(rune('0'+v.Version))
	v.PrevHash = prev
	v.Hash = wallet.VersionHash(prev, v.Content, v.JWS)
	return v
}

func staffEvent(id, kind string, subject wallet.IIN, at time.Time) wallet.Event {
	return wallet.Event{ID: id, Kind: kind, SubjectIIN: subject, ActorKind: wallet.ActorStaff, ActorID: "stf_off", ObjectID: "lic/1", At: at, LogIndex: -1}
}

func createRecord(t *testing.T, s *logged, number string) wallet.RegistryVersion {
	t.Helper()
	rec := wallet.RegistryRecord{Registry: "lic", Number: number, HolderKind: wallet.HolderCitizen, HolderID: string(alice),
		HolderName: "Alice", CreatedBy: "stf_off", CreatedAt: t0}
	d := draft(number, 1, map[string]string{"activity": "pharmacy"}, t0)
	if _, err := s.commit(context.Background(), wallet.Change{
		Ops:    []wallet.Op{wallet.CreateRegistryRecord{Record: rec}, wallet.AppendRegistryVersion{Version: d}},
		Events: []wallet.Event{staffEvent("ev-d-"+number, wallet.EventRegistryDraft, "", t0)},
	}); err != nil {
		t.Fatal(err)
	}
	return d
}

func testRegistryLifecycle(t *testing.T, s *logged) {
	ctx := context.Background()
	setupRegistry(t, s)
	d1 := createRecord(t, s, "1")
	rec, vs, err := s.RegistryRecord(ctx, "lic", "1")
	must(t, err)
	if rec.HolderKind != wallet.HolderCitizen || rec.HolderID != string(alice) || rec.HolderName != "Alice" || !rec.CreatedAt.Equal(us(t0)) {
		t.Fatalf("record = %+v", rec)
	}
	if len(vs) != 1 || vs[0].Status != wallet.RegistryDraft || vs[0].Fields["activity"] != "pharmacy" || vs[0].JWS != "" || vs[0].SignedAt != nil {
		t.Fatalf("versions after the draft = %+v", vs)
	}
	// The record's number is unique in its registry.
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateRegistryRecord{Record: rec}}, Events: []wallet.Event{staffEvent("ev-dup", wallet.EventRegistryDraft, "", t0)}})
	wantCode(t, err, wallet.ECONFLICT)
	// A record of a registry that does not exist.
	other := rec
	other.Registry = "nope"
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateRegistryRecord{Record: other}}, Events: []wallet.Event{staffEvent("ev-nope", wallet.EventRegistryDraft, "", t0)}})
	wantCode(t, err, wallet.ENOTFOUND)

	at1 := t0.Add(time.Minute)
	p1 := signed(d1, wallet.RegistryPublished, "", at1)
	if _, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.SignRegistryVersion{Version: p1}},
		Events: []wallet.Event{staffEvent("ev-p1", wallet.EventRegistryPublished, alice, at1)}}); err != nil {
		t.Fatal(err)
	}
	// Signing again: it is no longer a draft.
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.SignRegistryVersion{Version: p1}}, Events: []wallet.Event{staffEvent("ev-p1b", wallet.EventRegistryPublished, alice, at1)}})
	wantCode(t, err, wallet.ECONFLICT)

	until := t0.AddDate(1, 0, 0)
	d2 := draft("1", 2, map[string]string{"activity": "pharmacy", "address": "Astana"}, t0.Add(2*time.Minute))
	d2.ValidUntil = &until
	if _, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.AppendRegistryVersion{Version: d2}},
		Events: []wallet.Event{staffEvent("ev-d2", wallet.EventRegistryDraft, "", d2.CreatedAt)}}); err != nil {
		t.Fatal(err)
	}
	// One draft at a time.
	d3 := draft("1", 3, nil, t0.Add(3*time.Minute))
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.AppendRegistryVersion{Version: d3}}, Events: []wallet.Event{staffEvent("ev-d3", wallet.EventRegistryDraft, "", d3.CreatedAt)}})
	wantCode(t, err, wallet.ECONFLICT)
	at2 := t0.Add(4 * time.Minute)
	p2 := signed(d2, wallet.RegistryPublished, p1.Hash, at2)
	if _, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.SignRegistryVersion{Version: p2}},
		Events: []wallet.Event{staffEvent("ev-p2", wallet.EventRegistryPublished, alice, at2)}}); err != nil {
		t.Fatal(err)
	}
	at3 := t0.Add(5 * time.Minute)
	r3 := signed(draft("1", 3, d2.Fields, at3), wallet.RegistryRevoked, p2.Hash, at3)
	r3.Reason = "licence withdrawn"
	if _, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.AppendRegistryVersion{Version: r3}},
		Events: []wallet.Event{staffEvent("ev-r3", wallet.EventRegistryRevoked, alice, at3)}}); err != nil {
		t.Fatal(err)
	}
	// Nothing follows a revocation.
	d4 := draft("1", 4, nil, t0.Add(6*time.Minute))
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.AppendRegistryVersion{Version: d4}}, Events: []wallet.Event{staffEvent("ev-d4", wallet.EventRegistryDraft, "", d4.CreatedAt)}})
	wantCode(t, err, wallet.ECONFLICT)

	_, vs, err = s.RegistryRecord(ctx, "lic", "1")
	must(t, err)
	if len(vs) != 3 {
		t.Fatalf("%d versions, want 3", len(vs))
	}
	for i, want := range []wallet.RegistryVersion{p1, p2, r3} {
		got := vs[i]
		if got.Version != want.Version || got.Status != want.Status || got.JWS != want.JWS || got.Hash != want.Hash ||
			got.PrevHash != want.PrevHash || !bytes.Equal(got.Content, want.Content) || got.SignedAt == nil ||
			!got.SignedAt.Equal(us(*want.SignedAt)) || got.SignedBy != "stf_off" || got.SignerName != "Official" || got.Reason != want.Reason {
			t.Fatalf("version %d = %+v, want %+v", i+1, got, want)
		}
		if h := wallet.VersionHash(got.PrevHash, got.Content, got.JWS); h != got.Hash {
			t.Fatalf("version %d: stored hash does not recompute", i+1)
		}
	}
	if vs[1].ValidUntil == nil || !vs[1].ValidUntil.Equal(us(until)) || vs[1].Fields["address"] != "Astana" || vs[0].ValidUntil != nil {
		t.Fatalf("valid_until/fields: %+v / %+v", vs[0], vs[1])
	}
	// The publications are in the holder's history; drafts are in no citizen's.
	events, err := s.Events(ctx, alice)
	must(t, err)
	if len(events) != 3 {
		t.Fatalf("alice has %d events, want 3 (two publications and a revocation): %+v", len(events), events)
	}
	for _, e := range events {
		if e.Kind == wallet.EventRegistryDraft || e.LogIndex < 0 {
			t.Fatalf("event %+v", e)
		}
	}
}

func testRegistryRefusals(t *testing.T, s *logged) {
	ctx := context.Background()
	setupRegistry(t, s)
	d1 := createRecord(t, s, "1")
	try := func(name string, op wallet.Op, code string) {
		t.Helper()
		_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{op}, Events: []wallet.Event{staffEvent("ev-"+name, wallet.EventRegistryPublished, "", t0)}})
		wantCode(t, err, code)
	}
	// A signed version whose chain does not start empty.
	try("badprev", wallet.SignRegistryVersion{Version: signed(d1, wallet.RegistryPublished, "abc", t0)}, wallet.ECONFLICT)
	// A draft with a signature, a signed version without one, a bad status.
	bad := d1
	bad.JWS = "x"
	try("draftjws", wallet.AppendRegistryVersion{Version: bad}, wallet.EINVALID)
	unsigned := d1
	unsigned.Status = wallet.RegistryPublished
	try("unsigned", wallet.SignRegistryVersion{Version: unsigned}, wallet.EINVALID)
	weird := d1
	weird.Status = "superseded"
	try("weird", wallet.AppendRegistryVersion{Version: weird}, wallet.EINVALID)
	// A version that skips one; a version of a record that does not exist.
	try("skip", wallet.AppendRegistryVersion{Version: draft("1", 3, nil, t0)}, wallet.ECONFLICT)
	try("norecord", wallet.AppendRegistryVersion{Version: draft("2", 1, nil, t0)}, wallet.ECONFLICT)
	p1 := signed(d1, wallet.RegistryPublished, "", t0)
	try("ok", wallet.SignRegistryVersion{Version: p1}, "")
	// A revocation must follow the chain.
	try("revokebad", wallet.AppendRegistryVersion{Version: signed(draft("1", 2, nil, t0), wallet.RegistryRevoked, "wrong", t0)}, wallet.ECONFLICT)
	_, vs, err := s.RegistryRecord(ctx, "lic", "1")
	must(t, err)
	if len(vs) != 1 || vs[0].Status != wallet.RegistryPublished || vs[0].Hash != p1.Hash {
		t.Fatalf("refusals changed the record: %+v", vs)
	}
}

func testRegistryConcurrent(t *testing.T, s *logged) {
	ctx := context.Background()
	setupRegistry(t, s)
	d1 := createRecord(t, s, "1")
	if _, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.SignRegistryVersion{Version: signed(d1, wallet.RegistryPublished, "", t0)}},
		Events: []wallet.Event{staffEvent("ev-p1", wallet.EventRegistryPublished, alice, t0)}}); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, conf int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := draft("1", 2, map[string]string{"n": string(rune('a' + i))}, t0)
			_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.AppendRegistryVersion{Version: d}},
				Events: []wallet.Event{staffEvent("ev-c"+string(rune('a'+i)), wallet.EventRegistryDraft, "", t0)}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case wallet.IsCode(err, wallet.ECONFLICT):
				conf++
			default:
				t.Errorf("amend: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || conf != n-1 {
		t.Fatalf("%d amends stored and %d conflicts, want 1 and %d", ok, conf, n-1)
	}
}

func testExtracts(t *testing.T, s *logged) {
	ctx := context.Background()
	e := wallet.Extract{ID: "ext-1", DocumentID: "doc-1", OwnerIIN: alice, Version: 2, Hash: "ab", Lang: "kk", MadeBy: string(alice), CreatedAt: t0}
	ev := event("ev-ext", wallet.EventExtractMade, alice, t0)
	if _, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateExtract{Extract: e}}, Events: []wallet.Event{ev}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateExtract{Extract: e}}, Events: []wallet.Event{event("ev-ext2", wallet.EventExtractMade, alice, t0)}})
	wantCode(t, err, wallet.ECONFLICT)
	got, err := s.Extract(ctx, "ext-1")
	must(t, err)
	e.CreatedAt = us(t0)
	if got != e {
		t.Fatalf("extract = %+v, want %+v", got, e)
	}
}
