// Package wallettest holds the conformance suite that every wallet store
// must pass, and helpers for tests that need a real PostgreSQL.
//
// The stores write shares, consents, views, events and document versions
// only through the history log, in the same transaction as the leaves; the
// suite therefore runs a historylog.Log on each store under test and
// commits wallet.Change values through history.Recorder, as the service
// does. An adapter wires the suite in a few lines:
//
//	func TestStore(t *testing.T) {
//		wallettest.RunStoreTests(t, func(t *testing.T) wallettest.Store { ... a fresh, migrated store ... })
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
// subtests run in parallel, each on its own store with its own history
// log, which must pass historylog.Audit when the subtest ends.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *logged)
	}{
		{"Ping", testPing},
		{"Getters_ReturnNotFound", testNotFound},
		{"Change_EmptyOrMalformedIsInvalidAndRunsNothing", testChangeInvalid},
		{"Change_IndexesInCommitterOrderWithTheirLeaves", testChangeIndexes},
		{"Change_AnOpRefusingStoresNothingOfTheChange", testChangeAtomic},
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
		{"RedeemShare_CountsAndStoresViewWithItsLeaf", testRedeem},
		{"RedeemShare_SingleUseUnderConcurrency", func(t *testing.T, s *logged) { testRedeemConcurrent(t, s, 1) }},
		{"RedeemShare_MaxViewsUnderConcurrency", func(t *testing.T, s *logged) { testRedeemConcurrent(t, s, 3) }},
		{"RedeemShare_RevokedReleasesNothing", testRedeemRevoked},
		{"RedeemShare_ExpiredReleasesNothing", testRedeemExpired},
		{"RedeemShare_FailedInsertCountsNothing", testRedeemRollback},
		{"RedeemShare_ViewOfAnotherDocumentIsRejected", testRedeemMismatch},
		{"RedeemShare_InvalidViewRunsNothing", testRedeemInvalid},
		{"RedeemShare_MixedBatchOnlySuccessesGetLeaves", testRedeemMixedBatch},
		{"RedeemShare_SpoiledBatchStoresNothingNextBatchSameIndex", testRedeemSpoiledBatch},
		{"Views_OfOwnerAndByViewerNewestFirstWithLogIndexes", testViews},
		{"Client_CreateReadListDisable", testClients},
		{"ZeroTimes_RoundTrip", testZeroTimes},
		{"Consent_CreateAndRead", testConsentCreate},
		{"Consents_OfSubjectAndOfClientNewestFirst", testConsentsList},
		{"PendingConsentsByPhone", testPendingByPhone},
		{"CountConsentsSince", testCountConsents},
		{"UpdateConsent_BumpsRevision", testUpdateConsent},
		{"UpdateConsent_ErrorFromUpdateRefusesTheChange", testUpdateConsentError},
		{"UpdateConsent_InOneBatchEachSeesTheOneBefore", testUpdateConsentSameBatch},
		{"UpdateConsent_ConcurrentDecisionsOneWins", testUpdateConsentDecisions},
		{"UpdateConsent_ConcurrentUpdatersOneWinsPerRevision", testUpdateConsentConcurrent},
		{"Events_AppendAndListNewestFirstWithLogIndexes", testEvents},
	}
	for _, f := range leafWriteFailures {
		tests = append(tests, struct {
			name string
			fn   func(t *testing.T, s *logged)
		}{"LeafWriteFails_" + f.name, f.run})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, withLog(t, newStore(t)))
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

func testPing(t *testing.T, s *logged) {
	must(t, s.Ping(context.Background()))
}

func testNotFound(t *testing.T, s *logged) {
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
		"RevokeShare": func() error { return s.revokeShare(id, t0) },
		"RedeemShare": func() error {
			_, err := s.redeem(id, shareView("v1", string(bob), t0))
			return err
		},
		"Client":        func() error { _, err := s.Client(ctx, id); return err },
		"DisableClient": func() error { return s.DisableClient(ctx, id, t0) },
		"Consent":       func() error { _, err := s.Consent(ctx, id); return err },
		"UpdateConsent": func() error {
			_, err := s.updateConsent(id, func(c wallet.Consent) (wallet.Consent, error) { return c, nil })
			return err
		},
	}
	for name, check := range checks {
		err := check()
		if got := wallet.ErrorCode(err); got != wallet.ENOTFOUND || wallet.AsError(err) == nil {
			t.Errorf("%s: code %q (%v), want %q", name, got, err, wallet.ENOTFOUND)
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
	equal(t, "log size after refused changes", s.logSize(t), int64(0))
}

func testChangeInvalid(t *testing.T, s *logged) {
	ctx := context.Background()
	create := wallet.CreateShare{Share: share("sh-1", 1)}
	noOwner := shareView("v-1", string(bob), t0)
	noOwner.OwnerIIN = ""
	badVersion := version("doc-1", 1, t0)
	badVersion.Hash = ""
	for name, c := range map[string]wallet.Change{
		"empty":                {},
		"an event without kind": {Ops: []wallet.Op{create}, Events: []wallet.Event{{ID: "e-1", SubjectIIN: alice, At: t0}}},
		"an event without time": {Ops: []wallet.Op{create}, Events: []wallet.Event{{ID: "e-1", Kind: wallet.EventShareOpened, SubjectIIN: alice}}},
		"a view without owner":  {Ops: []wallet.Op{create}, Views: []wallet.View{noOwner}},
		"a redemption without view id": {Ops: []wallet.Op{create, wallet.RedeemShare{ShareID: "sh-1", View: shareView("", string(bob), t0)}}},
		"a version without hash": {Ops: []wallet.Op{create, wallet.AppendVersion{Document: document("doc-1", alice, wallet.IDCard, "population"), Version: badVersion}}},
	} {
		_, err := s.commit(ctx, c)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want %s", name, err, wallet.EINVALID)
		}
	}
	// Nothing ran: no batch, no share, no leaf.
	if seen := s.hooks.seen(); len(seen) != 0 {
		t.Fatalf("batches ran for invalid changes: %+v", seen)
	}
	_, err := s.Share(ctx, "sh-1")
	wantCode(t, err, wallet.ENOTFOUND)
	equal(t, "log size", s.logSize(t), int64(0))
}

// testChangeIndexes: Commit returns one index per redemption or version
// op, in op order, then the events', then the views'; each row is stored
// with its leaf's index, and each leaf logs its row.
func testChangeIndexes(t *testing.T, s *logged) {
	ctx := context.Background()
	d := document("doc-1", alice, wallet.IDCard, "population")
	v1 := version("doc-1", 1, t0)
	redeemed := shareView("v-r", string(bob), t0.Add(time.Second))
	opened := event("e-1", wallet.EventShareOpened, alice, t0)
	released := consentView("v-c", "bank-1", t0.Add(2*time.Second))
	idx, err := s.commit(ctx, wallet.Change{
		Ops: []wallet.Op{
			wallet.CreateShare{Share: share("sh-1", 1)},
			wallet.AppendVersion{Document: d, Version: v1},
			wallet.RedeemShare{ShareID: "sh-1", View: redeemed},
		},
		Events: []wallet.Event{opened},
		Views:  []wallet.View{released},
	})
	must(t, err)
	equal(t, "indexes", idx, []int64{0, 1, 2, 3})

	ve, err := history.VersionEntry(alice, v1)
	must(t, err)
	ve.At = us(ve.At)
	s.checkLeaf(t, 0, ve)
	redeemed.ShareID, redeemed.LogIndex = "sh-1", 1
	s.checkViewLeaf(t, 1, redeemed)
	s.checkEventLeaf(t, 2, opened)
	s.checkViewLeaf(t, 3, released)

	views, err := s.ViewsOfOwner(ctx, alice)
	must(t, err)
	released.LogIndex = 3
	equal(t, "views", views, []wallet.View{storedView(released), storedView(redeemed)})
	events, err := s.Events(ctx, alice)
	must(t, err)
	opened.LogIndex = 2
	equal(t, "events", events, []wallet.Event{storedEvent(opened)})
	vs, err := s.Versions(ctx, "doc-1")
	must(t, err)
	equal(t, "versions", vs, []wallet.Version{stored(v1)})
}

// testChangeAtomic: the ops of a change and its history are stored
// together or not at all, whether an op refuses or a history row cannot
// be written with its leaf.
func testChangeAtomic(t *testing.T, s *logged) {
	ctx := context.Background()
	// The second op refuses: the first one is undone.
	_, err := s.commit(ctx, wallet.Change{
		Ops:    []wallet.Op{wallet.CreateShare{Share: share("sh-1", 1)}, wallet.RedeemShare{ShareID: "sh-missing", View: shareView("v-1", string(bob), t0)}},
		Events: []wallet.Event{event("e-1", wallet.EventShareOpened, alice, t0)},
	})
	wantCode(t, err, wallet.ENOTFOUND)
	_, err = s.Share(ctx, "sh-1")
	wantCode(t, err, wallet.ENOTFOUND)
	refused := wallet.Errorf(wallet.EEXPIRED, "request expired")
	_, err = s.commit(ctx, wallet.Change{
		Ops: []wallet.Op{
			wallet.CreateConsent{Consent: consent("c-1", "bank-1", alice, t0)},
			wallet.UpdateConsent{ID: "c-1", Update: func(c wallet.Consent) (wallet.Consent, error) { return c, refused }},
		},
		Events: []wallet.Event{event("e-2", wallet.EventConsentRequested, alice, t0)},
	})
	wantCode(t, err, wallet.EEXPIRED)
	_, err = s.Consent(ctx, "c-1")
	wantCode(t, err, wallet.ENOTFOUND)
	assertNoEvents(t, s, alice)
	equal(t, "log size after refused changes", s.logSize(t), int64(0))

	// The ops apply, but an event's row cannot be written with its leaf
	// (its id is taken): the store's own Commit fails, and the share is
	// not stored either.
	_, err = s.appendEvent(event("e-taken", wallet.EventCodesVoided, alice, t0))
	must(t, err)
	_, err = s.commit(ctx, wallet.Change{
		Ops:    []wallet.Op{wallet.CreateShare{Share: share("sh-2", 1)}},
		Events: []wallet.Event{event("e-taken", wallet.EventShareOpened, alice, t0)},
	})
	wantCode(t, err, wallet.ECONFLICT)
	_, err = s.Share(ctx, "sh-2")
	wantCode(t, err, wallet.ENOTFOUND)
	events, err := s.Events(ctx, alice)
	must(t, err)
	if len(events) != 1 || events[0].Kind != wallet.EventCodesVoided {
		t.Fatalf("events %+v, want the first e-taken only", events)
	}
	equal(t, "log size", s.logSize(t), int64(1))
	// The log goes on at the next index.
	idx, err := s.commit(ctx, wallet.Change{
		Ops:    []wallet.Op{wallet.CreateShare{Share: share("sh-2", 1)}},
		Events: []wallet.Event{event("e-3", wallet.EventShareOpened, alice, t0)},
	})
	must(t, err)
	equal(t, "indexes", idx, []int64{1})
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

func testAppendFirstVersion(t *testing.T, s *logged) {
	ctx := context.Background()
	d := document("doc-1", alice, wallet.IDCard, "population")
	v := version("doc-1", 1, t0)
	idx, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.AppendVersion{Document: d, Version: v}}})
	must(t, err)
	equal(t, "indexes", idx, []int64{0})

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
	// The leaf anchors the version: its subject, number and hashes.
	e, err := history.VersionEntry(alice, v)
	must(t, err)
	e.At = us(e.At)
	s.checkLeaf(t, 0, e)
}

func testAppendNextVersion(t *testing.T, s *logged) {
	ctx := context.Background()
	d := document("doc-1", alice, wallet.Passport, "population")
	v1, v2, v3 := version("doc-1", 1, t0), version("doc-1", 2, t0.Add(time.Hour)), version("doc-1", 3, t0.Add(2*time.Hour))
	must(t, s.appendVersion(d, v1))
	d.FetchedAt = t0.Add(time.Hour)
	must(t, s.appendVersion(d, v2))
	d.FetchedAt = t0.Add(2 * time.Hour)
	must(t, s.appendVersion(d, v3))

	got, err := s.Document(ctx, "doc-1")
	must(t, err)
	equal(t, "latest", got.Latest, stored(v3))
	equal(t, "fetched at", got.FetchedAt, us(t0.Add(2*time.Hour)))

	vs, err := s.Versions(ctx, "doc-1")
	must(t, err)
	equal(t, "versions", vs, []wallet.Version{stored(v1), stored(v2), stored(v3)})
	equal(t, "log size", s.logSize(t), int64(3))
}

func testAppendWrongVersion(t *testing.T, s *logged) {
	ctx := context.Background()
	d := document("doc-1", alice, wallet.IDCard, "population")
	must(t, s.appendVersion(d, version("doc-1", 1, t0)))

	wantCode(t, s.appendVersion(d, version("doc-1", 1, t0)), wallet.ECONFLICT)
	wantCode(t, s.appendVersion(d, version("doc-1", 3, t0)), wallet.ECONFLICT)
	other := d
	other.SubjectIIN = bob
	wantCode(t, s.appendVersion(other, version("doc-1", 1, t0)), wallet.ECONFLICT)
	wantCode(t, s.appendVersion(other, version("doc-1", 2, t0)), wallet.ECONFLICT)
	// No version 1, so version 2 is not next.
	wantCode(t, s.appendVersion(document("doc-2", alice, wallet.IDCard, "population"), version("doc-2", 2, t0)), wallet.ECONFLICT)
	wantCode(t, s.appendVersion(d, version("doc-1", 0, t0)), wallet.EINVALID)

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
	equal(t, "log size: rejected versions have no leaf", s.logSize(t), int64(1))
}

func testAppendConcurrent(t *testing.T, s *logged) {
	ctx := context.Background()
	d := document("doc-1", alice, wallet.IDCard, "population")
	must(t, s.appendVersion(d, version("doc-1", 1, t0)))

	const n = 16
	errs := race(n, func(i int) error {
		v := version("doc-1", 2, t0.Add(time.Duration(i)*time.Second))
		v.Hash = fmt.Sprintf("contender-%d", i)
		return s.appendVersion(d, v)
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
		return s.appendVersion(document("doc-2", alice, wallet.Passport, "population"), version("doc-2", 1, t0))
	})
	counts = tally(errs)
	if counts[""] != 1 || counts[wallet.ECONFLICT] != n-1 {
		t.Fatalf("first version: outcomes %v, want exactly one success and %d conflicts", counts, n-1)
	}
	equal(t, "log size: one leaf per stored version", s.logSize(t), int64(3))
}

func testDocumentsOrder(t *testing.T, s *logged) {
	ctx := context.Background()
	for _, d := range []wallet.StoredDocument{
		document("p-1", alice, wallet.Passport, "population"),
		document("id-b", alice, wallet.IDCard, "population"),
		document("dl-1", alice, wallet.DrivingLicence, "transport"),
		document("id-a", alice, wallet.IDCard, "population"),
		document("bob-1", bob, wallet.IDCard, "population"),
	} {
		must(t, s.appendVersion(d, version(d.ID, 1, t0)))
	}
	must(t, s.appendVersion(document("p-1", alice, wallet.Passport, "population"), version("p-1", 2, t0)))

	docs, err := s.Documents(ctx, alice)
	must(t, err)
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	equal(t, "ids", ids, []string{"dl-1", "id-a", "id-b", "p-1"})
	equal(t, "latest of p-1", docs[3].Latest.Version, 2)
}

func testMarkFetched(t *testing.T, s *logged) {
	ctx := context.Background()
	docs := []wallet.StoredDocument{
		document("a-pop", alice, wallet.IDCard, "population"),
		document("a-tr", alice, wallet.DrivingLicence, "transport"),
		document("b-pop", bob, wallet.IDCard, "population"),
	}
	for _, d := range docs {
		must(t, s.appendVersion(d, version(d.ID, 1, t0)))
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

func testRefreshCreate(t *testing.T, s *logged) {
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

func testRefreshRotate(t *testing.T, s *logged) {
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

func testRefreshRotateRollback(t *testing.T, s *logged) {
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

func testRefreshRotateConcurrent(t *testing.T, s *logged) {
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

func testRefreshRevokeFamily(t *testing.T, s *logged) {
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
