// Package wallettest holds the conformance suite that every wallet.Store
// must pass, and helpers for tests that need a real PostgreSQL.
//
// An adapter wires the suite in a few lines:
//
//	func TestStore(t *testing.T) {
//		wallettest.RunStoreTests(t, func(t *testing.T) wallet.Store { ... a fresh, migrated store ... })
//	}
package wallettest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// RunStoreTests runs the conformance suite. newStore must return a fresh,
// empty, migrated store, and close it when the test ends (t.Cleanup). The
// subtests run in parallel, each on its own store.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) wallet.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s wallet.Store)
	}{
		{"Ping", testPing},
		{"Getters_ReturnNotFound", testNotFound},
		{"AppendVersion_CreatesDocumentAndReadsBack", testAppendFirstVersion},
		{"AppendVersion_NextVersionBecomesLatest", testAppendNextVersion},
		{"AppendVersion_WrongVersionConflicts", testAppendWrongVersion},
		{"AppendVersion_ConcurrentAppendsOneWins", testAppendConcurrent},
		{"Documents_OrderedByTypeThenID", testDocumentsOrder},
		{"MarkFetched_TouchesSubjectAndSourceOnly", testMarkFetched},
		{"RefreshToken_CreateAndReadByHash", testRefreshCreate},
		{"RotateRefreshToken_CompareAndSwap", testRefreshRotate},
		{"RotateRefreshToken_FailedInsertRotatesNothing", testRefreshRotateRollback},
		{"RotateRefreshToken_ConcurrentRotationsOneWins", testRefreshRotateConcurrent},
		{"RevokeRefreshFamily_RevokesFamilyOnly", testRefreshRevokeFamily},
		{"Share_CreateAndRead", testShareCreate},
		{"Shares_ByOwnerOrCreatorNewestFirst", testSharesList},
		{"RevokeShare_SetsOnce", testShareRevoke},
		{"RedeemShare_CountsAndStoresView", testRedeem},
		{"RedeemShare_SingleUseUnderConcurrency", func(t *testing.T, s wallet.Store) { testRedeemConcurrent(t, s, 1) }},
		{"RedeemShare_MaxViewsUnderConcurrency", func(t *testing.T, s wallet.Store) { testRedeemConcurrent(t, s, 3) }},
		{"RedeemShare_RevokedReleasesNothing", testRedeemRevoked},
		{"RedeemShare_ExpiredReleasesNothing", testRedeemExpired},
		{"RedeemShare_FailedInsertCountsNothing", testRedeemRollback},
		{"RedeemShare_ViewOfAnotherDocumentIsRejected", testRedeemMismatch},
		{"Views_OfOwnerAndByViewerNewestFirst", testViews},
		{"ViewLogIndexRoundTrips", testViewLogIndex},
		{"Client_CreateReadListDisable", testClients},
		{"ZeroTimes_RoundTrip", testZeroTimes},
		{"Consent_CreateAndRead", testConsentCreate},
		{"Consents_OfSubjectAndOfClientNewestFirst", testConsentsList},
		{"PendingConsentsByPhone", testPendingByPhone},
		{"CountConsentsSince", testCountConsents},
		{"UpdateConsent_BumpsRevision", testUpdateConsent},
		{"UpdateConsent_ErrorFromUpdateReturnedAsIs", testUpdateConsentError},
		{"UpdateConsent_LosesToInterleavedUpdate", testUpdateConsentInterleaved},
		{"UpdateConsent_ConcurrentUpdatersOneWinsPerRevision", testUpdateConsentConcurrent},
		{"Events_AppendAndListNewestFirst", testEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// t0 has nanoseconds and a zone other than UTC, so that the suite checks the
// stores truncate to microseconds and answer in UTC.
var t0 = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.FixedZone("ALMT", 5*60*60))

// us is t as a store gives it back.
func us(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func usp(t time.Time) *time.Time { u := us(t); return &u }

func ptr(t time.Time) *time.Time { return &t }

const (
	alice = wallet.IIN("900101300015")
	bob   = wallet.IIN("850202400026")
	carol = wallet.IIN("120303500037")
)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := wallet.ErrorCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
	if code != "" && wallet.AsError(err) == nil {
		t.Fatalf("error %v is not a *wallet.Error", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// race runs n copies of fn at once and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts errors by code ("" for success).
func tally(errs []error) map[string]int {
	m := map[string]int{}
	for _, err := range errs {
		m[wallet.ErrorCode(err)]++
	}
	return m
}

func testPing(t *testing.T, s wallet.Store) {
	must(t, s.Ping(context.Background()))
}

func testNotFound(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	const id = "missing"
	checks := map[string]func() error{
		"Document":           func() error { _, err := s.Document(ctx, id); return err },
		"Versions":           func() error { _, err := s.Versions(ctx, id); return err },
		"RefreshTokenByHash": func() error { _, err := s.RefreshTokenByHash(ctx, id); return err },
		"RotateRefreshToken": func() error {
			return s.RotateRefreshToken(ctx, id, refreshToken("next", "fam", "h-next"), t0)
		},
		"Share":       func() error { _, err := s.Share(ctx, id); return err },
		"RevokeShare": func() error { _, err := s.RevokeShare(ctx, id, t0); return err },
		"RedeemShare": func() error {
			_, err := s.RedeemShare(ctx, id, shareView("v1", "", t0))
			return err
		},
		"Client":        func() error { _, err := s.Client(ctx, id); return err },
		"DisableClient": func() error { return s.DisableClient(ctx, id, t0) },
		"Consent":       func() error { _, err := s.Consent(ctx, id); return err },
		"UpdateConsent": func() error {
			_, err := s.UpdateConsent(ctx, id, func(c wallet.Consent) (wallet.Consent, error) { return c, nil })
			return err
		},
	}
	for name, check := range checks {
		if got := wallet.ErrorCode(check()); got != wallet.ENOTFOUND {
			t.Errorf("%s: code %q, want %q", name, got, wallet.ENOTFOUND)
		}
	}
	// Lists of nothing are empty, not errors.
	docs, err := s.Documents(ctx, alice)
	must(t, err)
	shares, err := s.Shares(ctx, alice)
	must(t, err)
	views, err := s.ViewsOfOwner(ctx, alice)
	must(t, err)
	events, err := s.Events(ctx, alice)
	must(t, err)
	if len(docs)+len(shares)+len(views)+len(events) != 0 {
		t.Fatal("an empty store lists something")
	}
}

// Documents.

func document(id string, subject wallet.IIN, typ wallet.DocumentType, source string) wallet.StoredDocument {
	return wallet.StoredDocument{ID: id, SubjectIIN: subject, Type: typ, Source: source, FetchedAt: t0}
}

func version(id string, n int, at time.Time) wallet.Version {
	prev := ""
	if n > 1 {
		prev = fmt.Sprintf("hash-%s-%d", id, n-1)
	}
	return wallet.Version{
		DocumentID: id,
		Version:    n,
		Content:    []byte(fmt.Sprintf(`{"id":%q,"n":%d}`, id, n)),
		JWS:        fmt.Sprintf("header.payload-%s-%d.signature", id, n),
		PrevHash:   prev,
		Hash:       fmt.Sprintf("hash-%s-%d", id, n),
		CreatedAt:  at,
	}
}

// stored is v as a store gives it back.
func stored(v wallet.Version) wallet.Version {
	v.CreatedAt = us(v.CreatedAt)
	return v
}

func testAppendFirstVersion(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	d := document("doc-1", alice, wallet.IDCard, "population")
	v := version("doc-1", 1, t0)
	must(t, s.AppendVersion(ctx, d, v))

	got, err := s.Document(ctx, "doc-1")
	must(t, err)
	want := d
	want.FetchedAt = us(d.FetchedAt)
	want.Latest = stored(v)
	equal(t, "document", got, want)
	if got.FetchedAt.Location() != time.UTC || got.Latest.CreatedAt.Location() != time.UTC {
		t.Fatal("times are not in UTC")
	}

	vs, err := s.Versions(ctx, "doc-1")
	must(t, err)
	equal(t, "versions", vs, []wallet.Version{stored(v)})
}

func testAppendNextVersion(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	d := document("doc-1", alice, wallet.Passport, "population")
	v1, v2, v3 := version("doc-1", 1, t0), version("doc-1", 2, t0.Add(time.Hour)), version("doc-1", 3, t0.Add(2*time.Hour))
	must(t, s.AppendVersion(ctx, d, v1))
	d.FetchedAt = t0.Add(time.Hour)
	must(t, s.AppendVersion(ctx, d, v2))
	// A version without DocumentID is the document's.
	v3.DocumentID = ""
	d.FetchedAt = t0.Add(2 * time.Hour)
	must(t, s.AppendVersion(ctx, d, v3))
	v3.DocumentID = "doc-1"

	got, err := s.Document(ctx, "doc-1")
	must(t, err)
	equal(t, "latest", got.Latest, stored(v3))
	equal(t, "fetched at", got.FetchedAt, us(t0.Add(2*time.Hour)))

	vs, err := s.Versions(ctx, "doc-1")
	must(t, err)
	equal(t, "versions", vs, []wallet.Version{stored(v1), stored(v2), stored(v3)})
}

func testAppendWrongVersion(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	d := document("doc-1", alice, wallet.IDCard, "population")
	must(t, s.AppendVersion(ctx, d, version("doc-1", 1, t0)))

	wantCode(t, s.AppendVersion(ctx, d, version("doc-1", 1, t0)), wallet.ECONFLICT)
	wantCode(t, s.AppendVersion(ctx, d, version("doc-1", 3, t0)), wallet.ECONFLICT)
	other := d
	other.SubjectIIN = bob
	wantCode(t, s.AppendVersion(ctx, other, version("doc-1", 1, t0)), wallet.ECONFLICT)
	wantCode(t, s.AppendVersion(ctx, other, version("doc-1", 2, t0)), wallet.ECONFLICT)
	// No version 1, so version 2 is not next.
	wantCode(t, s.AppendVersion(ctx, document("doc-2", alice, wallet.IDCard, "population"), version("doc-2", 2, t0)), wallet.ECONFLICT)
	wantCode(t, s.AppendVersion(ctx, d, version("doc-1", 0, t0)), wallet.EINVALID)

	vs, err := s.Versions(ctx, "doc-1")
	must(t, err)
	if len(vs) != 1 {
		t.Fatalf("%d versions after rejected appends, want 1", len(vs))
	}
	_, err = s.Document(ctx, "doc-2")
	wantCode(t, err, wallet.ENOTFOUND)
	got, err := s.Document(ctx, "doc-1")
	must(t, err)
	equal(t, "subject", got.SubjectIIN, alice)
}

func testAppendConcurrent(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	d := document("doc-1", alice, wallet.IDCard, "population")
	must(t, s.AppendVersion(ctx, d, version("doc-1", 1, t0)))

	const n = 16
	errs := race(n, func(i int) error {
		v := version("doc-1", 2, t0.Add(time.Duration(i)*time.Second))
		v.Hash = fmt.Sprintf("contender-%d", i)
		return s.AppendVersion(ctx, d, v)
	})
	counts := tally(errs)
	if counts[""] != 1 || counts[wallet.ECONFLICT] != n-1 {
		t.Fatalf("outcomes %v, want exactly one success and %d conflicts", counts, n-1)
	}
	vs, err := s.Versions(ctx, "doc-1")
	must(t, err)
	if len(vs) != 2 {
		t.Fatalf("%d versions, want 2", len(vs))
	}
	got, err := s.Document(ctx, "doc-1")
	must(t, err)
	equal(t, "latest", got.Latest, vs[1])

	// The race also holds for the first version.
	errs = race(n, func(i int) error {
		return s.AppendVersion(ctx, document("doc-2", alice, wallet.Passport, "population"), version("doc-2", 1, t0))
	})
	counts = tally(errs)
	if counts[""] != 1 || counts[wallet.ECONFLICT] != n-1 {
		t.Fatalf("first version: outcomes %v, want exactly one success and %d conflicts", counts, n-1)
	}
}

func testDocumentsOrder(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	for _, d := range []wallet.StoredDocument{
		document("p-1", alice, wallet.Passport, "population"),
		document("id-b", alice, wallet.IDCard, "population"),
		document("dl-1", alice, wallet.DrivingLicence, "transport"),
		document("id-a", alice, wallet.IDCard, "population"),
		document("bob-1", bob, wallet.IDCard, "population"),
	} {
		must(t, s.AppendVersion(ctx, d, version(d.ID, 1, t0)))
	}
	must(t, s.AppendVersion(ctx, document("p-1", alice, wallet.Passport, "population"), version("p-1", 2, t0)))

	docs, err := s.Documents(ctx, alice)
	must(t, err)
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	equal(t, "ids", ids, []string{"dl-1", "id-a", "id-b", "p-1"})
	equal(t, "latest of p-1", docs[3].Latest.Version, 2)
}

func testMarkFetched(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	docs := []wallet.StoredDocument{
		document("a-pop", alice, wallet.IDCard, "population"),
		document("a-tr", alice, wallet.DrivingLicence, "transport"),
		document("b-pop", bob, wallet.IDCard, "population"),
	}
	for _, d := range docs {
		must(t, s.AppendVersion(ctx, d, version(d.ID, 1, t0)))
	}
	later := t0.Add(36 * time.Hour)
	must(t, s.MarkFetched(ctx, alice, "population", later))
	for id, want := range map[string]time.Time{"a-pop": us(later), "a-tr": us(t0), "b-pop": us(t0)} {
		d, err := s.Document(ctx, id)
		must(t, err)
		equal(t, id+" fetched at", d.FetchedAt, want)
	}
}

// Sessions.

func refreshToken(id, family, hash string) wallet.RefreshToken {
	return wallet.RefreshToken{
		ID: id, FamilyID: family, Subject: alice, Hash: hash,
		CreatedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour),
	}
}

func storedToken(rt wallet.RefreshToken) wallet.RefreshToken {
	rt.CreatedAt, rt.ExpiresAt = us(rt.CreatedAt), us(rt.ExpiresAt)
	if rt.RotatedAt != nil {
		rt.RotatedAt = usp(*rt.RotatedAt)
	}
	if rt.RevokedAt != nil {
		rt.RevokedAt = usp(*rt.RevokedAt)
	}
	return rt
}

func testRefreshCreate(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	rt := refreshToken("rt-1", "fam-1", "hash-1")
	must(t, s.CreateRefreshToken(ctx, rt))
	got, err := s.RefreshTokenByHash(ctx, "hash-1")
	must(t, err)
	equal(t, "token", got, storedToken(rt))

	wantCode(t, s.CreateRefreshToken(ctx, refreshToken("rt-1", "fam-1", "hash-2")), wallet.ECONFLICT)
	wantCode(t, s.CreateRefreshToken(ctx, refreshToken("rt-2", "fam-1", "hash-1")), wallet.ECONFLICT)
	_, err = s.RefreshTokenByHash(ctx, "hash-2")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testRefreshRotate(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateRefreshToken(ctx, refreshToken("rt-1", "fam-1", "hash-1")))
	at := t0.Add(time.Minute)
	next := refreshToken("rt-2", "fam-1", "hash-2")
	next.CreatedAt = at
	must(t, s.RotateRefreshToken(ctx, "rt-1", next, at))

	old, err := s.RefreshTokenByHash(ctx, "hash-1")
	must(t, err)
	equal(t, "rotated at", old.RotatedAt, usp(at))
	got, err := s.RefreshTokenByHash(ctx, "hash-2")
	must(t, err)
	equal(t, "next", got, storedToken(next))

	// The old token cannot be rotated again.
	wantCode(t, s.RotateRefreshToken(ctx, "rt-1", refreshToken("rt-3", "fam-1", "hash-3"), at), wallet.ECONFLICT)
	_, err = s.RefreshTokenByHash(ctx, "hash-3")
	wantCode(t, err, wallet.ENOTFOUND)

	// Nor can a revoked one.
	must(t, s.RevokeRefreshFamily(ctx, "fam-1", at))
	wantCode(t, s.RotateRefreshToken(ctx, "rt-2", refreshToken("rt-3", "fam-1", "hash-3"), at), wallet.ECONFLICT)
	_, err = s.RefreshTokenByHash(ctx, "hash-3")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testRefreshRotateRollback(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateRefreshToken(ctx, refreshToken("rt-1", "fam-1", "hash-1")))
	must(t, s.CreateRefreshToken(ctx, refreshToken("rt-x", "fam-x", "hash-x")))
	// The next token's hash is taken: the rotation fails as a whole.
	wantCode(t, s.RotateRefreshToken(ctx, "rt-1", refreshToken("rt-2", "fam-1", "hash-x"), t0), wallet.ECONFLICT)
	old, err := s.RefreshTokenByHash(ctx, "hash-1")
	must(t, err)
	if old.RotatedAt != nil {
		t.Fatal("a failed rotation marked the old token rotated")
	}
	must(t, s.RotateRefreshToken(ctx, "rt-1", refreshToken("rt-2", "fam-1", "hash-2"), t0))
}

func testRefreshRotateConcurrent(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateRefreshToken(ctx, refreshToken("rt-1", "fam-1", "hash-1")))
	const n = 16
	errs := race(n, func(i int) error {
		return s.RotateRefreshToken(ctx, "rt-1", refreshToken(fmt.Sprintf("next-%d", i), "fam-1", fmt.Sprintf("next-hash-%d", i)), t0)
	})
	counts := tally(errs)
	if counts[""] != 1 || counts[wallet.ECONFLICT] != n-1 {
		t.Fatalf("outcomes %v, want exactly one success and %d conflicts", counts, n-1)
	}
	stored := 0
	for i := range n {
		_, err := s.RefreshTokenByHash(ctx, fmt.Sprintf("next-hash-%d", i))
		if err == nil {
			stored++
			if errs[i] != nil {
				t.Errorf("rotation %d failed but its token was stored", i)
			}
		} else {
			wantCode(t, err, wallet.ENOTFOUND)
		}
	}
	if stored != 1 {
		t.Fatalf("%d next tokens stored, want 1", stored)
	}
}

func testRefreshRevokeFamily(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateRefreshToken(ctx, refreshToken("rt-1", "fam-1", "hash-1")))
	must(t, s.RotateRefreshToken(ctx, "rt-1", refreshToken("rt-2", "fam-1", "hash-2"), t0))
	must(t, s.CreateRefreshToken(ctx, refreshToken("rt-9", "fam-9", "hash-9")))

	at := t0.Add(time.Hour)
	must(t, s.RevokeRefreshFamily(ctx, "fam-1", at))
	// Idempotent: a second revocation keeps the first time.
	must(t, s.RevokeRefreshFamily(ctx, "fam-1", at.Add(time.Hour)))
	must(t, s.RevokeRefreshFamily(ctx, "no-such-family", at))

	for _, h := range []string{"hash-1", "hash-2"} {
		rt, err := s.RefreshTokenByHash(ctx, h)
		must(t, err)
		equal(t, h+" revoked at", rt.RevokedAt, usp(at))
	}
	other, err := s.RefreshTokenByHash(ctx, "hash-9")
	must(t, err)
	if other.RevokedAt != nil {
		t.Fatal("another family was revoked")
	}
}

// Shares and views.

func share(id string, maxViews int) wallet.Share {
	return wallet.Share{
		ID: id, DocumentID: "doc-1", OwnerIIN: alice, CreatedBy: alice,
		MaxViews: maxViews, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
	}
}

func storedShare(sh wallet.Share) wallet.Share {
	sh.CreatedAt, sh.ExpiresAt = us(sh.CreatedAt), us(sh.ExpiresAt)
	if sh.RevokedAt != nil {
		sh.RevokedAt = usp(*sh.RevokedAt)
	}
	return sh
}

func shareView(id, viewer string, at time.Time) wallet.View {
	return wallet.View{
		ID: id, DocumentID: "doc-1", DocumentType: wallet.IDCard, OwnerIIN: alice,
		ViewerKind: wallet.ViewerCitizen, ViewerID: viewer, Channel: wallet.ChannelQR,
		At: at, LogIndex: -1,
	}
}

func storedView(v wallet.View) wallet.View {
	v.At = us(v.At)
	return v
}

func testShareCreate(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	sh := share("sh-1", 1)
	sh.CreatedBy = bob // a guardian
	must(t, s.CreateShare(ctx, sh))
	got, err := s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "share", got, storedShare(sh))
	wantCode(t, s.CreateShare(ctx, sh), wallet.ECONFLICT)
}

func testSharesList(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	byAlice := share("sh-1", 1)
	forAliceByBob := share("sh-2", 1)
	forAliceByBob.CreatedBy, forAliceByBob.CreatedAt = bob, t0.Add(time.Minute)
	byBobForCarol := share("sh-3", 1)
	byBobForCarol.OwnerIIN, byBobForCarol.CreatedBy, byBobForCarol.CreatedAt = carol, bob, t0.Add(2*time.Minute)
	unrelated := share("sh-4", 1)
	unrelated.OwnerIIN, unrelated.CreatedBy = carol, carol
	for _, sh := range []wallet.Share{byAlice, forAliceByBob, byBobForCarol, unrelated} {
		must(t, s.CreateShare(ctx, sh))
	}
	got, err := s.Shares(ctx, alice)
	must(t, err)
	equal(t, "alice's shares", got, []wallet.Share{storedShare(forAliceByBob), storedShare(byAlice)})
	got, err = s.Shares(ctx, bob)
	must(t, err)
	equal(t, "bob's shares", got, []wallet.Share{storedShare(byBobForCarol), storedShare(forAliceByBob)})
}

func testShareRevoke(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateShare(ctx, share("sh-1", 1)))
	at := t0.Add(time.Minute)
	got, err := s.RevokeShare(ctx, "sh-1", at)
	must(t, err)
	equal(t, "revoked at", got.RevokedAt, usp(at))
	got, err = s.RevokeShare(ctx, "sh-1", at.Add(time.Minute))
	must(t, err)
	equal(t, "revoked at after a second revocation", got.RevokedAt, usp(at))
	read, err := s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "share", read, got)
	equal(t, "state", read.State(at), wallet.ShareRevoked)
}

func testRedeem(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateShare(ctx, share("sh-1", 2)))
	v := shareView("v-1", string(bob), t0.Add(time.Minute))
	got, err := s.RedeemShare(ctx, "sh-1", v)
	must(t, err)
	want := storedView(v)
	want.ShareID = "sh-1"
	equal(t, "returned view", got, want)

	sh, err := s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "views", sh.Views, 1)
	views, err := s.ViewsOfOwner(ctx, alice)
	must(t, err)
	equal(t, "owner's views", views, []wallet.View{want})
	views, err = s.ViewsByViewer(ctx, wallet.ViewerCitizen, string(bob))
	must(t, err)
	equal(t, "viewer's views", views, []wallet.View{want})

	// The document and owner may be left to the share.
	v2 := shareView("v-2", string(carol), t0.Add(2*time.Minute))
	v2.DocumentID, v2.OwnerIIN = "", ""
	got, err = s.RedeemShare(ctx, "sh-1", v2)
	must(t, err)
	equal(t, "filled in", []string{got.DocumentID, string(got.OwnerIIN)}, []string{"doc-1", string(alice)})

	_, err = s.RedeemShare(ctx, "sh-1", shareView("v-3", string(carol), t0.Add(3*time.Minute)))
	wantCode(t, err, wallet.EEXPIRED)
	sh, err = s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "views when used up", sh.Views, 2)
	equal(t, "state", sh.State(t0.Add(3*time.Minute)), wallet.ShareUsed)
}

func testRedeemConcurrent(t *testing.T, s wallet.Store, maxViews int) {
	ctx := context.Background()
	must(t, s.CreateShare(ctx, share("sh-1", maxViews)))
	const n = 50
	errs := race(n, func(i int) error {
		_, err := s.RedeemShare(ctx, "sh-1", shareView(fmt.Sprintf("v-%d", i), fmt.Sprintf("viewer-%d", i), t0.Add(time.Second)))
		return err
	})
	counts := tally(errs)
	if counts[""] != maxViews || counts[wallet.EEXPIRED] != n-maxViews {
		t.Fatalf("outcomes %v, want %d successes and %d expired", counts, maxViews, n-maxViews)
	}
	views, err := s.ViewsOfOwner(ctx, alice)
	must(t, err)
	if len(views) != maxViews {
		t.Fatalf("%d views stored, want %d", len(views), maxViews)
	}
	for _, v := range views {
		var i int
		fmt.Sscanf(v.ID, "v-%d", &i)
		if errs[i] != nil || v.ShareID != "sh-1" {
			t.Fatalf("stored view %+v: redemption error %v", v, errs[i])
		}
	}
	sh, err := s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "views", sh.Views, maxViews)
}

func testRedeemRevoked(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateShare(ctx, share("sh-1", 5)))
	_, err := s.RevokeShare(ctx, "sh-1", t0)
	must(t, err)
	_, err = s.RedeemShare(ctx, "sh-1", shareView("v-1", string(bob), t0.Add(time.Second)))
	wantCode(t, err, wallet.EEXPIRED)
	assertNoViews(t, s, "sh-1")
}

func testRedeemExpired(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	sh := share("sh-1", 5)
	must(t, s.CreateShare(ctx, sh))
	// At the expiry instant the share is expired already.
	_, err := s.RedeemShare(ctx, "sh-1", shareView("v-1", string(bob), sh.ExpiresAt))
	wantCode(t, err, wallet.EEXPIRED)
	_, err = s.RedeemShare(ctx, "sh-1", shareView("v-2", string(bob), sh.ExpiresAt.Add(time.Hour)))
	wantCode(t, err, wallet.EEXPIRED)
	assertNoViews(t, s, "sh-1")
}

func testRedeemRollback(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateShare(ctx, share("sh-1", 5)))
	must(t, s.RecordView(ctx, shareView("v-taken", string(carol), t0)))
	// The view id is taken: the redemption fails and counts nothing.
	_, err := s.RedeemShare(ctx, "sh-1", shareView("v-taken", string(bob), t0.Add(time.Second)))
	wantCode(t, err, wallet.ECONFLICT)
	assertNoViews(t, s, "sh-1")
}

func testRedeemMismatch(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateShare(ctx, share("sh-1", 5)))
	v := shareView("v-1", string(bob), t0.Add(time.Second))
	v.DocumentID = "doc-2"
	_, err := s.RedeemShare(ctx, "sh-1", v)
	wantCode(t, err, wallet.EINVALID)
	assertNoViews(t, s, "sh-1")
}

// assertNoViews checks the share has counted and stored no view.
func assertNoViews(t *testing.T, s wallet.Store, shareID string) {
	t.Helper()
	ctx := context.Background()
	sh, err := s.Share(ctx, shareID)
	must(t, err)
	if sh.Views != 0 {
		t.Fatalf("share counts %d views, want 0", sh.Views)
	}
	views, err := s.ViewsOfOwner(ctx, sh.OwnerIIN)
	must(t, err)
	for _, v := range views {
		if v.ShareID == shareID {
			t.Fatalf("a view of the share was stored: %+v", v)
		}
	}
}

func testViews(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	consentView := wallet.View{
		ID: "v-1", DocumentID: "doc-1", DocumentType: wallet.IDCard, OwnerIIN: alice,
		ViewerKind: wallet.ViewerOrganisation, ViewerID: "bank-1", Channel: wallet.ChannelConsent,
		ConsentID: "c-1", At: t0, LogIndex: -1,
	}
	guardianView := wallet.View{
		ID: "v-2", DocumentID: "doc-9", DocumentType: wallet.BirthCertificate, OwnerIIN: carol,
		ViewerKind: wallet.ViewerGuardian, ViewerID: string(bob), Channel: wallet.ChannelGuardian,
		At: t0.Add(time.Minute), LogIndex: 0,
	}
	bankLater := consentView
	bankLater.ID, bankLater.At, bankLater.LogIndex = "v-3", t0.Add(2*time.Minute), 42
	bobOfAlice := consentView
	bobOfAlice.ID, bobOfAlice.ViewerKind, bobOfAlice.ViewerID, bobOfAlice.Channel = "v-4", wallet.ViewerCitizen, string(bob), wallet.ChannelShortCode
	bobOfAlice.ConsentID, bobOfAlice.SharedBy, bobOfAlice.At = "", carol, t0.Add(3*time.Minute)
	for _, v := range []wallet.View{consentView, guardianView, bankLater, bobOfAlice} {
		must(t, s.RecordView(ctx, v))
	}
	wantCode(t, s.RecordView(ctx, consentView), wallet.ECONFLICT)

	got, err := s.ViewsOfOwner(ctx, alice)
	must(t, err)
	equal(t, "alice's views", got, []wallet.View{storedView(bobOfAlice), storedView(bankLater), storedView(consentView)})
	got, err = s.ViewsByViewer(ctx, wallet.ViewerOrganisation, "bank-1")
	must(t, err)
	equal(t, "bank's views", got, []wallet.View{storedView(bankLater), storedView(consentView)})
	got, err = s.ViewsByViewer(ctx, wallet.ViewerGuardian, string(bob))
	must(t, err)
	equal(t, "bob's views as guardian", got, []wallet.View{storedView(guardianView)})
	got, err = s.ViewsByViewer(ctx, wallet.ViewerCitizen, string(bob))
	must(t, err)
	equal(t, "bob's views as citizen", got, []wallet.View{storedView(bobOfAlice)})
}

func testViewLogIndex(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	v := shareView("v-1", "bank-1", t0)
	v.Channel, v.ViewerKind = wallet.ChannelConsent, wallet.ViewerOrganisation
	v.LogIndex = 17
	must(t, s.RecordView(ctx, v))
	got, err := s.ViewsOfOwner(ctx, alice)
	must(t, err)
	equal(t, "log index", got[0].LogIndex, int64(17))
	zero := shareView("v-2", "bank-1", t0.Add(time.Minute))
	zero.Channel, zero.ViewerKind, zero.LogIndex = wallet.ChannelConsent, wallet.ViewerOrganisation, 0
	must(t, s.RecordView(ctx, zero))
	got, err = s.ViewsOfOwner(ctx, alice)
	must(t, err)
	equal(t, "log index", got[0].LogIndex, int64(0))
}

// Clients.

func testClients(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	bank := wallet.Client{
		ID: "bank-1", Name: "Bank", Kind: "bank",
		DocumentTypes: []wallet.DocumentType{wallet.IDCard, wallet.Passport},
		SecretHash:    "secret-hash", CreatedAt: t0.Add(time.Minute),
	}
	insurer := wallet.Client{ID: "ins-1", Name: "Insurer", Kind: "insurer", SecretHash: "h2", CreatedAt: t0}
	must(t, s.CreateClient(ctx, bank))
	must(t, s.CreateClient(ctx, insurer))
	wantCode(t, s.CreateClient(ctx, bank), wallet.ECONFLICT)

	storedClient := func(c wallet.Client) wallet.Client {
		c.CreatedAt = us(c.CreatedAt)
		if c.DisabledAt != nil {
			c.DisabledAt = usp(*c.DisabledAt)
		}
		return c
	}
	got, err := s.Client(ctx, "bank-1")
	must(t, err)
	equal(t, "client", got, storedClient(bank))
	if got.DocumentTypes == nil {
		t.Fatal("document types lost")
	}
	list, err := s.Clients(ctx)
	must(t, err)
	equal(t, "clients", list, []wallet.Client{storedClient(insurer), storedClient(bank)})

	at := t0.Add(time.Hour)
	must(t, s.DisableClient(ctx, "bank-1", at))
	must(t, s.DisableClient(ctx, "bank-1", at.Add(time.Hour)))
	got, err = s.Client(ctx, "bank-1")
	must(t, err)
	equal(t, "disabled at", got.DisabledAt, usp(at))
}

func testZeroTimes(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateClient(ctx, wallet.Client{ID: "bank-1", Name: "Bank", Kind: "bank"}))
	got, err := s.Client(ctx, "bank-1")
	must(t, err)
	if !got.CreatedAt.IsZero() || got.DisabledAt != nil {
		t.Fatalf("zero time came back as %v, %v", got.CreatedAt, got.DisabledAt)
	}
	c := consent("c-1", "bank-1", alice, t0)
	c.RequestExpiresAt = time.Time{}
	must(t, s.CreateConsent(ctx, c))
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	if !read.RequestExpiresAt.IsZero() {
		t.Fatalf("zero time came back as %v", read.RequestExpiresAt)
	}
}

// Consents.

func consent(id, client string, subject wallet.IIN, created time.Time) wallet.Consent {
	return wallet.Consent{
		ID: id, ClientID: client, SubjectIIN: subject, Phone: "+77010000001",
		DocumentTypes: []wallet.DocumentType{wallet.IDCard},
		Purpose:       "loan application", Method: wallet.ConsentOTP, Status: wallet.ConsentPending,
		ValidFor: 90 * 24 * time.Hour, CreatedAt: created, RequestExpiresAt: created.Add(10 * time.Minute),
		Revision: 1,
	}
}

func storedConsent(c wallet.Consent) wallet.Consent {
	c.CreatedAt, c.RequestExpiresAt = us(c.CreatedAt), us(c.RequestExpiresAt)
	for _, p := range []**time.Time{&c.DecidedAt, &c.GrantExpiresAt, &c.RevokedAt} {
		if *p != nil {
			*p = usp(**p)
		}
	}
	return c
}

func testConsentCreate(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	c := consent("c-1", "bank-1", alice, t0)
	c.DocumentTypes = []wallet.DocumentType{wallet.IDCard, wallet.DrivingLicence}
	c.Status, c.DecidedAt, c.GrantExpiresAt = wallet.ConsentGranted, ptr(t0.Add(time.Minute)), ptr(t0.Add(90*24*time.Hour))
	must(t, s.CreateConsent(ctx, c))
	got, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "consent", got, storedConsent(c))
	wantCode(t, s.CreateConsent(ctx, c), wallet.ECONFLICT)
}

func testConsentsList(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	c1 := consent("c-1", "bank-1", alice, t0)
	c2 := consent("c-2", "bank-2", alice, t0.Add(time.Minute))
	c3 := consent("c-3", "bank-1", bob, t0.Add(2*time.Minute))
	for _, c := range []wallet.Consent{c1, c2, c3} {
		must(t, s.CreateConsent(ctx, c))
	}
	got, err := s.ConsentsOfSubject(ctx, alice)
	must(t, err)
	equal(t, "alice's consents", got, []wallet.Consent{storedConsent(c2), storedConsent(c1)})
	got, err = s.ConsentsOfClient(ctx, "bank-1")
	must(t, err)
	equal(t, "bank-1's consents", got, []wallet.Consent{storedConsent(c3), storedConsent(c1)})
}

func testPendingByPhone(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	older := consent("c-1", "bank-1", alice, t0)
	older.Method = wallet.ConsentSMSReply
	newer := consent("c-2", "bank-2", alice, t0.Add(time.Minute))
	newer.Method = wallet.ConsentSMSReply
	otp := consent("c-3", "bank-1", alice, t0)
	granted := consent("c-4", "bank-1", alice, t0)
	granted.Method, granted.Status = wallet.ConsentSMSReply, wallet.ConsentGranted
	otherPhone := consent("c-5", "bank-1", bob, t0)
	otherPhone.Method, otherPhone.Phone = wallet.ConsentSMSReply, "+77010000002"
	for _, c := range []wallet.Consent{older, newer, otp, granted, otherPhone} {
		must(t, s.CreateConsent(ctx, c))
	}
	got, err := s.PendingConsentsByPhone(ctx, "+77010000001", wallet.ConsentSMSReply)
	must(t, err)
	equal(t, "pending sms consents", got, []wallet.Consent{storedConsent(newer), storedConsent(older)})
}

func testCountConsents(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	for _, c := range []wallet.Consent{
		consent("c-1", "bank-1", alice, t0),
		consent("c-2", "bank-1", alice, t0.Add(time.Minute)),
		consent("c-3", "bank-1", bob, t0.Add(2*time.Minute)),
		consent("c-4", "bank-2", alice, t0.Add(3*time.Minute)),
	} {
		must(t, s.CreateConsent(ctx, c))
	}
	for _, tc := range []struct {
		client string
		iin    wallet.IIN
		since  time.Time
		want   int
	}{
		{"", "", t0, 4},
		{"bank-1", "", t0, 3},
		{"", alice, t0, 3},
		{"bank-1", alice, t0, 2},
		{"bank-1", alice, t0.Add(time.Minute), 1}, // at `since` counts
		{"bank-1", alice, t0.Add(time.Minute + time.Microsecond), 0},
		{"bank-3", "", t0, 0},
	} {
		n, err := s.CountConsentsSince(ctx, tc.client, tc.iin, tc.since)
		must(t, err)
		if n != tc.want {
			t.Errorf("CountConsentsSince(%q, %q, %v) = %d, want %d", tc.client, tc.iin, tc.since, n, tc.want)
		}
	}
}

func testUpdateConsent(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	c := consent("c-1", "bank-1", alice, t0)
	must(t, s.CreateConsent(ctx, c))
	decided := t0.Add(time.Minute)
	got, err := s.UpdateConsent(ctx, "c-1", func(old wallet.Consent) (wallet.Consent, error) {
		equal(t, "consent given to update", old, storedConsent(c))
		old.Status, old.DecidedAt, old.GrantExpiresAt = wallet.ConsentGranted, &decided, ptr(decided.Add(old.ValidFor))
		return old, nil
	})
	must(t, err)
	want := c
	want.Status, want.DecidedAt, want.GrantExpiresAt, want.Revision = wallet.ConsentGranted, &decided, ptr(decided.Add(c.ValidFor)), 2
	want = storedConsent(want)
	equal(t, "returned consent", got, want)
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "stored consent", read, want)
}

func testUpdateConsentError(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateConsent(ctx, consent("c-1", "bank-1", alice, t0)))
	refusal := errors.New("not pending")
	_, err := s.UpdateConsent(ctx, "c-1", func(c wallet.Consent) (wallet.Consent, error) {
		c.Status = wallet.ConsentGranted
		return c, refusal
	})
	if err != refusal {
		t.Fatalf("error %v, want the update's own error", err)
	}
	domain := wallet.Errorf(wallet.EEXPIRED, "request expired")
	_, err = s.UpdateConsent(ctx, "c-1", func(c wallet.Consent) (wallet.Consent, error) { return c, domain })
	wantCode(t, err, wallet.EEXPIRED)
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "status", read.Status, wallet.ConsentPending)
	equal(t, "revision", read.Revision, 1)
}

func testUpdateConsentInterleaved(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateConsent(ctx, consent("c-1", "bank-1", alice, t0)))
	_, err := s.UpdateConsent(ctx, "c-1", func(c wallet.Consent) (wallet.Consent, error) {
		// Someone else decides while this update is computed.
		_, err := s.UpdateConsent(ctx, "c-1", func(c wallet.Consent) (wallet.Consent, error) {
			c.Status = wallet.ConsentDenied
			return c, nil
		})
		must(t, err)
		c.Status = wallet.ConsentGranted
		return c, nil
	})
	wantCode(t, err, wallet.ECONFLICT)
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "status", read.Status, wallet.ConsentDenied)
	equal(t, "revision", read.Revision, 2)
}

func testUpdateConsentConcurrent(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	must(t, s.CreateConsent(ctx, consent("c-1", "bank-1", alice, t0)))
	const n = 16
	revisions := make([]int, n)
	errs := race(n, func(i int) error {
		c, err := s.UpdateConsent(ctx, "c-1", func(c wallet.Consent) (wallet.Consent, error) {
			c.Purpose = fmt.Sprintf("purpose %d", i)
			return c, nil
		})
		revisions[i] = c.Revision
		return err
	})
	counts := tally(errs)
	if counts[""] < 1 || counts[""]+counts[wallet.ECONFLICT] != n {
		t.Fatalf("outcomes %v, want successes and conflicts only", counts)
	}
	// Each revision was won by exactly one updater.
	won := map[int]int{}
	last := -1
	for i, err := range errs {
		if err == nil {
			if won[revisions[i]]++; won[revisions[i]] > 1 {
				t.Fatalf("revision %d won twice", revisions[i])
			}
			if last < 0 || revisions[i] > revisions[last] {
				last = i
			}
		}
	}
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "revision", read.Revision, 1+counts[""])
	equal(t, "purpose", read.Purpose, fmt.Sprintf("purpose %d", last))
}

// Events.

func testEvents(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	opened := wallet.Event{
		ID: "e-1", Kind: wallet.EventShareOpened, SubjectIIN: alice, ActorKind: "citizen", ActorID: string(alice),
		ObjectID: "sh-1", Details: map[string]string{"document_id": "doc-1", "max_views": "1"}, At: t0, LogIndex: -1,
	}
	granted := wallet.Event{
		ID: "e-2", Kind: wallet.EventConsentGranted, SubjectIIN: alice, ActorKind: "citizen", ActorID: string(alice),
		ObjectID: "c-1", At: t0.Add(time.Minute), LogIndex: 3,
	}
	other := wallet.Event{ID: "e-3", Kind: wallet.EventCodesVoided, SubjectIIN: bob, ActorKind: "system", At: t0, LogIndex: -1}
	for _, e := range []wallet.Event{opened, granted, other} {
		must(t, s.AppendEvent(ctx, e))
	}
	wantCode(t, s.AppendEvent(ctx, opened), wallet.ECONFLICT)
	got, err := s.Events(ctx, alice)
	must(t, err)
	opened.At, granted.At = us(opened.At), us(granted.At)
	equal(t, "alice's events", got, []wallet.Event{granted, opened})
}
