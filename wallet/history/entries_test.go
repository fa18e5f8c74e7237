package history_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
)

func TestViewEntry_PartiesAreOwnerViewerAndGuardian(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	e, err := history.ViewEntry(wallet.View{ID: "v1", DocumentID: "d1", OwnerIIN: "000000000001",
		ViewerKind: wallet.ViewerOrganisation, ViewerID: "bank-1", Channel: wallet.ChannelConsent, SharedBy: "000000000002", At: at, LogIndex: 7})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"000000000001", "org:bank-1", "000000000002"}
	if e.Kind != history.KindView || !e.At.Equal(at) || len(e.Subjects) != 3 {
		t.Fatalf("entry %+v", e)
	}
	for i := range want {
		if e.Subjects[i] != want[i] {
			t.Fatalf("subjects %v, want %v", e.Subjects, want)
		}
	}
	var p map[string]any
	if err := json.Unmarshal(e.Payload, &p); err != nil || p["id"] != "v1" || p["viewer_id"] != "bank-1" {
		t.Fatalf("payload %s, %v", e.Payload, err)
	}
	if _, ok := p["log_index"]; ok {
		t.Fatal("the payload holds the log index")
	}
	if _, err := history.ViewEntry(wallet.View{ID: "v1"}); wallet.ErrorCode(err) != wallet.EINVALID {
		t.Fatalf("a view without owner: %v", err)
	}
}

func TestEventEntry_PartiesAreSubjectAndActor(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		kind, id string
		want     []string
	}{
		{"organisation", "bank-1", []string{"000000000001", "org:bank-1"}},
		{"citizen", "000000000001", []string{"000000000001"}}, // the subject acting: one party
		{"guardian", "000000000003", []string{"000000000001", "000000000003"}},
		{"system", "", []string{"000000000001"}},
	} {
		e, err := history.EventEntry(wallet.Event{ID: "e1", Kind: wallet.EventConsentGranted, SubjectIIN: "000000000001", ActorKind: c.kind, ActorID: c.id, At: at})
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != wallet.EventConsentGranted {
			t.Fatalf("kind %q", e.Kind)
		}
		// Append drops repeats; compare what remains.
		got := map[string]bool{}
		for _, s := range e.Subjects {
			got[s] = true
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: subjects %v, want %v", c.kind, e.Subjects, c.want)
		}
		for _, w := range c.want {
			if !got[w] {
				t.Fatalf("%s: subjects %v, want %v", c.kind, e.Subjects, c.want)
			}
		}
	}
	if _, err := history.EventEntry(wallet.Event{ID: "e1"}); wallet.ErrorCode(err) != wallet.EINVALID {
		t.Fatalf("an event without kind: %v", err)
	}
}
