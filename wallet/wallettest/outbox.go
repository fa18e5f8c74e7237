package wallettest

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// outboxTests are the outbox's cases of the suite.
var outboxTests = []struct {
	name string
	fn   func(t *testing.T, s *logged)
}{
	{"Outbox_EnqueueClaimSendErases", testOutboxLifecycle},
	{"Outbox_QueueMessageCommitsWithItsChangeOnly", testOutboxInChange},
	{"Outbox_RetryLeaseAndExpiry", testOutboxRetryExpiry},
	{"Outbox_ConcurrentClaimsTakeEachMessageOnce", testOutboxConcurrentClaims},
	{"Outbox_InvalidAndDecoy", testOutboxInvalid},
	{"Outbox_PurgeDeletesOnlyFinishedMessagesDoneBefore", testOutboxPurge},
}

func message(id string, at time.Time) wallet.Message {
	return wallet.Message{ID: id, To: "+77011234567", Sealed: []byte("sealed " + id), Purpose: "signin",
		Ref: "ref-" + id, CreatedAt: at, NotAfter: at.Add(5 * time.Minute)}
}

func testOutboxLifecycle(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.EnqueueMessage(ctx, message("m-1", t0)))
	wantCode(t, s.EnqueueMessage(ctx, message("m-1", t0)), wallet.ECONFLICT)
	// Not due before it was created.
	got, err := s.ClaimMessages(ctx, t0.Add(-time.Second), time.Minute, 10)
	must(t, err)
	equal(t, "claimed before due", len(got), 0)

	got, err = s.ClaimMessages(ctx, t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("claimed %d messages, want 1", len(got))
	}
	m := got[0]
	equal(t, "claimed message", []any{m.ID, m.To, string(m.Sealed), m.Purpose, m.Ref, m.Status, m.Attempts, m.CreatedAt, m.NotAfter},
		[]any{"m-1", "+77011234567", "sealed m-1", "signin", "ref-m-1", wallet.MessagePending, 1, us(t0), us(t0.Add(5 * time.Minute))})
	// Leased: a second claim does not get it.
	got, err = s.ClaimMessages(ctx, t0.Add(2*time.Second), time.Minute, 10)
	must(t, err)
	equal(t, "claimed while leased", len(got), 0)

	must(t, s.MessageSent(ctx, "m-1", t0.Add(3*time.Second)))
	wantCode(t, s.MessageSent(ctx, "m-1", t0.Add(3*time.Second)), wallet.ENOTFOUND)
	wantCode(t, s.MessageRetry(ctx, "m-1", t0.Add(time.Minute), "late"), wallet.ENOTFOUND)
	stored, err := s.OutboxMessage(ctx, "m-1")
	must(t, err)
	equal(t, "sent message", []any{stored.Status, stored.To, len(stored.Sealed), stored.Attempts},
		[]any{wallet.MessageSent, "", 0, 1})
	got, err = s.ClaimMessages(ctx, t0.Add(time.Hour), time.Minute, 10)
	must(t, err)
	equal(t, "claimed after sent", len(got), 0)
	_, err = s.OutboxMessage(ctx, "m-missing")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testOutboxInChange(t *testing.T, s *logged) {
	ctx := context.Background()
	// A change that refuses stores no message.
	_, err := s.commit(ctx, wallet.Change{
		Ops: []wallet.Op{
			wallet.QueueMessage{Message: message("m-1", t0)},
			wallet.RedeemShare{ShareID: "sh-missing", View: shareView("v-1", string(bob), t0)},
		},
		Events: []wallet.Event{event("e-1", wallet.EventConsentRequested, alice, t0)},
	})
	wantCode(t, err, wallet.ENOTFOUND)
	_, err = s.OutboxMessage(ctx, "m-1")
	wantCode(t, err, wallet.ENOTFOUND)
	// One that commits stores it with its event.
	_, err = s.commit(ctx, wallet.Change{
		Ops:    []wallet.Op{wallet.CreateConsent{Consent: consent("c-1", "bank-1", alice, t0)}, wallet.QueueMessage{Message: message("m-1", t0)}},
		Events: []wallet.Event{event("e-1", wallet.EventConsentRequested, alice, t0)},
	})
	must(t, err)
	m, err := s.OutboxMessage(ctx, "m-1")
	must(t, err)
	equal(t, "queued status", m.Status, wallet.MessagePending)
	// The same id again refuses the whole change.
	_, err = s.commit(ctx, wallet.Change{
		Ops:    []wallet.Op{wallet.CreateConsent{Consent: consent("c-2", "bank-1", alice, t0)}, wallet.QueueMessage{Message: message("m-1", t0)}},
		Events: []wallet.Event{event("e-2", wallet.EventConsentRequested, alice, t0)},
	})
	wantCode(t, err, wallet.ECONFLICT)
	_, err = s.Consent(ctx, "c-2")
	wantCode(t, err, wallet.ENOTFOUND)
}

func testOutboxRetryExpiry(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.EnqueueMessage(ctx, message("m-1", t0)))
	must(t, s.EnqueueMessage(ctx, message("m-2", t0.Add(time.Second))))
	got, err := s.ClaimMessages(ctx, t0.Add(2*time.Second), time.Minute, 1)
	must(t, err)
	if len(got) != 1 || got[0].ID != "m-1" {
		t.Fatalf("claimed %+v, want m-1 (the oldest due) only", got)
	}
	must(t, s.MessageRetry(ctx, "m-1", t0.Add(30*time.Second), "gateway answered 503"))
	got, err = s.ClaimMessages(ctx, t0.Add(3*time.Second), time.Minute, 10)
	must(t, err)
	if len(got) != 1 || got[0].ID != "m-2" {
		t.Fatalf("claimed %+v, want m-2 (m-1 is not due before its retry)", got)
	}
	got, err = s.ClaimMessages(ctx, t0.Add(31*time.Second), time.Minute, 10)
	must(t, err)
	ids := []string{}
	for _, m := range got {
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	equal(t, "claimed after the retry and the lease", ids, []string{"m-1"})
	// m-1 fails again; m-2's lease runs out and it is claimed again.
	must(t, s.MessageRetry(ctx, "m-1", t0.Add(3*time.Minute), "gateway answered 503"))
	got, err = s.ClaimMessages(ctx, t0.Add(2*time.Minute), time.Minute, 10)
	must(t, err)
	if len(got) != 1 || got[0].ID != "m-2" || got[0].Attempts != 2 || got[0].LastError != "" {
		t.Fatalf("claimed %+v, want m-2 on its second attempt", got)
	}
	m1, err := s.OutboxMessage(ctx, "m-1")
	must(t, err)
	equal(t, "m-1 after a failed attempt", []any{m1.Attempts, m1.LastError}, []any{2, "gateway answered 503"})

	// Past NotAfter: never claimed, expired once, erased.
	late := t0.Add(10 * time.Minute)
	got, err = s.ClaimMessages(ctx, late, time.Minute, 10)
	must(t, err)
	equal(t, "claimed past not_after", len(got), 0)
	expired, err := s.ExpireMessages(ctx, late, 10)
	must(t, err)
	ids = ids[:0]
	for _, m := range expired {
		ids = append(ids, m.ID+"/"+m.Status+"/"+m.Ref)
	}
	sort.Strings(ids)
	equal(t, "expired", ids, []string{"m-1/failed/ref-m-1", "m-2/failed/ref-m-2"})
	again, err := s.ExpireMessages(ctx, late, 10)
	must(t, err)
	equal(t, "expired twice", len(again), 0)
	m1, err = s.OutboxMessage(ctx, "m-1")
	must(t, err)
	equal(t, "failed message erased", []any{m1.Status, m1.To, len(m1.Sealed)}, []any{wallet.MessageFailed, "", 0})
}

func testOutboxConcurrentClaims(t *testing.T, s *logged) {
	ctx := context.Background()
	const n = 40
	for i := range n {
		must(t, s.EnqueueMessage(ctx, message("m-"+string(rune('A'+i)), t0)))
	}
	claimed := make([][]wallet.Message, 8)
	errs := race(8, func(i int) error {
		var err error
		claimed[i], err = s.ClaimMessages(ctx, t0.Add(time.Second), time.Minute, 10)
		return err
	})
	seen := map[string]int{}
	for i, err := range errs {
		if wallet.IsCode(err, wallet.EUNAVAILABLE) {
			continue // SQLite may answer busy to a claimer: it claimed nothing
		}
		must(t, err)
		for _, m := range claimed[i] {
			seen[m.ID]++
		}
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("message %s claimed %d times", id, k)
		}
	}
	if len(seen) == 0 {
		t.Fatal("no claim got anything")
	}
}

func testOutboxInvalid(t *testing.T, s *logged) {
	ctx := context.Background()
	for name, m := range map[string]wallet.Message{
		"no id":       {To: "+77011234567", Sealed: []byte("x"), Purpose: "signin", CreatedAt: t0, NotAfter: t0.Add(time.Minute)},
		"no purpose":  {ID: "m-1", To: "+77011234567", Sealed: []byte("x"), CreatedAt: t0, NotAfter: t0.Add(time.Minute)},
		"no phone":    {ID: "m-1", Sealed: []byte("x"), Purpose: "signin", CreatedAt: t0, NotAfter: t0.Add(time.Minute)},
		"no text":     {ID: "m-1", To: "+77011234567", Purpose: "signin", CreatedAt: t0, NotAfter: t0.Add(time.Minute)},
		"no lifetime": {ID: "m-1", To: "+77011234567", Sealed: []byte("x"), Purpose: "signin", CreatedAt: t0, NotAfter: t0},
	} {
		if err := s.EnqueueMessage(ctx, m); wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want %s", name, err, wallet.EINVALID)
		}
	}
	decoy := wallet.Message{ID: "m-decoy", Sealed: []byte("sealed"), Purpose: "signin", CreatedAt: t0, NotAfter: t0.Add(time.Minute), Decoy: true}
	must(t, s.EnqueueMessage(ctx, decoy))
	got, err := s.ClaimMessages(ctx, t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	equal(t, "decoys claimed", len(got), 0)
	expired, err := s.ExpireMessages(ctx, t0.Add(time.Hour), 10)
	must(t, err)
	equal(t, "decoys expired", len(expired), 0)
	m, err := s.OutboxMessage(ctx, "m-decoy")
	must(t, err)
	equal(t, "decoy", []any{m.Status, m.Decoy}, []any{wallet.MessageDropped, true})
}

func testOutboxPurge(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.EnqueueMessage(ctx, message("m-sent", t0)))
	must(t, s.EnqueueMessage(ctx, message("m-pending", t0)))
	must(t, s.EnqueueMessage(ctx, message("m-failed", t0)))
	decoy := wallet.Message{ID: "m-decoy", Purpose: "signin", CreatedAt: t0, NotAfter: t0.Add(time.Minute), Decoy: true}
	must(t, s.EnqueueMessage(ctx, decoy))
	claimed, err := s.ClaimMessages(ctx, t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	for _, m := range claimed {
		if m.ID == "m-sent" {
			must(t, s.MessageSent(ctx, m.ID, t0.Add(time.Second)))
		}
	}
	_, err = s.ExpireMessages(ctx, t0.Add(time.Hour), 10) // m-pending and m-failed, past not_after and their leases
	must(t, err)
	// Nothing finished before t0: nothing goes.
	n, err := s.PurgeMessages(ctx, t0, 10)
	must(t, err)
	equal(t, "purged before t0", n, 0)
	n, err = s.PurgeMessages(ctx, t0.Add(2*time.Hour), 2)
	must(t, err)
	equal(t, "purged with max 2", n, 2)
	n, err = s.PurgeMessages(ctx, t0.Add(2*time.Hour), 10)
	must(t, err)
	equal(t, "purged the rest", n, 2)
	for _, id := range []string{"m-sent", "m-pending", "m-failed", "m-decoy"} {
		_, err := s.OutboxMessage(ctx, id)
		wantCode(t, err, wallet.ENOTFOUND)
	}
	// A pending message is never purged.
	must(t, s.EnqueueMessage(ctx, message("m-new", t0.Add(3*time.Hour))))
	n, err = s.PurgeMessages(ctx, t0.Add(24*time.Hour), 10)
	must(t, err)
	equal(t, "purged pending", n, 0)
}
