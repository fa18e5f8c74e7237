package consent_test

import (
	"context"
	"slices"
	"testing"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/wallet"
)

// status returns the consent as stored now.
func (e *env) status(t *testing.T, id string) string {
	t.Helper()
	c, err := e.store.Consent(context.Background(), id)
	must(t, err)
	return c.Status
}

// TestConsent_LeafWriteFailureLeavesNoChange makes the write of the history
// log's leaves fail, in the same transaction as the state change it
// records: the caller gets the error, and neither the change nor its event
// or views are stored.
func TestConsent_LeafWriteFailureLeavesNoChange(t *testing.T) {
	runAll(t, map[string]func(t *testing.T, e *env){
		"RequestIsNotStoredNorAsked": testLeafFailRequest,
		"GrantIsNotStored":           testLeafFailGrant,
		"DenialIsNotStored":          testLeafFailDeny,
		"RevocationIsNotStored":      testLeafFailRevoke,
		"ReleaseRecordsNoViews":      testLeafFailRelease,
	})
}

func testLeafFailRequest(t *testing.T, e *env) {
	ctx := context.Background()
	e.log.FailCommits(true)
	r := consent.Request{
		IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "opening a current account",
		Method: wallet.ConsentOTP,
	}
	c, err := e.svc.Request(ctx, e.bank.ID, r)
	wantCode(t, err, wallet.EUNAVAILABLE)
	if c.ID != "" {
		t.Fatalf("a failed request returned %+v", c)
	}
	e.log.WantFailedLeaves(t)
	e.log.FailCommits(false)
	list, err := e.svc.ConsentsOf(ctx, e.citizen.IIN)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("%d consents stored by a failed request", len(list))
	}
	byClient, err := e.svc.ConsentsByClient(ctx, e.bank.ID)
	must(t, err)
	if len(byClient) != 0 {
		t.Fatalf("the bank sees %d consents after a failed request", len(byClient))
	}
	evs, err := e.store.Events(ctx, e.citizen.IIN)
	must(t, err)
	if len(evs) != 0 {
		t.Fatalf("events %+v of a failed request", evs)
	}
	if n := len(e.outbox.Messages("")); n != 0 {
		t.Fatalf("the citizen was asked (%d SMS) about a request that is not stored", n)
	}
	// The log goes on: the same request succeeds now, with its event.
	c, err = e.svc.Request(ctx, e.bank.ID, r)
	must(t, err)
	if kinds := e.eventKinds(t, e.citizen.IIN, c.ID); !slices.Equal(kinds, []string{wallet.EventConsentRequested}) {
		t.Fatalf("events %v", kinds)
	}
}

// testLeafFailDecision checks one failed decision: the consent keeps its
// status and its events, and the decision succeeds once the log works.
// between, if set, runs after the checks of the failure, before the retry.
func testLeafFailDecision(t *testing.T, e *env, c wallet.Consent, decide func() (wallet.Consent, error), between func()) {
	t.Helper()
	before := e.status(t, c.ID)
	kinds := e.eventKinds(t, e.citizen.IIN, c.ID)
	e.log.FailCommits(true)
	got, err := decide()
	wantCode(t, err, wallet.EUNAVAILABLE)
	if got.ID != "" {
		t.Fatalf("a failed decision returned %+v", got)
	}
	e.log.WantFailedLeaves(t)
	e.log.FailCommits(false)
	if st := e.status(t, c.ID); st != before {
		t.Fatalf("status %s after a failed decision, want %s", st, before)
	}
	if after := e.eventKinds(t, e.citizen.IIN, c.ID); !slices.Equal(after, kinds) {
		t.Fatalf("events %v after a failed decision, want %v", after, kinds)
	}
	if between != nil {
		between()
	}
	_, err = decide()
	must(t, err)
	if after := e.eventKinds(t, e.citizen.IIN, c.ID); len(after) != len(kinds)+1 {
		t.Fatalf("events %v after the retry, want one more than %v", after, kinds)
	}
}

func testLeafFailGrant(t *testing.T, e *env) {
	c := e.request(t, wallet.ConsentApp)
	testLeafFailDecision(t, e, c, func() (wallet.Consent, error) {
		return e.svc.Approve(context.Background(), e.citizen.IIN, c.ID)
	}, nil)
	if st := e.status(t, c.ID); st != wallet.ConsentGranted {
		t.Fatalf("status %s", st)
	}
}

func testLeafFailDeny(t *testing.T, e *env) {
	c := e.request(t, wallet.ConsentApp)
	testLeafFailDecision(t, e, c, func() (wallet.Consent, error) {
		return e.svc.Deny(context.Background(), e.citizen.IIN, c.ID)
	}, nil)
	if st := e.status(t, c.ID); st != wallet.ConsentDenied {
		t.Fatalf("status %s", st)
	}
}

func testLeafFailRevoke(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentApp)
	_, err := e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	testLeafFailDecision(t, e, c, func() (wallet.Consent, error) {
		return e.svc.Revoke(ctx, e.citizen.IIN, c.ID)
	}, func() {
		// The grant stands: the bank may still read.
		if _, err := e.svc.Release(ctx, e.bank.ID, c.ID); err != nil {
			t.Fatalf("release after a failed revocation: %v", err)
		}
	})
	if st := e.status(t, c.ID); st != wallet.ConsentRevoked {
		t.Fatalf("status %s", st)
	}
	if kinds := e.eventKinds(t, e.citizen.IIN, c.ID); !slices.Equal(kinds, []string{wallet.EventConsentRequested, wallet.EventConsentGranted, wallet.EventConsentRevoked}) {
		t.Fatalf("events %v", kinds)
	}
}

func testLeafFailRelease(t *testing.T, e *env) {
	ctx := context.Background()
	c, err := e.svc.Request(ctx, e.bank.ID, consent.Request{
		IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration, wallet.DrivingLicence}, Purpose: "know your customer",
		Method: wallet.ConsentApp,
	})
	must(t, err)
	_, err = e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	e.log.FailCommits(true)
	rel, err := e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.EUNAVAILABLE)
	if rel != nil {
		t.Fatalf("released %d documents without their views", len(rel))
	}
	e.log.WantFailedLeaves(t)
	e.log.FailCommits(false)
	owner, err := e.store.ViewsOfOwner(ctx, e.citizen.IIN)
	must(t, err)
	byClient, err := e.svc.ViewsByClient(ctx, e.bank.ID)
	must(t, err)
	if len(owner) != 0 || len(byClient) != 0 {
		t.Fatalf("a failed release recorded views: owner %d, client %d", len(owner), len(byClient))
	}
	rel, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	must(t, err)
	owner, err = e.store.ViewsOfOwner(ctx, e.citizen.IIN)
	must(t, err)
	if len(rel) != 2 || len(owner) != 2 {
		t.Fatalf("the retry released %d documents with %d views, want 2 and 2", len(rel), len(owner))
	}
}
