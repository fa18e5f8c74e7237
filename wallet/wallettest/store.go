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
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog/historylogtest"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
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
		{"RedeemShare_ViewIDTwiceInOneBatch", testRedeemViewIDTwiceInOneBatch},
		{"RedeemShare_SpoiledBatchStoresNothingNextBatchSameIndex", testRedeemSpoiledBatch},
		{"Views_OfOwnerAndByViewerNewestFirstWithLogIndexes", testViews},
		{"Client_CreateReadListDisable", testClients},
		{"Preferences_SaveReplacesAndReadsBack", testPreferences},
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
	tests = append(tests, outboxTests...)
	tests = append(tests, notifyTests...)
	tests = append(tests, staffTests...)
	tests = append(tests, agencyTests...)
	tests = append(tests, caseTests...)
	tests = append(tests, duplicateTests...)
	tests = append(tests, registryTests...)
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
		"empty":                        {},
		"an event without kind":        {Ops: []wallet.Op{create}, Events: []wallet.Event{{ID: "e-1", SubjectIIN: alice, At: t0}}},
		"an event without time":        {Ops: []wallet.Op{create}, Events: []wallet.Event{{ID: "e-1", Kind: wallet.EventShareOpened, SubjectIIN: alice}}},
		"a view without owner":         {Ops: []wallet.Op{create}, Views: []wallet.View{noOwner}},
		"a redemption without view id": {Ops: []wallet.Op{create, wallet.RedeemShare{ShareID: "sh-1", View: shareView("", string(bob), t0)}}},
		"a version without hash":       {Ops: []wallet.Op{create, wallet.AppendVersion{Document: document("doc-1", alice, wallet.IDCard, "population"), Version: badVersion}}},
	} {
		_, err := s.commit(ctx, c)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want %s", name, err, wallet.EINVALID)
		}
	}
	// Nothing ran: no batch, no share, no leaf.
	if seen := s.faults.Batches(); len(seen) != 0 {
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
	equal(t, "versions", vs, []wallet.Version{stored(v1, 0)})
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

// version returns version n of document id, chained to version n-1 as
// the DocumentService chains them (wallet.VersionHash), not yet logged.
func version(id string, n int, at time.Time) wallet.Version {
	prev := ""
	if n > 1 {
		prev = version(id, n-1, at).Hash
	}
	v := wallet.Version{
		DocumentID: id,
		Version:    n,
		Content:    []byte(fmt.Sprintf(`{"id":%q,"n":%d}`, id, n)),
		JWS:        fmt.Sprintf("header.payload-%s-%d.signature", id, n),
		PrevHash:   prev,
		CreatedAt:  at,
		LogIndex:   -1,
	}
	v.Hash = wallet.VersionHash(v.PrevHash, v.Content, v.JWS)
	return v
}

// stored is v as a store gives it back, logged at index.
func stored(v wallet.Version, index int64) wallet.Version {
	v.CreatedAt, v.LogIndex = us(v.CreatedAt), index
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
	want.Latest = stored(v, 0)
	equal(t, "document", got, want)
	if got.FetchedAt.Location() != time.UTC || got.Latest.CreatedAt.Location() != time.UTC {
		t.Fatal("times are not in UTC")
	}

	vs, err := s.Versions(ctx, "doc-1")
	must(t, err)
	equal(t, "versions", vs, []wallet.Version{stored(v, 0)})
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
	equal(t, "latest", got.Latest, stored(v3, 2))
	equal(t, "fetched at", got.FetchedAt, us(t0.Add(2*time.Hour)))

	vs, err := s.Versions(ctx, "doc-1")
	must(t, err)
	equal(t, "versions", vs, []wallet.Version{stored(v1, 0), stored(v2, 1), stored(v3, 2)})
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
		v.Content = []byte(fmt.Sprintf(`{"contender":%d}`, i))
		v.Hash = wallet.VersionHash(v.PrevHash, v.Content, v.JWS)
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

// shareView is a view of alice's doc-1 by a citizen, as sharing builds it.
func shareView(id, viewer string, at time.Time) wallet.View {
	return wallet.View{
		ID: id, DocumentID: "doc-1", DocumentType: wallet.IDCard, OwnerIIN: alice,
		ViewerKind: wallet.ViewerCitizen, ViewerID: viewer, Channel: wallet.ChannelQR,
		At: at, LogIndex: -1,
	}
}

// consentView is a release of alice's doc-1 to an organisation under c-1.
func consentView(id, client string, at time.Time) wallet.View {
	return wallet.View{
		ID: id, DocumentID: "doc-1", DocumentType: wallet.IDCard, OwnerIIN: alice,
		ViewerKind: wallet.ViewerOrganisation, ViewerID: client, Channel: wallet.ChannelConsent,
		ConsentID: "c-1", At: at, LogIndex: -1,
	}
}

func storedView(v wallet.View) wallet.View {
	v.At = us(v.At)
	return v
}

func testShareCreate(t *testing.T, s *logged) {
	ctx := context.Background()
	sh := share("sh-1", 1)
	sh.CreatedBy = bob // a guardian
	must(t, s.createShare(sh))
	got, err := s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "share", got, storedShare(sh))
	wantCode(t, s.createShare(sh), wallet.ECONFLICT)
}

func testSharesList(t *testing.T, s *logged) {
	ctx := context.Background()
	byAlice := share("sh-1", 1)
	forAliceByBob := share("sh-2", 1)
	forAliceByBob.CreatedBy, forAliceByBob.CreatedAt = bob, t0.Add(time.Minute)
	byBobForCarol := share("sh-3", 1)
	byBobForCarol.OwnerIIN, byBobForCarol.CreatedBy, byBobForCarol.CreatedAt = carol, bob, t0.Add(2*time.Minute)
	unrelated := share("sh-4", 1)
	unrelated.OwnerIIN, unrelated.CreatedBy = carol, carol
	for _, sh := range []wallet.Share{byAlice, forAliceByBob, byBobForCarol, unrelated} {
		must(t, s.createShare(sh))
	}
	got, err := s.Shares(ctx, alice)
	must(t, err)
	equal(t, "alice's shares", got, []wallet.Share{storedShare(forAliceByBob), storedShare(byAlice)})
	got, err = s.Shares(ctx, bob)
	must(t, err)
	equal(t, "bob's shares", got, []wallet.Share{storedShare(byBobForCarol), storedShare(forAliceByBob)})
}

func testShareRevoke(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.createShare(share("sh-1", 1)))
	at := t0.Add(time.Minute)
	must(t, s.revokeShare("sh-1", at))
	got, err := s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "revoked at", got.RevokedAt, usp(at))
	equal(t, "state", got.State(at), wallet.ShareRevoked)
	// A second revocation is refused and changes nothing.
	wantCode(t, s.revokeShare("sh-1", at.Add(time.Minute)), wallet.ECONFLICT)
	read, err := s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "share after a second revocation", read, got)
}

func testRedeem(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.createShare(share("sh-1", 2)))
	v := shareView("v-1", string(bob), t0.Add(time.Minute))
	idx, err := s.redeem("sh-1", v)
	must(t, err)
	equal(t, "log index", idx, int64(0))
	want := storedView(v)
	want.ShareID, want.LogIndex = "sh-1", idx

	sh, err := s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "views", sh.Views, 1)
	views, err := s.ViewsOfOwner(ctx, alice)
	must(t, err)
	equal(t, "owner's views", views, []wallet.View{want})
	views, err = s.ViewsByViewer(ctx, wallet.ViewerCitizen, string(bob))
	must(t, err)
	equal(t, "viewer's views", views, []wallet.View{want})
	// The leaf logs the view as stored: owner and viewer, and the share.
	s.checkViewLeaf(t, idx, want)

	idx, err = s.redeem("sh-1", shareView("v-2", string(carol), t0.Add(2*time.Minute)))
	must(t, err)
	equal(t, "second log index", idx, int64(1))

	_, err = s.redeem("sh-1", shareView("v-3", string(carol), t0.Add(3*time.Minute)))
	wantCode(t, err, wallet.EEXPIRED)
	sh, err = s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "views when used up", sh.Views, 2)
	equal(t, "state", sh.State(t0.Add(3*time.Minute)), wallet.ShareUsed)
	equal(t, "log size", s.logSize(t), int64(2))
}

func testRedeemConcurrent(t *testing.T, s *logged, maxViews int) {
	ctx := context.Background()
	must(t, s.createShare(share("sh-1", maxViews)))
	const n = 50
	indexes := make([]int64, n)
	errs := race(n, func(i int) error {
		var err error
		indexes[i], err = s.redeem("sh-1", shareView(fmt.Sprintf("v-%d", i), fmt.Sprintf("viewer-%d", i), t0.Add(time.Second)))
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
		if errs[i] != nil || v.ShareID != "sh-1" || v.LogIndex != indexes[i] {
			t.Fatalf("stored view %+v: redemption error %v, log index %d", v, errs[i], indexes[i])
		}
		s.checkViewLeaf(t, v.LogIndex, v)
	}
	sh, err := s.Share(ctx, "sh-1")
	must(t, err)
	equal(t, "views", sh.Views, maxViews)
	equal(t, "log size: a leaf per success only", s.logSize(t), int64(maxViews))
}

func testRedeemRevoked(t *testing.T, s *logged) {
	must(t, s.createShare(share("sh-1", 5)))
	must(t, s.revokeShare("sh-1", t0))
	_, err := s.redeem("sh-1", shareView("v-1", string(bob), t0.Add(time.Second)))
	wantCode(t, err, wallet.EEXPIRED)
	assertNoViews(t, s, "sh-1")
}

func testRedeemExpired(t *testing.T, s *logged) {
	sh := share("sh-1", 5)
	must(t, s.createShare(sh))
	// At the expiry instant the share is expired already.
	_, err := s.redeem("sh-1", shareView("v-1", string(bob), sh.ExpiresAt))
	wantCode(t, err, wallet.EEXPIRED)
	_, err = s.redeem("sh-1", shareView("v-2", string(bob), sh.ExpiresAt.Add(time.Hour)))
	wantCode(t, err, wallet.EEXPIRED)
	assertNoViews(t, s, "sh-1")
}

func testRedeemRollback(t *testing.T, s *logged) {
	must(t, s.createShare(share("sh-1", 5)))
	_, err := s.recordView(consentView("v-taken", "bank-1", t0))
	must(t, err)
	// The view id is taken: the redemption fails and counts nothing.
	_, err = s.redeem("sh-1", shareView("v-taken", string(bob), t0.Add(time.Second)))
	wantCode(t, err, wallet.ECONFLICT)
	assertNoViews(t, s, "sh-1")
}

func testRedeemMismatch(t *testing.T, s *logged) {
	must(t, s.createShare(share("sh-1", 5)))
	v := shareView("v-1", string(bob), t0.Add(time.Second))
	v.DocumentID = "doc-2"
	_, err := s.redeem("sh-1", v)
	wantCode(t, err, wallet.EINVALID)
	v = shareView("v-1", string(bob), t0.Add(time.Second))
	v.OwnerIIN = carol
	_, err = s.redeem("sh-1", v)
	wantCode(t, err, wallet.EINVALID)
	assertNoViews(t, s, "sh-1")
}

func testRedeemInvalid(t *testing.T, s *logged) {
	must(t, s.createShare(share("sh-1", 1)))
	before := len(s.faults.Batches())
	for name, v := range map[string]wallet.View{
		"no id":     shareView("", string(bob), t0),
		"no owner":  func() wallet.View { v := shareView("v-1", string(bob), t0); v.OwnerIIN = ""; return v }(),
		"no viewer": shareView("v-1", "", t0),
	} {
		_, err := s.redeem("sh-1", v)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want %s", name, err, wallet.EINVALID)
		}
	}
	if after := len(s.faults.Batches()); after != before {
		t.Fatalf("%d batches ran for invalid redemptions", after-before)
	}
	assertNoViews(t, s, "sh-1")
}

// assertNoViews checks the share has counted and stored no view, and the
// log has no leaf of one.
func assertNoViews(t *testing.T, s *logged, shareID string) {
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
	leaves, err := s.Leaves(ctx, 0, 1000)
	must(t, err)
	for _, l := range leaves {
		var p struct {
			ShareID string `json:"share_id"`
		}
		if json.Unmarshal(l.Payload, &p) == nil && p.ShareID == shareID {
			t.Fatalf("leaf %d logs a view of the share: %s", l.Index, l.Payload)
		}
	}
}

// testRedeemMixedBatch: in one batch, a refused redemption gets its error
// and no leaf while a good one and a plain event beside it are stored with
// theirs.
func testRedeemMixedBatch(t *testing.T, s *logged) {
	must(t, s.createShare(share("sh-used", 1)))
	must(t, s.createShare(share("sh-good", 1)))
	_, err := s.redeem("sh-used", shareView("v-0", "850505400011", t0.Add(time.Second)))
	must(t, err)

	// A first event holds the sequencer while the mixed batch queues.
	holding := s.faults.Gate()
	first := make(chan error, 1)
	go func() { _, err := s.appendEvent(event("e-first", wallet.EventCodesVoided, carol, t0)); first <- err }()
	<-holding
	type outcome struct {
		index int64
		err   error
	}
	run := func(f func() (int64, error)) chan outcome {
		c := make(chan outcome, 1)
		go func() { i, err := f(); c <- outcome{i, err} }()
		return c
	}
	used := run(func() (int64, error) {
		return s.redeem("sh-used", shareView("v-used", string(bob), t0.Add(time.Second)))
	})
	historylogtest.WaitQueued(t, s.log, 1)
	good := run(func() (int64, error) {
		return s.redeem("sh-good", shareView("v-good", string(bob), t0.Add(time.Second)))
	})
	historylogtest.WaitQueued(t, s.log, 2)
	plainEvent := event("e-plain", wallet.EventShareOpened, alice, t0)
	plain := run(func() (int64, error) { return s.appendEvent(plainEvent) })
	historylogtest.WaitQueued(t, s.log, 3)
	s.faults.Release()
	must(t, <-first)
	u, g, p := <-used, <-good, <-plain
	wantCode(t, u.err, wallet.EEXPIRED)
	must(t, g.err)
	must(t, p.err)
	if g.index != 2 || p.index != 3 {
		t.Fatalf("indexes of the good redemption and the plain event %d and %d, want 2 and 3", g.index, p.index)
	}
	seen := s.faults.Batches()
	if last := seen[len(seen)-1]; last != (historylogtest.BatchSeen{States: 3, Leaves: 2}) {
		t.Fatalf("the mixed batch applied %d states and stored %d leaves, want 3 and 2", last.States, last.Leaves)
	}
	checkViews(t, s, "sh-used", 1)
	checkViews(t, s, "sh-good", 1)
	views := viewsByID(t, s, alice)
	if _, ok := views["v-used"]; ok {
		t.Fatal("the refused redemption stored a view")
	}
	if views["v-good"].LogIndex != g.index {
		t.Fatalf("stored view %+v, want log index %d", views["v-good"], g.index)
	}
	s.checkViewLeaf(t, g.index, views["v-good"])
	plainEvent.LogIndex = p.index
	s.checkEventLeaf(t, p.index, plainEvent)
	equal(t, "log size", s.logSize(t), int64(4))
}

// testRedeemViewIDTwiceInOneBatch: two redemptions of one batch that give
// their views the same id: the first is stored with its leaf, the second is
// refused with ECONFLICT and takes nothing from its share.
func testRedeemViewIDTwiceInOneBatch(t *testing.T, s *logged) {
	must(t, s.createShare(share("sh-a", 1)))
	must(t, s.createShare(share("sh-b", 1)))
	holding := s.faults.Gate()
	first := make(chan error, 1)
	go func() { _, err := s.appendEvent(event("e-first", wallet.EventCodesVoided, carol, t0)); first <- err }()
	<-holding
	errs := make(chan error, 2)
	go func() { _, err := s.redeem("sh-a", shareView("v-same", string(bob), t0.Add(time.Second))); errs <- err }()
	historylogtest.WaitQueued(t, s.log, 1)
	go func() { _, err := s.redeem("sh-b", shareView("v-same", string(bob), t0.Add(time.Second))); errs <- err }()
	historylogtest.WaitQueued(t, s.log, 2)
	s.faults.Release()
	must(t, <-first)
	a, b := <-errs, <-errs
	if a != nil {
		a, b = b, a
	}
	must(t, a)
	wantCode(t, b, wallet.ECONFLICT)
	seen := s.faults.Batches()
	if last := seen[len(seen)-1]; last != (historylogtest.BatchSeen{States: 2, Leaves: 1}) {
		t.Fatalf("the batch applied %d states and stored %d leaves, want 2 and 1", last.States, last.Leaves)
	}
	views := viewsByID(t, s, alice)
	v, ok := views["v-same"]
	if !ok || len(views) != 1 {
		t.Fatalf("views %+v, want v-same only", views)
	}
	s.checkViewLeaf(t, v.LogIndex, v)
	// The first in the batch's order took its share; the other share is
	// untouched and still redeemable.
	taken, free := "sh-a", "sh-b"
	if v.ShareID == "sh-b" {
		taken, free = free, taken
	}
	checkViews(t, s, taken, 1)
	checkViews(t, s, free, 0)
	_, err := s.redeem(free, shareView("v-other", string(bob), t0.Add(2*time.Second)))
	must(t, err)
}

// testRedeemSpoiledBatch: a batch that fails in the store's Commit, after
// its redemptions ran, stores none of them, nor their leaves, nor the
// event beside them; the next batch takes the index the failed one would
// have used.
func testRedeemSpoiledBatch(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.createShare(share("sh-1", 1)))
	must(t, s.createShare(share("sh-2", 1)))

	holding := s.faults.Gate()
	held := make(chan error, 1)
	go func() { _, err := s.appendEvent(event("e-held", wallet.EventCodesVoided, carol, t0)); held <- err }()
	<-holding
	// The held batch is the next to reach Commit; the one after it is spoiled.
	s.faults.SpoilBatch(s.faults.Commits() + 2)
	errs := make(chan error, 3)
	go func() { _, err := s.redeem("sh-1", shareView("v-1", string(bob), t0.Add(time.Second))); errs <- err }()
	go func() { _, err := s.redeem("sh-2", shareView("v-2", string(bob), t0.Add(time.Second))); errs <- err }()
	go func() { _, err := s.appendEvent(event("e-1", wallet.EventShareOpened, alice, t0)); errs <- err }()
	historylogtest.WaitQueued(t, s.log, 3)
	s.faults.Release()
	must(t, <-held)
	for range 3 {
		if err := <-errs; wallet.ErrorCode(err) == "" || wallet.AsError(err) == nil {
			t.Fatalf("a caller of the failed batch got %v, want a *wallet.Error", err)
		}
	}
	seen := s.faults.Batches()
	if last := seen[len(seen)-1]; last != (historylogtest.BatchSeen{States: 3, Leaves: 3}) {
		t.Fatalf("the spoiled batch applied %d states and built %d leaves, want 3 and 3", last.States, last.Leaves)
	}
	size := s.logSize(t)
	equal(t, "log size after the failed batch", size, int64(1))
	checkViews(t, s, "sh-1", 0)
	checkViews(t, s, "sh-2", 0)
	if views := viewsByID(t, s, alice); len(views) != 0 {
		t.Fatalf("the failed batch stored views %v", views)
	}
	assertNoEvents(t, s, alice)

	idx, err := s.redeem("sh-1", shareView("v-1b", string(bob), t0.Add(time.Second)))
	must(t, err)
	equal(t, "log index after the failed batch", idx, size)
	checkViews(t, s, "sh-1", 1)
	s.checkViewLeaf(t, idx, viewsByID(t, s, alice)["v-1b"])
	_, err = s.Share(ctx, "sh-2")
	must(t, err)
}

// checkViews fails the test unless the share counts views views.
func checkViews(t *testing.T, s *logged, id string, views int) {
	t.Helper()
	sh, err := s.Share(context.Background(), id)
	must(t, err)
	if sh.Views != views {
		t.Fatalf("share %s counts %d views, want %d", id, sh.Views, views)
	}
}

// viewsByID returns the views of the owner's documents by id.
func viewsByID(t *testing.T, s *logged, owner wallet.IIN) map[string]wallet.View {
	t.Helper()
	vs, err := s.ViewsOfOwner(context.Background(), owner)
	must(t, err)
	out := make(map[string]wallet.View, len(vs))
	for _, v := range vs {
		out[v.ID] = v
	}
	return out
}

func testViews(t *testing.T, s *logged) {
	ctx := context.Background()
	release := consentView("v-1", "bank-1", t0)
	guardianView := wallet.View{
		ID: "v-2", DocumentID: "doc-9", DocumentType: wallet.BirthCertificate, OwnerIIN: carol,
		ViewerKind: wallet.ViewerGuardian, ViewerID: string(bob), Channel: wallet.ChannelGuardian,
		At: t0.Add(time.Minute), LogIndex: -1,
	}
	bankLater := release
	bankLater.ID, bankLater.At = "v-3", t0.Add(2*time.Minute)
	bobOfAlice := release
	bobOfAlice.ID, bobOfAlice.ViewerKind, bobOfAlice.ViewerID, bobOfAlice.Channel = "v-4", wallet.ViewerCitizen, string(bob), wallet.ChannelShortCode
	bobOfAlice.ConsentID, bobOfAlice.SharedBy, bobOfAlice.At = "", carol, t0.Add(3*time.Minute)
	views := []*wallet.View{&release, &guardianView, &bankLater, &bobOfAlice}
	for i, v := range views {
		idx, err := s.recordView(*v)
		must(t, err)
		// The first leaf is at index 0: a stored 0 is not "not logged".
		equal(t, v.ID+" log index", idx, int64(i))
		v.LogIndex = idx
	}
	_, err := s.recordView(release)
	wantCode(t, err, wallet.ECONFLICT)
	equal(t, "log size after a duplicate", s.logSize(t), int64(len(views)))

	got, err := s.ViewsOfOwner(ctx, alice)
	must(t, err)
	equal(t, "alice's views", got, []wallet.View{storedView(bobOfAlice), storedView(bankLater), storedView(release)})
	got, err = s.ViewsByViewer(ctx, wallet.ViewerOrganisation, "bank-1")
	must(t, err)
	equal(t, "bank's views", got, []wallet.View{storedView(bankLater), storedView(release)})
	got, err = s.ViewsByViewer(ctx, wallet.ViewerGuardian, string(bob))
	must(t, err)
	equal(t, "bob's views as guardian", got, []wallet.View{storedView(guardianView)})
	got, err = s.ViewsByViewer(ctx, wallet.ViewerCitizen, string(bob))
	must(t, err)
	equal(t, "bob's views as citizen", got, []wallet.View{storedView(bobOfAlice)})
	for _, v := range views {
		s.checkViewLeaf(t, v.LogIndex, *v)
	}
	// The guardian who opened the share is a party of the view's leaf.
	leaf, _, err := s.log.Leaf(ctx, bobOfAlice.LogIndex)
	must(t, err)
	if !leaf.HasParty(s.log.Pseudonym(history.CitizenSubject(carol))) {
		t.Fatal("the guardian who shared is not a party of the view's leaf")
	}
}

// Clients.

func testClients(t *testing.T, s *logged) {
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

func testPreferences(t *testing.T, s *logged) {
	ctx := context.Background()
	_, err := s.Preferences(ctx, alice)
	wantCode(t, err, wallet.ENOTFOUND)
	wantCode(t, s.SavePreferences(ctx, wallet.Preferences{Language: "ru", UpdatedAt: t0}), wallet.EINVALID)
	wantCode(t, s.SavePreferences(ctx, wallet.Preferences{IIN: alice, UpdatedAt: t0}), wallet.EINVALID)

	must(t, s.SavePreferences(ctx, wallet.Preferences{IIN: alice, Language: "ru", UpdatedAt: t0}))
	must(t, s.SavePreferences(ctx, wallet.Preferences{IIN: bob, Language: "en", UpdatedAt: t0}))
	got, err := s.Preferences(ctx, alice)
	must(t, err)
	equal(t, "preferences", got, wallet.Preferences{IIN: alice, Language: "ru", UpdatedAt: us(t0)})

	// A second save replaces the first, and only the citizen's own.
	must(t, s.SavePreferences(ctx, wallet.Preferences{IIN: alice, Language: "kk", UpdatedAt: t0.Add(time.Hour)}))
	got, err = s.Preferences(ctx, alice)
	must(t, err)
	equal(t, "replaced preferences", got, wallet.Preferences{IIN: alice, Language: "kk", UpdatedAt: us(t0.Add(time.Hour))})
	got, err = s.Preferences(ctx, bob)
	must(t, err)
	equal(t, "another citizen's preferences", got.Language, "en")
	_, err = s.Preferences(ctx, carol)
	wantCode(t, err, wallet.ENOTFOUND)
}

func testZeroTimes(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.CreateClient(ctx, wallet.Client{ID: "bank-1", Name: "Bank", Kind: "bank"}))
	got, err := s.Client(ctx, "bank-1")
	must(t, err)
	if !got.CreatedAt.IsZero() || got.DisabledAt != nil {
		t.Fatalf("zero time came back as %v, %v", got.CreatedAt, got.DisabledAt)
	}
	c := consent("c-1", "bank-1", alice, t0)
	c.RequestExpiresAt = time.Time{}
	must(t, s.createConsent(c))
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

func testConsentCreate(t *testing.T, s *logged) {
	ctx := context.Background()
	c := consent("c-1", "bank-1", alice, t0)
	c.DocumentTypes = []wallet.DocumentType{wallet.IDCard, wallet.DrivingLicence}
	c.Status, c.DecidedAt, c.GrantExpiresAt = wallet.ConsentGranted, ptr(t0.Add(time.Minute)), ptr(t0.Add(90*24*time.Hour))
	must(t, s.createConsent(c))
	got, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "consent", got, storedConsent(c))
	wantCode(t, s.createConsent(c), wallet.ECONFLICT)
}

func testConsentsList(t *testing.T, s *logged) {
	ctx := context.Background()
	c1 := consent("c-1", "bank-1", alice, t0)
	c2 := consent("c-2", "bank-2", alice, t0.Add(time.Minute))
	c3 := consent("c-3", "bank-1", bob, t0.Add(2*time.Minute))
	for _, c := range []wallet.Consent{c1, c2, c3} {
		must(t, s.createConsent(c))
	}
	got, err := s.ConsentsOfSubject(ctx, alice)
	must(t, err)
	equal(t, "alice's consents", got, []wallet.Consent{storedConsent(c2), storedConsent(c1)})
	got, err = s.ConsentsOfClient(ctx, "bank-1")
	must(t, err)
	equal(t, "bank-1's consents", got, []wallet.Consent{storedConsent(c3), storedConsent(c1)})
}

func testPendingByPhone(t *testing.T, s *logged) {
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
		must(t, s.createConsent(c))
	}
	got, err := s.PendingConsentsByPhone(ctx, "+77010000001", wallet.ConsentSMSReply)
	must(t, err)
	equal(t, "pending sms consents", got, []wallet.Consent{storedConsent(newer), storedConsent(older)})
}

func testCountConsents(t *testing.T, s *logged) {
	ctx := context.Background()
	for _, c := range []wallet.Consent{
		consent("c-1", "bank-1", alice, t0),
		consent("c-2", "bank-1", alice, t0.Add(time.Minute)),
		consent("c-3", "bank-1", bob, t0.Add(2*time.Minute)),
		consent("c-4", "bank-2", alice, t0.Add(3*time.Minute)),
	} {
		must(t, s.createConsent(c))
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

// grant is an update that grants a pending consent at `at` and refuses
// (ECONFLICT) one that is decided already.
func grant(at time.Time) func(wallet.Consent) (wallet.Consent, error) {
	return decide(wallet.ConsentGranted, at)
}

func decide(status string, at time.Time) func(wallet.Consent) (wallet.Consent, error) {
	return func(c wallet.Consent) (wallet.Consent, error) {
		if c.Status != wallet.ConsentPending {
			return c, wallet.Errorf(wallet.ECONFLICT, "the consent is %s", c.Status)
		}
		c.Status, c.DecidedAt = status, &at
		if status == wallet.ConsentGranted {
			c.GrantExpiresAt = ptr(at.Add(c.ValidFor))
		}
		return c, nil
	}
}

func testUpdateConsent(t *testing.T, s *logged) {
	ctx := context.Background()
	c := consent("c-1", "bank-1", alice, t0)
	must(t, s.createConsent(c))
	decided := t0.Add(time.Minute)
	got, err := s.updateConsent("c-1", func(old wallet.Consent) (wallet.Consent, error) {
		equal(t, "consent given to update", old, storedConsent(c))
		return grant(decided)(old)
	})
	must(t, err)
	want := c
	want.Status, want.DecidedAt, want.GrantExpiresAt, want.Revision = wallet.ConsentGranted, &decided, ptr(decided.Add(c.ValidFor)), 2
	want = storedConsent(want)
	equal(t, "consent returned in Result", got, want)
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "stored consent", read, want)
	// The update's own revision and id are not what is stored.
	got, err = s.updateConsent("c-1", func(c wallet.Consent) (wallet.Consent, error) {
		c.ID, c.Revision, c.Purpose = "c-other", 40, "renewal"
		return c, nil
	})
	must(t, err)
	equal(t, "id and revision", []any{got.ID, got.Revision, got.Purpose}, []any{"c-1", 3, "renewal"})
	_, err = s.Consent(ctx, "c-other")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testUpdateConsentError(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.createConsent(consent("c-1", "bank-1", alice, t0)))
	refusal := errors.New("not pending")
	_, err := s.commit(ctx, wallet.Change{
		Ops: []wallet.Op{wallet.UpdateConsent{ID: "c-1", Update: func(c wallet.Consent) (wallet.Consent, error) {
			c.Status = wallet.ConsentGranted
			return c, refusal
		}}},
		Events: []wallet.Event{event("e-1", wallet.EventConsentGranted, alice, t0)},
	})
	if !errors.Is(err, refusal) {
		t.Fatalf("error %v, want the update's own error", err)
	}
	domain := wallet.Errorf(wallet.EEXPIRED, "request expired")
	_, err = s.updateConsent("c-1", func(c wallet.Consent) (wallet.Consent, error) { return c, domain })
	if err != domain {
		t.Fatalf("error %v, want the update's own *wallet.Error as it is", err)
	}
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "status", read.Status, wallet.ConsentPending)
	equal(t, "revision", read.Revision, 1)
	assertNoEvents(t, s, alice)
	equal(t, "log size", s.logSize(t), int64(0))
}

// testUpdateConsentSameBatch: updates of one consent that meet in one
// batch are applied in order, each on what the one before stored.
func testUpdateConsentSameBatch(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.createConsent(consent("c-1", "bank-1", alice, t0)))
	holding := s.faults.Gate()
	held := make(chan error, 1)
	go func() { _, err := s.appendEvent(event("e-held", wallet.EventCodesVoided, carol, t0)); held <- err }()
	<-holding
	type outcome struct {
		c   wallet.Consent
		err error
	}
	updates := []func(wallet.Consent) (wallet.Consent, error){
		decide(wallet.ConsentDenied, t0.Add(time.Minute)),
		grant(t0.Add(2 * time.Minute)), // sees the denial
		func(c wallet.Consent) (wallet.Consent, error) {
			c.Purpose = "seen revision " + fmt.Sprint(c.Revision)
			return c, nil
		},
	}
	outs := make([]chan outcome, len(updates))
	for i, u := range updates {
		outs[i] = make(chan outcome, 1)
		go func() { c, err := s.updateConsent("c-1", u); outs[i] <- outcome{c, err} }()
		historylogtest.WaitQueued(t, s.log, i+1)
	}
	s.faults.Release()
	must(t, <-held)
	denied, granted, renamed := <-outs[0], <-outs[1], <-outs[2]
	must(t, denied.err)
	wantCode(t, granted.err, wallet.ECONFLICT)
	must(t, renamed.err)
	if seen := s.faults.Batches(); seen[len(seen)-1].States != 3 {
		t.Fatalf("the updates were not in one batch: %+v", seen)
	}
	equal(t, "revisions", []int{denied.c.Revision, renamed.c.Revision}, []int{2, 3})
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "stored", []any{read.Status, read.Revision, read.Purpose}, []any{wallet.ConsentDenied, 3, "seen revision 2"})
}

// testUpdateConsentDecisions: concurrent decisions on one request, each
// committed with its event: one wins, the others see it decided and are
// refused, and only the winner's event is stored.
func testUpdateConsentDecisions(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.createConsent(consent("c-1", "bank-1", alice, t0)))
	const n = 16
	errs := race(n, func(i int) error {
		status, kind := wallet.ConsentGranted, wallet.EventConsentGranted
		if i%2 == 1 {
			status, kind = wallet.ConsentDenied, wallet.EventConsentDenied
		}
		_, err := s.commit(ctx, wallet.Change{
			Ops:    []wallet.Op{wallet.UpdateConsent{ID: "c-1", Update: decide(status, t0.Add(time.Duration(i)*time.Second))}},
			Events: []wallet.Event{event(fmt.Sprintf("e-%d", i), kind, alice, t0.Add(time.Duration(i)*time.Second))},
		})
		return err
	})
	counts := tally(errs)
	if counts[""] != 1 || counts[wallet.ECONFLICT] != n-1 {
		t.Fatalf("outcomes %v, want one success and %d conflicts", counts, n-1)
	}
	won := -1
	for i, err := range errs {
		if err == nil {
			won = i
		}
	}
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "revision", read.Revision, 2)
	events, err := s.Events(ctx, alice)
	must(t, err)
	if len(events) != 1 || events[0].ID != fmt.Sprintf("e-%d", won) || read.DecidedAt == nil || !read.DecidedAt.Equal(us(t0.Add(time.Duration(won)*time.Second))) {
		t.Fatalf("winner %d; events %+v; consent %+v", won, events, read)
	}
	equal(t, "log size", s.logSize(t), int64(1))
}

// testUpdateConsentConcurrent: unconditional updates all succeed, each on
// the revision the one before it stored: every revision is won once.
func testUpdateConsentConcurrent(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.createConsent(consent("c-1", "bank-1", alice, t0)))
	const n = 16
	revisions := make([]int, n)
	errs := race(n, func(i int) error {
		c, err := s.updateConsent("c-1", func(c wallet.Consent) (wallet.Consent, error) {
			c.Purpose = fmt.Sprintf("purpose %d", i)
			return c, nil
		})
		revisions[i] = c.Revision
		return err
	})
	if counts := tally(errs); counts[""] != n {
		t.Fatalf("outcomes %v, want %d successes", counts, n)
	}
	won := map[int]int{}
	last := 0
	for i, r := range revisions {
		if won[r]++; won[r] > 1 {
			t.Fatalf("revision %d won twice", r)
		}
		if r > revisions[last] {
			last = i
		}
	}
	read, err := s.Consent(ctx, "c-1")
	must(t, err)
	equal(t, "revision", read.Revision, 1+n)
	equal(t, "revision of the last update", revisions[last], 1+n)
	equal(t, "purpose", read.Purpose, fmt.Sprintf("purpose %d", last))
}

// Events.

func event(id, kind string, subject wallet.IIN, at time.Time) wallet.Event {
	return wallet.Event{ID: id, Kind: kind, SubjectIIN: subject, ActorKind: "citizen", ActorID: string(subject),
		ObjectID: "obj-" + id, At: at, LogIndex: -1}
}

func storedEvent(e wallet.Event) wallet.Event {
	e.At = us(e.At)
	return e
}

// assertNoEvents fails the test if the subject has events.
func assertNoEvents(t *testing.T, s *logged, subject wallet.IIN) {
	t.Helper()
	events, err := s.Events(context.Background(), subject)
	must(t, err)
	if len(events) != 0 {
		t.Fatalf("events stored: %+v", events)
	}
}

func testEvents(t *testing.T, s *logged) {
	ctx := context.Background()
	opened := wallet.Event{
		ID: "e-1", Kind: wallet.EventShareOpened, SubjectIIN: alice, ActorKind: "citizen", ActorID: string(alice),
		ObjectID: "sh-1", Details: map[string]string{"document_id": "doc-1", "max_views": "1"}, At: t0, LogIndex: -1,
	}
	granted := wallet.Event{
		ID: "e-2", Kind: wallet.EventConsentGranted, SubjectIIN: alice, ActorKind: wallet.ViewerOrganisation, ActorID: "bank-1",
		ObjectID: "c-1", At: t0.Add(time.Minute), LogIndex: -1,
	}
	other := wallet.Event{ID: "e-3", Kind: wallet.EventCodesVoided, SubjectIIN: bob, ActorKind: "system", At: t0, LogIndex: -1}
	for i, e := range []*wallet.Event{&opened, &granted, &other} {
		idx, err := s.appendEvent(*e)
		must(t, err)
		equal(t, e.ID+" log index", idx, int64(i))
		e.LogIndex = idx
	}
	_, err := s.appendEvent(opened)
	wantCode(t, err, wallet.ECONFLICT)
	equal(t, "log size after a duplicate", s.logSize(t), int64(3))
	got, err := s.Events(ctx, alice)
	must(t, err)
	equal(t, "alice's events", got, []wallet.Event{storedEvent(granted), storedEvent(opened)})
	got, err = s.Events(ctx, bob)
	must(t, err)
	equal(t, "bob's events", got, []wallet.Event{storedEvent(other)})
	for _, e := range []wallet.Event{opened, granted, other} {
		s.checkEventLeaf(t, e.LogIndex, e)
	}
	// The organisation that acted is a party of the event's leaf.
	leaf, _, err := s.log.Leaf(ctx, granted.LogIndex)
	must(t, err)
	if !leaf.HasParty(s.log.Pseudonym(history.OrganisationSubject("bank-1"))) {
		t.Fatal("the acting organisation is not a party of the event's leaf")
	}
}
