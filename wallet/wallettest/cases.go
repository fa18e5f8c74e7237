package wallettest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// caseTests are the conformance cases of the case store.
var caseTests = []struct {
	name string
	fn   func(t *testing.T, s *logged)
}{
	{"Case_CreateUpdateReadWithEvents", testCaseLifecycle},
	{"Case_UpdateRefusedStoresNothing", testCaseUpdateRefused},
	{"Case_DeliveryLeasesAndDefers", testCaseDelivery},
	{"Case_ExchangeMessagesKeptOnce", testCaseExchange},
}

func caseFixture(t *testing.T, s *logged) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateClient(ctx, wallet.Client{ID: "gov-1", Name: "Agency", Kind: "gov", SecretHash: "h", CreatedAt: t0}))
	must(t, s.RegisterAgency(ctx, wallet.Agency{OrganisationID: "gov-1", Endpoint: "http://127.0.0.1:9/", TimeZone: "Asia/Almaty", Calendar: "kz", CreatedAt: t0, UpdatedAt: t0}, nil))
}

func newCase(id string, owner wallet.IIN, at time.Time) wallet.Case {
	return wallet.Case{ID: id, OwnerIIN: owner, CentreID: "psc-1", OperatorID: "stf_1", AgencyID: "gov-1", Service: "svc",
		Application: map[string]string{"reason": "moved"}, Status: wallet.CaseDraft, CreatedAt: at.UTC(), UpdatedAt: at.UTC()}
}

func caseEvent(id string, c wallet.Case, at time.Time) wallet.Event {
	ev := event(id, wallet.EventCaseOpened, c.OwnerIIN, at)
	ev.ActorKind, ev.ActorID, ev.ObjectID = wallet.ActorStaff, c.OperatorID, c.ID
	return ev
}

func testCaseLifecycle(t *testing.T, s *logged) {
	ctx := context.Background()
	caseFixture(t, s)
	c1, c2 := newCase("case-1", alice, t0), newCase("case-2", alice, t0.Add(time.Minute))
	for _, c := range []wallet.Case{c1, c2} {
		_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateCase{Case: c}}, Events: []wallet.Event{caseEvent("ev-"+c.ID, c, c.CreatedAt)}})
		must(t, err)
	}
	_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateCase{Case: c1}}, Events: []wallet.Event{caseEvent("ev-again", c1, t0)}})
	wantCode(t, err, wallet.ECONFLICT)
	bad := newCase("case-x", alice, t0)
	bad.AgencyID = "gov-none"
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateCase{Case: bad}}, Events: []wallet.Event{caseEvent("ev-x", bad, t0)}})
	wantCode(t, err, wallet.ENOTFOUND)

	got, err := s.Case(ctx, "case-1")
	must(t, err)
	equal(t, "case", got, c1)
	list, err := s.CasesOfOwner(ctx, alice)
	must(t, err)
	equal(t, "owner's", len(list), 2)
	equal(t, "newest first", list[0].ID, "case-2")
	none, err := s.CasesOfOwner(ctx, bob)
	must(t, err)
	equal(t, "bob's", len(none), 0)

	sent := t0.Add(time.Hour)
	var after wallet.Case
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.UpdateCase{ID: "case-1", Result: &after, Update: func(c wallet.Case) (wallet.Case, error) {
		c.Status, c.PackageID, c.UpdatedAt, c.SentAt = wallet.CaseQueued, "pkg-1", sent, &sent
		c.Items = append(c.Items, wallet.CaseItem{ID: "application", Kind: "application", SHA256: "ab", SignedAt: sent})
		return c, nil
	}}}, Events: []wallet.Event{caseEvent("ev-sent", c1, sent)}})
	must(t, err)
	got, err = s.Case(ctx, "case-1")
	must(t, err)
	equal(t, "result is what a read gives", after, got)
	equal(t, "revision", got.Revision, 1)
	equal(t, "status", got.Status, wallet.CaseQueued)
	equal(t, "due at once", got.NextAttemptAt, usp(sent))
	equal(t, "items", len(got.Items), 1)
	// A package id is one case's only.
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.UpdateCase{ID: "case-2", Update: func(c wallet.Case) (wallet.Case, error) {
		c.PackageID = "pkg-1"
		return c, nil
	}}}, Events: []wallet.Event{caseEvent("ev-dup", c2, sent)}})
	wantCode(t, err, wallet.ECONFLICT)
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.UpdateCase{ID: "case-none", Update: func(c wallet.Case) (wallet.Case, error) { return c, nil }}},
		Events: []wallet.Event{caseEvent("ev-none", c2, sent)}})
	wantCode(t, err, wallet.ENOTFOUND)
}

func testCaseUpdateRefused(t *testing.T, s *logged) {
	ctx := context.Background()
	caseFixture(t, s)
	c := newCase("case-1", alice, t0)
	_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateCase{Case: c}}, Events: []wallet.Event{caseEvent("ev-1", c, t0)}})
	must(t, err)
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{
		wallet.UpdateCase{ID: "case-1", Update: func(c wallet.Case) (wallet.Case, error) {
			c.Status = wallet.CaseQueued
			return c, nil
		}},
		wallet.RecordExchange{Message: wallet.ExchangeMessage{Direction: "in", MessageID: "m1", CaseID: "case-1", At: t0}},
		wallet.UpdateCase{ID: "case-1", Update: func(c wallet.Case) (wallet.Case, error) {
			return c, wallet.Errorf(wallet.ECONFLICT, "no")
		}},
	}, Events: []wallet.Event{caseEvent("ev-2", c, t0)}})
	wantCode(t, err, wallet.ECONFLICT)
	got, err := s.Case(ctx, "case-1")
	must(t, err)
	equal(t, "unchanged", got, c)
	_, err = s.ExchangeMessage(ctx, "in", "m1")
	wantCode(t, err, wallet.ENOTFOUND)
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.UpdateCase{ID: "case-1", Update: func(c wallet.Case) (wallet.Case, error) {
		return c, errors.New("plain")
	}}}, Events: []wallet.Event{caseEvent("ev-3", c, t0)}})
	if err == nil {
		t.Fatal("a plain error refused nothing")
	}
}

func testCaseDelivery(t *testing.T, s *logged) {
	ctx := context.Background()
	caseFixture(t, s)
	for i, id := range []string{"case-1", "case-2", "case-3"} {
		c := newCase(id, alice, t0.Add(time.Duration(i)*time.Second))
		if id != "case-3" {
			c.Status, c.PackageID = wallet.CaseQueued, "pkg-"+id
			c.NextAttemptAt = &c.UpdatedAt
		}
		_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateCase{Case: c}}, Events: []wallet.Event{caseEvent("ev-"+id, c, c.CreatedAt)}})
		must(t, err)
	}
	now := t0.Add(time.Minute)
	got, err := s.LeaseCaseDeliveries(ctx, now, time.Minute, 1)
	must(t, err)
	equal(t, "first due", len(got), 1)
	equal(t, "oldest", got[0].ID, "case-1")
	equal(t, "leased", got[0].LeaseUntil, usp(now.Add(time.Minute)))
	got, err = s.LeaseCaseDeliveries(ctx, now, time.Minute, 10)
	must(t, err)
	equal(t, "the other", len(got), 1)
	equal(t, "second", got[0].ID, "case-2")
	got, err = s.LeaseCaseDeliveries(ctx, now, time.Minute, 10)
	must(t, err)
	equal(t, "all held", len(got), 0)

	next := now.Add(10 * time.Second)
	must(t, s.DeferCaseDelivery(ctx, "case-1", next, "connection refused"))
	wantCode(t, s.DeferCaseDelivery(ctx, "case-3", next, "x"), wallet.ECONFLICT)
	wantCode(t, s.DeferCaseDelivery(ctx, "case-none", next, "x"), wallet.ENOTFOUND)
	c, err := s.Case(ctx, "case-1")
	must(t, err)
	equal(t, "attempts", c.Attempts, 1)
	equal(t, "last error", c.LastError, "connection refused")
	equal(t, "lease released", c.LeaseUntil, (*time.Time)(nil))
	got, err = s.LeaseCaseDeliveries(ctx, now, time.Minute, 10)
	must(t, err)
	equal(t, "not due yet", len(got), 0)
	// A lease that ran out (the worker died) is taken again.
	got, err = s.LeaseCaseDeliveries(ctx, now.Add(2*time.Minute), time.Minute, 10)
	must(t, err)
	equal(t, "both again", len(got), 2)
	// Delivered: no longer leased or due.
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.UpdateCase{ID: "case-2", Update: func(c wallet.Case) (wallet.Case, error) {
		c.Status = wallet.CaseDelivered
		return c, nil
	}}}, Events: []wallet.Event{caseEvent("ev-d", c, now)}})
	must(t, err)
	got, err = s.LeaseCaseDeliveries(ctx, now.Add(time.Hour), time.Minute, 10)
	must(t, err)
	equal(t, "only the queued", len(got), 1)
	equal(t, "case-1", got[0].ID, "case-1")
}

func testCaseExchange(t *testing.T, s *logged) {
	ctx := context.Background()
	caseFixture(t, s)
	c := newCase("case-1", alice, t0)
	m := wallet.ExchangeMessage{Direction: "in", MessageID: "m1", CaseID: "case-1", Kind: "status", Digest: "d", Body: "a.b.c", Answer: "x.y.z", Verified: `{"ok":true}`, At: t0.UTC()}
	_, err := s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateCase{Case: c}, wallet.RecordExchange{Message: m}}, Events: []wallet.Event{caseEvent("ev-1", c, t0)}})
	must(t, err)
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.RecordExchange{Message: m}}, Events: []wallet.Event{caseEvent("ev-2", c, t0)}})
	wantCode(t, err, wallet.ECONFLICT)
	out := m
	out.Direction = "out"
	_, err = s.commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.RecordExchange{Message: out}}, Events: []wallet.Event{caseEvent("ev-3", c, t0)}})
	must(t, err)
	got, err := s.ExchangeMessage(ctx, "in", "m1")
	must(t, err)
	m.At = us(m.At)
	equal(t, "kept", got, m)
	list, err := s.ExchangeMessages(ctx, "case-1")
	must(t, err)
	equal(t, "both", len(list), 2)
	_, err = s.ExchangeMessage(ctx, "in", "none")
	wantCode(t, err, wallet.ENOTFOUND)
}
