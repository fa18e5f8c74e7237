package historylog_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

func sampleLeaf() historylog.Leaf {
	l := historylog.Leaf{
		Kind: "view",
		At:   time.Date(2026, 3, 1, 4, 30, 0, 123456000, time.UTC),
		Parties: []historylog.Party{
			{Subject: strings.Repeat("ab", 32), Seq: 1, Prev: -1},
			{Subject: strings.Repeat("cd", 32), Seq: 4, Prev: 17},
		},
	}
	for i := range l.Salt {
		l.Salt[i] = byte(i)
	}
	l.PayloadHash = historylog.PayloadCommitment(l.Salt, []byte("payload"))
	return l
}

func TestLeaf_RoundTripsAndHasAFixedLayout(t *testing.T) {
	l := sampleLeaf()
	b, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 16 + 8 + 1 + 4 + 32 + 1 + 2*48; len(b) != want || b[0] != historylog.LeafVersion {
		t.Fatalf("%d bytes starting %x, want %d starting 01", len(b), b[0], want)
	}
	got, err := historylog.ParseLeaf(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) || got.Kind != l.Kind || !got.At.Equal(l.At) || len(got.Parties) != 2 || got.Parties[1] != l.Parties[1] {
		t.Fatalf("round trip: %+v", got)
	}
	if !got.CheckPayload([]byte("payload")) || got.CheckPayload([]byte("payloaD")) || got.CheckPayload(nil) {
		t.Fatal("CheckPayload")
	}
	if !got.HasParty(strings.Repeat("cd", 32)) || got.HasParty(strings.Repeat("ef", 32)) {
		t.Fatal("HasParty")
	}
	// The leaf hash is RFC 6962's.
	if h := tlog.RecordHash(b); h != tlog.RecordHash(b2) {
		t.Fatal("hash")
	}
}

func TestParseLeaf_RejectsNonCanonicalBytes(t *testing.T) {
	good, _ := sampleLeaf().MarshalBinary()
	bad := map[string][]byte{
		"empty":           {},
		"version 2":       append([]byte{2}, good[1:]...),
		"trailing byte":   append(append([]byte{}, good...), 0),
		"truncated":       good[:len(good)-1],
		"upper-case kind": bytes.Replace(good, []byte("view"), []byte("VIEW"), 1),
	}
	zeroParties := append([]byte{}, good[:1+16+8+1+4+32]...)
	bad["no parties"] = append(zeroParties, 0)
	twice := sampleLeaf()
	twice.Parties[1].Subject = twice.Parties[0].Subject
	twice.Parties[1].Seq, twice.Parties[1].Prev = 1, -1
	for name, b := range bad {
		if _, err := historylog.ParseLeaf(b); wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want %s", name, err, wallet.EINVALID)
		}
	}
	if _, err := twice.MarshalBinary(); wallet.ErrorCode(err) != wallet.EINVALID {
		t.Errorf("a party twice: %v", err)
	}
	firstWithPrev := sampleLeaf()
	firstWithPrev.Parties[0].Prev = 3
	if _, err := firstWithPrev.MarshalBinary(); wallet.ErrorCode(err) != wallet.EINVALID {
		t.Errorf("seq 1 with a prev: %v", err)
	}
}

func TestCheckpoint_C2SPFormRoundTrips(t *testing.T) {
	c := historylog.Checkpoint{Origin: "qujat.test/log", Size: 42, Root: tlog.RecordHash([]byte("x"))}
	text, err := c.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(text), "\n")
	if len(lines) != 4 || lines[0] != "qujat.test/log" || lines[1] != "42" || lines[3] != "" {
		t.Fatalf("checkpoint text %q", text)
	}
	got, err := historylog.ParseCheckpoint(append(text, "extension line\n"...))
	if err != nil || got != c {
		t.Fatalf("ParseCheckpoint = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "o\n42\n", "o\n042\n" + lines[2] + "\n", "o\n-1\n" + lines[2] + "\n", "o\n1\nnot base64\n", "o\n1\n" + lines[2]} {
		if _, err := historylog.ParseCheckpoint([]byte(bad)); wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("ParseCheckpoint(%q): %v", bad, err)
		}
	}
}

func TestNew_RequiresStoreAndKeys(t *testing.T) {
	_, err := historylog.New(historylog.Config{})
	if wallet.ErrorCode(err) != wallet.EINVALID {
		t.Fatalf("New without store: %v", err)
	}
}
