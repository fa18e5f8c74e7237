package wallet_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// chainOf builds n genuine versions of one document, each with other content.
func chainOf(t *testing.T, n int) []wallet.Version {
	t.Helper()
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd")
	k, _ := keys.Signer("mvd")
	c := sampleContent(t)
	var out []wallet.Version
	prev := ""
	for i := 1; i <= n; i++ {
		c.Fields["address"] = fmt.Sprintf("street %d", i)
		content, err := c.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		jws, err := wallet.SignDocument(k, c, i, t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		v := wallet.Version{DocumentID: c.ID(), Version: i, Content: content, JWS: jws, PrevHash: prev,
			Hash: wallet.VersionHash(prev, content, jws), CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
		out = append(out, v)
		prev = v.Hash
	}
	return out
}

func cloneVersions(vs []wallet.Version) []wallet.Version {
	out := make([]wallet.Version, len(vs))
	for i, v := range vs {
		v.Content = append([]byte(nil), v.Content...)
		out[i] = v
	}
	return out
}

func TestVersionHash_IsDefinedOverPrevContentAndJWS(t *testing.T) {
	// SHA-256("abc" || 0x00 || "{}" || 0x00 || "x.y.z"), fixed here so that
	// the definition cannot drift from what stores already hold.
	if got := wallet.VersionHash("abc", []byte("{}"), "x.y.z"); got != "429f8689daedf24f8d050bb12cba05fc671a4de161bd95d819069c94cd1524ec" {
		t.Fatalf("hash %s", got)
	}
	if wallet.VersionHash("", []byte("a"), "b") == wallet.VersionHash("", []byte("a\x00"), "b") {
		t.Fatal("separator does not separate")
	}
}

func TestVerifyChain_GenuineChainPasses(t *testing.T) {
	vs := chainOf(t, 4)
	if err := wallet.VerifyChain(vs); err != nil {
		t.Fatal(err)
	}
	if err := wallet.VerifyChain(nil); err != nil {
		t.Fatal(err)
	}
	if err := wallet.VerifyChain(vs[:1]); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyChain_DetectsTampering(t *testing.T) {
	const n = 4
	type tamper struct {
		name string
		mod  func([]wallet.Version) []wallet.Version
		// bad is the version number the error must name.
		bad int
	}
	var cases []tamper
	for i := 0; i < n; i++ {
		i := i
		cases = append(cases,
			tamper{fmt.Sprintf("content byte of v%d", i+1), func(vs []wallet.Version) []wallet.Version {
				vs[i].Content[len(vs[i].Content)/2] ^= 0x01
				return vs
			}, i + 1},
			tamper{fmt.Sprintf("jws byte of v%d", i+1), func(vs []wallet.Version) []wallet.Version {
				b := []byte(vs[i].JWS)
				b[len(b)-3] ^= 0x01
				vs[i].JWS = string(b)
				return vs
			}, i + 1},
			tamper{fmt.Sprintf("hash byte of v%d", i+1), func(vs []wallet.Version) []wallet.Version {
				vs[i].Hash = flipHex(vs[i].Hash)
				return vs
			}, i + 1},
			tamper{fmt.Sprintf("prev_hash of v%d", i+1), func(vs []wallet.Version) []wallet.Version {
				if i == 0 {
					vs[i].PrevHash = strings.Repeat("0", 64)
				} else {
					vs[i].PrevHash = flipHex(vs[i].PrevHash)
				}
				return vs
			}, i + 1},
		)
		// Content rewritten and its own hash recomputed: the next version's
		// prev_hash gives it away (so not for the last one; see
		// TestVerifyChain_LimitsOfTheChainAlone).
		if i < n-1 {
			cases = append(cases, tamper{fmt.Sprintf("content and hash of v%d", i+1), func(vs []wallet.Version) []wallet.Version {
				vs[i].Content = []byte(strings.Replace(string(vs[i].Content), "street", "avenue", 1))
				vs[i].Hash = wallet.VersionHash(vs[i].PrevHash, vs[i].Content, vs[i].JWS)
				return vs
			}, i + 2})
		}
	}
	cases = append(cases,
		tamper{"first removed", func(vs []wallet.Version) []wallet.Version { return vs[1:] }, 2},
		tamper{"middle removed", func(vs []wallet.Version) []wallet.Version { return append(vs[:1:1], vs[2:]...) }, 3},
		tamper{"two swapped", func(vs []wallet.Version) []wallet.Version { vs[1], vs[2] = vs[2], vs[1]; return vs }, 3},
		tamper{"reversed", func(vs []wallet.Version) []wallet.Version {
			for i, j := 0, len(vs)-1; i < j; i, j = i+1, j-1 {
				vs[i], vs[j] = vs[j], vs[i]
			}
			return vs
		}, 4},
		tamper{"renumbered after removal", func(vs []wallet.Version) []wallet.Version {
			vs = append(vs[:1:1], vs[2:]...)
			vs[1].Version, vs[2].Version = 2, 3
			return vs
		}, 2},
		tamper{"duplicated", func(vs []wallet.Version) []wallet.Version { return append(vs[:2:2], vs[1:]...) }, 2},
		tamper{"version of another document", func(vs []wallet.Version) []wallet.Version {
			other := chainOf(t, 2)
			other[1].DocumentID = "doc_other"
			return append(vs[:1:1], other[1])
		}, 2},
	)
	genuine := chainOf(t, n)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vs := tc.mod(cloneVersions(genuine))
			err := wallet.VerifyChain(vs)
			if !wallet.IsCode(err, wallet.EINTERNAL) {
				t.Fatalf("not detected: %v", err)
			}
			var ce *wallet.ChainError
			if !errors.As(err, &ce) || ce.Version != tc.bad {
				t.Fatalf("error %v names version %d, want %d", err, ce.Version, tc.bad)
			}
		})
	}
}

func TestVerifyChain_LimitsOfTheChainAlone(t *testing.T) {
	// Versions cut from the end leave a valid shorter chain: the head must
	// be anchored elsewhere (the history log).
	vs := chainOf(t, 4)
	if err := wallet.VerifyChain(vs[:3]); err != nil {
		t.Fatalf("a truncated chain is a valid chain: %v", err)
	}
	// The same for a last version rewritten with a recomputed hash; its
	// JWS still covers the original content, which a Verifier checks.
	last := cloneVersions(vs)
	last[3].Content = []byte(`{"forged":true}`)
	last[3].Hash = wallet.VersionHash(last[3].PrevHash, last[3].Content, last[3].JWS)
	if err := wallet.VerifyChain(last); err != nil {
		t.Fatalf("unexpected: %v", err)
	}
}

func flipHex(h string) string {
	b := []byte(h)
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}
