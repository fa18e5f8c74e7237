package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TestHistoryLog_ViewerVerifiesTheirLeaf is the walk a viewer makes after a
// redemption: fetch their leaf, the checkpoint and the inclusion proof, and
// check the proof against the checkpoint signed with the published key.
func TestHistoryLog_ViewerVerifiesTheirLeaf(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	b := s.signIn(demoRevoked).Access
	sh := s.share(a, s.documents(a)[0].ID, nil)
	r := s.do("POST", "/v1/shares/redeem", b, map[string]string{"token": sh.Token})
	var red struct {
		LogIndex *int64 `json:"log_index"`
	}
	json.Unmarshal(r.Body, &red)
	if r.Status != 200 || red.LogIndex == nil {
		t.Fatalf("redemption has no log_index: %d %s", r.Status, r.Body)
	}
	index := *red.LogIndex
	// Both histories carry it.
	for _, v := range [][]map[string]any{s.views(a, "owner"), s.views(b, "viewer")} {
		if len(v) != 1 || v[0]["log_index"] != float64(index) {
			t.Fatalf("history item without the log index %d: %v", index, v)
		}
	}
	// History events (the share opened) are logged too.
	hr := s.do("GET", "/v1/me/history", a, nil)
	if !strings.Contains(string(hr.Body), `"log_index"`) {
		t.Fatalf("history events without log_index: %s", hr.Body)
	}

	// The leaf: to its parties only.
	r = s.do("GET", fmt.Sprintf("/v1/log/leaves/%d", index), b, nil)
	if r.Status != 200 {
		t.Fatalf("leaf: %d %s", r.Status, r.Body)
	}
	leaf, _ := base64.StdEncoding.DecodeString(r.JSON(t)["leaf"].(string))
	if r := s.do("GET", fmt.Sprintf("/v1/log/leaves/%d", index), a, nil); r.Status != 200 {
		t.Fatalf("owner's leaf: %d", r.Status)
	}
	stranger := s.signIn(demoSpouse).Access
	for _, tok := range []string{stranger, ""} {
		if r := s.do("GET", fmt.Sprintf("/v1/log/leaves/%d", index), tok, nil); r.Status != http.StatusNotFound && r.Status != http.StatusUnauthorized {
			t.Fatalf("a stranger read the leaf: %d", r.Status)
		}
	}
	if bytes.Contains(leaf, []byte(demoAllTypes)) || bytes.Contains(leaf, []byte(demoRevoked)) {
		t.Fatal("the leaf holds an IIN in clear")
	}

	// The checkpoint, signed with the published key.
	key := s.do("GET", "/v1/log/key", "", nil).JSON(t)
	verifier, err := note.NewVerifier(key["verifier_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	cp := s.do("GET", "/v1/log/checkpoint", "", nil)
	n, err := note.Open(cp.Body, note.VerifierList(verifier))
	if err != nil {
		t.Fatalf("checkpoint does not verify with the published key: %v\n%s", err, cp.Body)
	}
	lines := strings.Split(n.Text, "\n")
	if lines[0] != key["origin"] {
		t.Fatalf("origin %q, want %q", lines[0], key["origin"])
	}
	size, _ := strconv.ParseInt(lines[1], 10, 64)
	rootBytes, _ := base64.StdEncoding.DecodeString(lines[2])
	var root tlog.Hash
	copy(root[:], rootBytes)

	// The inclusion proof, checked by tlog and by RFC 6962 written out.
	r = s.do("GET", fmt.Sprintf("/v1/log/proof/inclusion?index=%d&size=%d", index, size), "", nil)
	if r.Status != 200 {
		t.Fatalf("inclusion proof: %d %s", r.Status, r.Body)
	}
	var ip struct {
		LeafHash string `json:"leaf_hash"`
		Proof    []string
	}
	json.Unmarshal(r.Body, &ip)
	var proof tlog.RecordProof
	var path [][]byte
	for _, p := range ip.Proof {
		b, _ := base64.StdEncoding.DecodeString(p)
		var h tlog.Hash
		copy(h[:], b)
		proof = append(proof, h)
		path = append(path, b)
	}
	if err := tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(leaf)); err != nil {
		t.Fatalf("tlog rejects the proof: %v", err)
	}
	leafHash := sha256.Sum256(append([]byte{0}, leaf...))
	if !rfc6962VerifyInclusion(index, size, leafHash[:], path, root[:]) {
		t.Fatal("the RFC 6962 verifier rejects the proof")
	}
	if hb, _ := base64.StdEncoding.DecodeString(ip.LeafHash); !bytes.Equal(hb, leafHash[:]) {
		t.Fatal("leaf_hash is not SHA-256(0x00 ‖ leaf)")
	}

	// A consistency proof from the first tree to this one.
	r = s.do("GET", fmt.Sprintf("/v1/log/proof/consistency?from=1&to=%d", size), "", nil)
	if r.Status != 200 {
		t.Fatalf("consistency: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"?index=x&size=1", fmt.Sprintf("?index=%d&size=%d", size, size), "?index=-1&size=2"} {
		if r := s.do("GET", "/v1/log/proof/inclusion"+bad, "", nil); r.Status != 400 && r.Status != 404 {
			t.Fatalf("bad proof request %s: %d", bad, r.Status)
		}
	}
}

// rfc6962VerifyInclusion is RFC 9162 §2.1.3.2, written out.
func rfc6962VerifyInclusion(index, size int64, leafHash []byte, path [][]byte, root []byte) bool {
	if index >= size {
		return false
	}
	node := func(l, r []byte) []byte {
		h := sha256.New()
		h.Write([]byte{1})
		h.Write(l)
		h.Write(r)
		return h.Sum(nil)
	}
	fn, sn := index, size-1
	r := leafHash
	for _, p := range path {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = node(p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = node(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return sn == 0 && bytes.Equal(r, root)
}
