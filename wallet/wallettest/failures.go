package wallettest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog/historylogtest"
	"github.com/qujat/qujat/wallet"
)

// leafWriteFailure is one kind of change whose leaves cannot be written:
// the log's AppendTx.Commit fails after the change's ops were applied in
// its transaction, before anything is committed. Nothing of the change may
// then be stored: no state change without its history.
type leafWriteFailure struct {
	name string
	// setup stores, through the log, what the change needs.
	setup func(t *testing.T, s *logged)
	// change is the change to commit.
	change func() wallet.Change
	// check runs after the failed commit: the change's rows are absent or
	// unchanged (beyond what snapshot compares).
	check func(t *testing.T, s *logged)
}

// The changes the services commit, one of each kind.
var leafWriteFailures = []leafWriteFailure{
	{
		name:  "RegistryDraft",
		setup: setupRegistry,
		change: func() wallet.Change {
			rec := wallet.RegistryRecord{Registry: "lic", Number: "1", HolderKind: wallet.HolderCitizen, HolderID: string(alice),
				HolderName: "Alice", CreatedBy: "stf_off", CreatedAt: t0}
			return wallet.Change{Ops: []wallet.Op{wallet.CreateRegistryRecord{Record: rec}, wallet.AppendRegistryVersion{Version: draft("1", 1, map[string]string{"a": "b"}, t0)}},
				Events: []wallet.Event{staffEvent("e-1", wallet.EventRegistryDraft, "", t0)}}
		},
		check: func(t *testing.T, s *logged) {
			_, _, err := s.RegistryRecord(context.Background(), "lic", "1")
			wantCode(t, err, wallet.ENOTFOUND)
		},
	},
	{
		name:  "RegistryPublished",
		setup: func(t *testing.T, s *logged) { setupRegistry(t, s); createRecord(t, s, "1") },
		change: func() wallet.Change {
			v := signed(draft("1", 1, map[string]string{"activity": "pharmacy"}, t0), wallet.RegistryPublished, "", t0.Add(time.Minute))
			return wallet.Change{Ops: []wallet.Op{wallet.SignRegistryVersion{Version: v}},
				Events: []wallet.Event{staffEvent("e-1", wallet.EventRegistryPublished, alice, t0.Add(time.Minute))}}
		},
		check: func(t *testing.T, s *logged) {
			_, vs, err := s.RegistryRecord(context.Background(), "lic", "1")
			must(t, err)
			if len(vs) != 1 || vs[0].Status != wallet.RegistryDraft || vs[0].JWS != "" {
				t.Fatalf("the draft was signed: %+v", vs)
			}
		},
	},
	{
		name: "RegistryRevoked",
		setup: func(t *testing.T, s *logged) {
			setupRegistry(t, s)
			d := createRecord(t, s, "1")
			if _, err := s.commit(context.Background(), wallet.Change{Ops: []wallet.Op{wallet.SignRegistryVersion{Version: signed(d, wallet.RegistryPublished, "", t0)}},
				Events: []wallet.Event{staffEvent("e-p", wallet.EventRegistryPublished, alice, t0)}}); err != nil {
				t.Fatal(err)
			}
		},
		change: func() wallet.Change {
			prev := signed(draft("1", 1, map[string]string{"activity": "pharmacy"}, t0), wallet.RegistryPublished, "", t0)
			v := signed(draft("1", 2, nil, t0.Add(time.Minute)), wallet.RegistryRevoked, prev.Hash, t0.Add(time.Minute))
			v.Reason = "withdrawn"
			return wallet.Change{Ops: []wallet.Op{wallet.AppendRegistryVersion{Version: v}},
				Events: []wallet.Event{staffEvent("e-1", wallet.EventRegistryRevoked, alice, t0.Add(time.Minute))}}
		},
		check: func(t *testing.T, s *logged) {
			_, vs, err := s.RegistryRecord(context.Background(), "lic", "1")
			must(t, err)
			if len(vs) != 1 || vs[0].Status != wallet.RegistryPublished {
				t.Fatalf("the record was revoked: %+v", vs)
			}
		},
	},
	{
		name: "ExtractMade",
		change: func() wallet.Change {
			e := wallet.Extract{ID: "ext-1", DocumentID: "doc-1", OwnerIIN: alice, Version: 1, Hash: "ab", Lang: "kk", MadeBy: string(alice), CreatedAt: t0}
			return wallet.Change{Ops: []wallet.Op{wallet.CreateExtract{Extract: e}}, Events: []wallet.Event{event("e-1", wallet.EventExtractMade, alice, t0)}}
		},
		check: func(t *testing.T, s *logged) {
			_, err := s.Extract(context.Background(), "ext-1")
			wantCode(t, err, wallet.ENOTFOUND)
		},
	},
	{
		name: "ShareOpened",
		change: func() wallet.Change {
			return wallet.Change{Ops: []wallet.Op{wallet.CreateShare{Share: share("sh-1", 1)}},
				Events: []wallet.Event{event("e-1", wallet.EventShareOpened, alice, t0)}}
		},
		check: func(t *testing.T, s *logged) {
			_, err := s.Share(context.Background(), "sh-1")
			wantCode(t, err, wallet.ENOTFOUND)
		},
	},
	{
		name:  "ShareRevoked",
		setup: func(t *testing.T, s *logged) { must(t, s.createShare(share("sh-1", 1))) },
		change: func() wallet.Change {
			return wallet.Change{Ops: []wallet.Op{wallet.RevokeShare{ID: "sh-1", At: t0.Add(time.Minute)}},
				Events: []wallet.Event{event("e-1", wallet.EventShareRevoked, alice, t0.Add(time.Minute))}}
		},
		check: func(t *testing.T, s *logged) {
			sh, err := s.Share(context.Background(), "sh-1")
			must(t, err)
			if sh.RevokedAt != nil {
				t.Fatalf("the share was revoked at %v", sh.RevokedAt)
			}
		},
	},
	{
		name: "DuplicateRequested",
		change: func() wallet.Change {
			return wallet.Change{Ops: []wallet.Op{wallet.CreateDuplicate{Duplicate: duplicate("dup-1", alice, "psc-1", t0)}},
				Events: []wallet.Event{event("e-1", wallet.EventDuplicateRequested, alice, t0)}}
		},
		check: func(t *testing.T, s *logged) {
			_, err := s.Duplicate(context.Background(), "dup-1")
			wantCode(t, err, wallet.ENOTFOUND)
		},
	},
	{
		name: "DuplicateCertified",
		setup: func(t *testing.T, s *logged) {
			must(t, s.do(wallet.CreateDuplicate{Duplicate: duplicate("dup-1", alice, "psc-1", t0)}))
		},
		change: func() wallet.Change {
			return wallet.Change{Ops: []wallet.Op{wallet.CertifyDuplicate{ID: "dup-1", At: t0.Add(time.Minute), RetainUntil: t0.AddDate(3, 0, 0), JWS: "a.b.c"}},
				Events: []wallet.Event{event("e-1", wallet.EventDuplicateCertified, alice, t0.Add(time.Minute))}}
		},
		check: func(t *testing.T, s *logged) {
			d, err := s.Duplicate(context.Background(), "dup-1")
			must(t, err)
			if d.Status != wallet.DuplicateAwaitingConsent || d.CertifiedAt != nil || d.JWS != "" {
				t.Fatalf("the duplicate was certified: %+v", d)
			}
		},
	},
	{
		name: "DuplicatePurged",
		setup: func(t *testing.T, s *logged) {
			must(t, s.do(wallet.CreateDuplicate{Duplicate: duplicate("dup-1", alice, "psc-1", t0)},
				wallet.CertifyDuplicate{ID: "dup-1", At: t0, RetainUntil: t0.Add(time.Hour), JWS: "a.b.c"}))
		},
		change: func() wallet.Change {
			return wallet.Change{Ops: []wallet.Op{wallet.PurgeDuplicate{ID: "dup-1", At: t0.Add(2 * time.Hour)}},
				Events: []wallet.Event{event("e-1", wallet.EventDuplicatePurged, alice, t0.Add(2*time.Hour))}}
		},
		check: func(t *testing.T, s *logged) {
			d, err := s.Duplicate(context.Background(), "dup-1")
			must(t, err)
			if d.Status != wallet.DuplicateCertified || d.PurgedAt != nil {
				t.Fatalf("the duplicate was purged: %+v", d)
			}
		},
	},
	{
		name: "CodesVoided",
		change: func() wallet.Change {
			return wallet.Change{Events: []wallet.Event{event("e-1", wallet.EventCodesVoided, alice, t0)}}
		},
	},
	{
		name: "ConsentRequested",
		change: func() wallet.Change {
			return wallet.Change{Ops: []wallet.Op{wallet.CreateConsent{Consent: consent("c-1", "bank-1", alice, t0)}},
				Events: []wallet.Event{event("e-1", wallet.EventConsentRequested, alice, t0)}}
		},
		check: func(t *testing.T, s *logged) {
			_, err := s.Consent(context.Background(), "c-1")
			wantCode(t, err, wallet.ENOTFOUND)
		},
	},
	consentDecision("ConsentGranted", wallet.ConsentPending, decide(wallet.ConsentGranted, t0.Add(time.Minute)), wallet.EventConsentGranted),
	consentDecision("ConsentDenied", wallet.ConsentPending, decide(wallet.ConsentDenied, t0.Add(time.Minute)), wallet.EventConsentDenied),
	consentDecision("ConsentRevoked", wallet.ConsentGranted, func(c wallet.Consent) (wallet.Consent, error) {
		at := t0.Add(time.Hour)
		c.Status, c.RevokedAt = wallet.ConsentRevoked, &at
		return c, nil
	}, wallet.EventConsentRevoked),
	{
		name: "ConsentRelease",
		change: func() wallet.Change {
			second := consentView("v-2", "bank-1", t0)
			second.DocumentID, second.DocumentType = "doc-2", wallet.Passport
			return wallet.Change{Views: []wallet.View{consentView("v-1", "bank-1", t0), second}}
		},
	},
	{
		name: "GuardianView",
		change: func() wallet.Change {
			return wallet.Change{Views: []wallet.View{{
				ID: "v-1", DocumentID: "doc-9", DocumentType: wallet.BirthCertificate, OwnerIIN: alice,
				ViewerKind: wallet.ViewerGuardian, ViewerID: string(bob), Channel: wallet.ChannelGuardian, At: t0, LogIndex: -1,
			}}}
		},
	},
	{
		name:  "Redemption",
		setup: func(t *testing.T, s *logged) { must(t, s.createShare(share("sh-1", 1))) },
		change: func() wallet.Change {
			return wallet.Change{Ops: []wallet.Op{wallet.RedeemShare{ShareID: "sh-1", View: shareView("v-1", string(bob), t0.Add(time.Second))}}}
		},
		check: func(t *testing.T, s *logged) { checkViews(t, s, "sh-1", 0) },
	},
	{
		name: "FirstDocumentVersion",
		change: func() wallet.Change {
			return wallet.Change{Ops: []wallet.Op{wallet.AppendVersion{Document: document("doc-1", alice, wallet.IDCard, "population"), Version: version("doc-1", 1, t0)}}}
		},
		check: func(t *testing.T, s *logged) {
			_, err := s.Document(context.Background(), "doc-1")
			wantCode(t, err, wallet.ENOTFOUND)
		},
	},
	{
		name: "NextDocumentVersion",
		setup: func(t *testing.T, s *logged) {
			must(t, s.appendVersion(document("doc-1", alice, wallet.IDCard, "population"), version("doc-1", 1, t0)))
		},
		change: func() wallet.Change {
			d := document("doc-1", alice, wallet.IDCard, "population")
			d.FetchedAt = t0.Add(time.Hour)
			return wallet.Change{Ops: []wallet.Op{wallet.AppendVersion{Document: d, Version: version("doc-1", 2, t0.Add(time.Hour))}}}
		},
		check: func(t *testing.T, s *logged) {
			d, err := s.Document(context.Background(), "doc-1")
			must(t, err)
			equal(t, "latest version", d.Latest.Version, 1)
			equal(t, "fetched at", d.FetchedAt, us(t0))
		},
	},
	{
		name:  "CaseOpened",
		setup: func(t *testing.T, s *logged) { caseFixture(t, s) },
		change: func() wallet.Change {
			c := newCase("case-1", alice, t0)
			return wallet.Change{Ops: []wallet.Op{wallet.CreateCase{Case: c}}, Events: []wallet.Event{caseEvent("e-1", c, t0)}}
		},
		check: func(t *testing.T, s *logged) {
			_, err := s.Case(context.Background(), "case-1")
			wantCode(t, err, wallet.ENOTFOUND)
		},
	},
	{
		name: "CaseStatusWithItsMessage",
		setup: func(t *testing.T, s *logged) {
			caseFixture(t, s)
			must(t, s.do(wallet.CreateCase{Case: newCase("case-1", alice, t0)}))
		},
		change: func() wallet.Change {
			c := newCase("case-1", alice, t0)
			return wallet.Change{Ops: []wallet.Op{
				wallet.RecordExchange{Message: wallet.ExchangeMessage{Direction: "in", MessageID: "m-1", CaseID: "case-1", Kind: "status", At: t0}},
				wallet.UpdateCase{ID: "case-1", Update: func(c wallet.Case) (wallet.Case, error) {
					c.Status = wallet.CaseRegistered
					c.Events = append(c.Events, wallet.CaseEvent{Seq: 1, Status: wallet.CaseRegistered, At: t0})
					return c, nil
				}},
			}, Events: []wallet.Event{caseEvent("e-1", c, t0.Add(time.Minute))}}
		},
		check: func(t *testing.T, s *logged) {
			c, err := s.Case(context.Background(), "case-1")
			must(t, err)
			if c.Status != wallet.CaseDraft || c.Revision != 0 || len(c.Events) != 0 {
				t.Fatalf("the case changed: %+v", c)
			}
			_, err = s.ExchangeMessage(context.Background(), "in", "m-1")
			wantCode(t, err, wallet.ENOTFOUND)
		},
	},
}

// consentDecision is the failure of an UpdateConsent from status with its event.
func consentDecision(name, status string, update func(wallet.Consent) (wallet.Consent, error), kind string) leafWriteFailure {
	return leafWriteFailure{
		name: name,
		setup: func(t *testing.T, s *logged) {
			c := consent("c-1", "bank-1", alice, t0)
			c.Status = status
			must(t, s.createConsent(c))
		},
		change: func() wallet.Change {
			return wallet.Change{Ops: []wallet.Op{wallet.UpdateConsent{ID: "c-1", Update: update}},
				Events: []wallet.Event{event("e-1", kind, alice, t0.Add(time.Minute))}}
		},
		check: func(t *testing.T, s *logged) {
			c, err := s.Consent(context.Background(), "c-1")
			must(t, err)
			if c.Status != status || c.Revision != 1 || c.DecidedAt != nil || c.RevokedAt != nil {
				t.Fatalf("the consent changed: %+v", c)
			}
		},
	}
}

// run commits the change with the leaf write failing, checks that the
// caller got the error and that nothing of the change is stored, then
// commits it again with the log healthy: it is stored whole, at the index
// the failed batch would have taken.
func (f leafWriteFailure) run(t *testing.T, s *logged) {
	ctx := context.Background()
	if f.setup != nil {
		f.setup(t, s)
	}
	before := snapshot(t, s)
	s.faults.FailCommits(true)
	idx, err := s.commit(ctx, f.change())
	s.faults.FailCommits(false)
	if err == nil {
		t.Fatalf("the change was committed (indexes %v) although its leaves were not written", idx)
	}
	if !errors.Is(err, historylogtest.ErrFault) || wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
		t.Fatalf("the caller got %v, want the log's failure (%s)", err, wallet.EUNAVAILABLE)
	}
	if seen := s.faults.Batches(); len(seen) == 0 || seen[len(seen)-1].Leaves == 0 {
		t.Fatalf("the failed batch had no leaf: %+v", seen)
	}
	if f.check != nil {
		f.check(t, s)
	}
	after := snapshot(t, s)
	equal(t, "the store after the failed change", after, before)

	idx, err = s.commit(ctx, f.change())
	must(t, err)
	if len(idx) == 0 || idx[0] != before.logSize {
		t.Fatalf("the change committed again at %v, want from %d", idx, before.logSize)
	}
	if snapshot(t, s).equal(before) {
		t.Fatal("the change committed again but the store did not change")
	}
}

// state is what the failure cases compare: every row the changes above
// may write, and the log's size and checkpoint.
type state struct {
	shares     []wallet.Share
	consents   []wallet.Consent
	views      []wallet.View
	orgViews   []wallet.View
	guardian   []wallet.View
	events     []wallet.Event
	documents  []wallet.StoredDocument
	versions   map[string][]wallet.Version
	logSize    int64
	checkpoint []byte
}

func (a state) equal(b state) bool { return reflect.DeepEqual(a, b) }

// snapshot reads the state of alice's and bob's rows.
func snapshot(t *testing.T, s *logged) state {
	t.Helper()
	ctx := context.Background()
	var st state
	var err error
	st.shares, err = s.Shares(ctx, alice)
	must(t, err)
	st.consents, err = s.ConsentsOfSubject(ctx, alice)
	must(t, err)
	st.views, err = s.ViewsOfOwner(ctx, alice)
	must(t, err)
	st.orgViews, err = s.ViewsByViewer(ctx, wallet.ViewerOrganisation, "bank-1")
	must(t, err)
	st.guardian, err = s.ViewsByViewer(ctx, wallet.ViewerGuardian, string(bob))
	must(t, err)
	st.events, err = s.Events(ctx, alice)
	must(t, err)
	st.documents, err = s.Documents(ctx, alice)
	must(t, err)
	st.versions = map[string][]wallet.Version{}
	for _, d := range st.documents {
		st.versions[d.ID], err = s.Versions(ctx, d.ID)
		must(t, err)
	}
	st.logSize = s.logSize(t)
	cp, err := s.LatestCheckpoint(ctx)
	if !wallet.IsCode(err, wallet.ENOTFOUND) {
		must(t, err)
		st.checkpoint = cp.Note
	}
	return st
}
