package wallettest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// duplicateTests are the conformance cases of the blob store and of
// duplicates (written through Change).
var duplicateTests = []struct {
	name string
	fn   func(t *testing.T, s *logged)
}{
	{"Blob_PutReadDeleteKeepsTheExactBytes", testBlobs},
	{"Duplicate_CreateCertifyAndList", testDuplicates},
	{"CertifyDuplicate_OnlyOnceAndOnlyAwaitingConsent", testCertifyDuplicateRefusals},
	{"PurgeDuplicate_OnlyCertifiedAndDueLeavesATombstone", testPurgeDuplicate},
}

func duplicate(id string, owner wallet.IIN, centre string, at time.Time) wallet.Duplicate {
	return wallet.Duplicate{
		ID: id, OwnerIIN: owner, Type: "marriage_certificate", Number: "I-AB 123456", IssuedOn: "2015-06-01",
		IssuedBy: "Registry office", BlobID: "blob-" + id, ContentType: "application/pdf", Size: 42,
		SHA256: "ab" + id, OperatorID: "stf_op", CentreID: centre, Status: wallet.DuplicateAwaitingConsent,
		ChallengeID: "otp_" + id, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute),
	}
}

func storedDuplicate(d wallet.Duplicate) wallet.Duplicate {
	d.CreatedAt, d.ExpiresAt = us(d.CreatedAt), us(d.ExpiresAt)
	for _, p := range []**time.Time{&d.CertifiedAt, &d.RetainUntil, &d.PurgedAt} {
		if *p != nil {
			*p = usp(**p)
		}
	}
	return d
}

func testBlobs(t *testing.T, s *logged) {
	ctx := context.Background()
	data := []byte("%PDF-1.7\n\x00\x01\xff binary \r\n bytes")
	b := wallet.Blob{ID: "blob-1", ContentType: "application/pdf", SHA256: "abc", Data: data, CreatedAt: t0}
	must(t, s.PutBlob(ctx, b))
	wantCode(t, s.PutBlob(ctx, b), wallet.ECONFLICT)
	wantCode(t, s.PutBlob(ctx, wallet.Blob{Data: data}), wallet.EINVALID)
	got, err := s.Blob(ctx, "blob-1")
	must(t, err)
	if !bytes.Equal(got.Data, data) || got.ContentType != b.ContentType || got.SHA256 != "abc" || !got.CreatedAt.Equal(us(t0)) {
		t.Fatalf("blob read back: %+v", got)
	}
	big := bytes.Repeat([]byte{0xA5, 0x00, 0x5A}, 4<<20/3)
	must(t, s.PutBlob(ctx, wallet.Blob{ID: "blob-big", ContentType: "image/png", SHA256: "x", Data: big, CreatedAt: t0}))
	got, err = s.Blob(ctx, "blob-big")
	must(t, err)
	if !bytes.Equal(got.Data, big) {
		t.Fatalf("a %d-byte blob came back as %d bytes", len(big), len(got.Data))
	}
	must(t, s.DeleteBlob(ctx, "blob-1"))
	must(t, s.DeleteBlob(ctx, "blob-1"))
	_, err = s.Blob(ctx, "blob-1")
	wantCode(t, err, wallet.ENOTFOUND)
	if _, err := s.Blob(ctx, "blob-big"); err != nil {
		t.Fatalf("deleting one blob touched another: %v", err)
	}
}

func testDuplicates(t *testing.T, s *logged) {
	ctx := context.Background()
	first := duplicate("dup-1", alice, "psc-1", t0)
	second := duplicate("dup-2", alice, "psc-2", t0.Add(time.Minute))
	bobs := duplicate("dup-3", bob, "psc-1", t0.Add(2*time.Minute))
	for _, d := range []wallet.Duplicate{first, second, bobs} {
		ev := event("ev-"+d.ID, wallet.EventDuplicateRequested, d.OwnerIIN, d.CreatedAt)
		ev.ActorKind, ev.ActorID = wallet.ActorStaff, d.OperatorID
		if _, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateDuplicate{Duplicate: d}}, Events: []wallet.Event{ev}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateDuplicate{Duplicate: first}},
		Events: []wallet.Event{event("ev-again", wallet.EventDuplicateRequested, alice, t0)}})
	wantCode(t, err, wallet.ECONFLICT)

	got, err := s.Duplicate(ctx, "dup-1")
	must(t, err)
	equal(t, "duplicate", got, storedDuplicate(first))
	list, err := s.DuplicatesOfOwner(ctx, alice)
	must(t, err)
	equal(t, "owner's", list, []wallet.Duplicate{storedDuplicate(second), storedDuplicate(first)})
	list, err = s.DuplicatesOfCentre(ctx, "psc-1", "")
	must(t, err)
	equal(t, "centre's", list, []wallet.Duplicate{storedDuplicate(bobs), storedDuplicate(first)})
	list, err = s.DuplicatesOfCentre(ctx, "psc-1", bob)
	must(t, err)
	equal(t, "centre's of bob", list, []wallet.Duplicate{storedDuplicate(bobs)})

	at, until := t0.Add(3*time.Minute), t0.AddDate(3, 0, 0)
	ev := event("ev-cert", wallet.EventDuplicateCertified, alice, at)
	ev.ActorKind, ev.ActorID = wallet.ActorStaff, "stf_op"
	if _, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CertifyDuplicate{ID: "dup-1", At: at, RetainUntil: until, JWS: "a.b.c"}},
		Events: []wallet.Event{ev}}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Duplicate(ctx, "dup-1")
	must(t, err)
	want := first
	want.Status, want.CertifiedAt, want.RetainUntil, want.JWS = wallet.DuplicateCertified, &at, &until, "a.b.c"
	equal(t, "certified", got, storedDuplicate(want))
	evs, err := s.Events(ctx, alice)
	must(t, err)
	if len(evs) != 3 || evs[0].Kind != wallet.EventDuplicateCertified || evs[0].ActorKind != wallet.ActorStaff || evs[0].LogIndex < 0 {
		t.Fatalf("events: %+v", evs)
	}
}

func testCertifyDuplicateRefusals(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.do(wallet.CreateDuplicate{Duplicate: duplicate("dup-1", alice, "psc-1", t0)}))
	certify := func(id string) error {
		return s.do(wallet.CertifyDuplicate{ID: id, At: t0.Add(time.Minute), RetainUntil: t0.AddDate(3, 0, 0), JWS: "x.y.z"})
	}
	wantCode(t, certify("dup-none"), wallet.ENOTFOUND)
	must(t, certify("dup-1"))
	wantCode(t, certify("dup-1"), wallet.ECONFLICT)
	got, err := s.Duplicate(ctx, "dup-1")
	must(t, err)
	if got.JWS != "x.y.z" || !got.CertifiedAt.Equal(us(t0.Add(time.Minute))) {
		t.Fatalf("a refused certification changed the duplicate: %+v", got)
	}
}

func testPurgeDuplicate(t *testing.T, s *logged) {
	ctx := context.Background()
	certifiedAt, until := t0.Add(time.Minute), t0.Add(time.Hour)
	for _, id := range []string{"dup-1", "dup-2", "dup-3"} {
		must(t, s.do(wallet.CreateDuplicate{Duplicate: duplicate(id, alice, "psc-1", t0)}))
	}
	must(t, s.do(wallet.CertifyDuplicate{ID: "dup-1", At: certifiedAt, RetainUntil: until, JWS: "j1"}))
	must(t, s.do(wallet.CertifyDuplicate{ID: "dup-2", At: certifiedAt, RetainUntil: until.Add(time.Hour), JWS: "j2"}))

	due, err := s.DuplicatesDue(ctx, until.Add(-time.Second), 10)
	must(t, err)
	equal(t, "due before", len(due), 0)
	due, err = s.DuplicatesDue(ctx, until, 10)
	must(t, err)
	if len(due) != 1 || due[0].ID != "dup-1" {
		t.Fatalf("due: %+v", due)
	}
	purge := func(id string, at time.Time) error {
		ev := event("ev-purge-"+id, wallet.EventDuplicatePurged, alice, at)
		ev.ActorKind, ev.ActorID = "system", ""
		_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.PurgeDuplicate{ID: id, At: at}}, Events: []wallet.Event{ev}})
		return err
	}
	wantCode(t, purge("dup-2", until), wallet.ECONFLICT) // not due yet
	wantCode(t, purge("dup-3", until), wallet.ECONFLICT) // never certified
	wantCode(t, purge("dup-none", until), wallet.ENOTFOUND)
	must(t, purge("dup-1", until))
	wantCode(t, purge("dup-1", until.Add(time.Minute)), wallet.ECONFLICT)
	got, err := s.Duplicate(ctx, "dup-1")
	must(t, err)
	if got.Status != wallet.DuplicatePurged || !got.PurgedAt.Equal(us(until)) || got.SHA256 == "" || got.Type == "" {
		t.Fatalf("tombstone: %+v", got)
	}
	due, err = s.DuplicatesDue(ctx, until.Add(24*time.Hour), 10)
	must(t, err)
	if len(due) != 1 || due[0].ID != "dup-2" {
		t.Fatalf("due after the purge: %+v", due)
	}
}
