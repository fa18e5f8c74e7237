package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/png"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/qujat/qujat/wallet"
)

type opened struct {
	ID, Token, URL, ShortCode, QRURL string
	DocumentID                       string
}

func (s *testServer) share(token, docID string, body any) opened {
	s.t.Helper()
	r := s.do("POST", "/v1/documents/"+docID+"/shares", token, body)
	if r.Status != http.StatusCreated {
		s.t.Fatalf("share: %d %s", r.Status, r.Body)
	}
	var o struct {
		ID, Token, URL string
		ShortCode      string    `json:"short_code"`
		QRURL          string    `json:"qr_url"`
		DocumentID     string    `json:"document_id"`
		MaxViews       int       `json:"max_views"`
		ExpiresAt      time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(r.Body, &o); err != nil {
		s.t.Fatal(err)
	}
	if o.ID == "" || len(o.Token) < 22 || len(o.ShortCode) != 6 || o.URL == "" || o.QRURL == "" || o.MaxViews < 1 {
		s.t.Fatalf("incomplete share: %s", r.Body)
	}
	return opened{o.ID, o.Token, o.URL, o.ShortCode, o.QRURL, o.DocumentID}
}

func (s *testServer) views(token, as string) []map[string]any {
	s.t.Helper()
	r := s.do("GET", "/v1/views?as="+as, token, nil)
	if r.Status != 200 {
		s.t.Fatalf("views: %d %s", r.Status, r.Body)
	}
	var out struct{ Views []map[string]any }
	json.Unmarshal(r.Body, &out)
	return out.Views
}

func TestSharing_AsANewUserWould(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	b := s.signIn(demoRevoked).Access
	docs := s.documents(a)
	doc := docs[0]

	// A shares; B redeems by token.
	sh := s.share(a, doc.ID, nil)
	r := s.do("POST", "/v1/shares/redeem", b, map[string]string{"token": sh.Token})
	if r.Status != http.StatusOK {
		t.Fatalf("redeem by token: %d %s", r.Status, r.Body)
	}
	var red struct {
		ViewID   string `json:"view_id"`
		Document wallet.Document
	}
	json.Unmarshal(r.Body, &red)
	if red.ViewID == "" || red.Document.ID != doc.ID || red.Document.JWS != doc.JWS {
		t.Fatalf("redemption: %s", r.Body)
	}
	// A second redemption of the single-use share is 410.
	r = s.do("POST", "/v1/shares/redeem", b, map[string]string{"token": sh.Token})
	if r.Status != http.StatusGone || r.ErrorCode(t) != "expired" {
		t.Fatalf("second redemption: %d %s", r.Status, r.Body)
	}
	// B redeems a second share by short code + owner IIN.
	sh2 := s.share(a, docs[1].ID, map[string]int{"ttl_seconds": 300, "max_views": 2})
	r = s.do("POST", "/v1/shares/redeem", b, map[string]string{"short_code": sh2.ShortCode, "owner_iin": string(demoAllTypes)})
	if r.Status != http.StatusOK {
		t.Fatalf("redeem by code: %d %s", r.Status, r.Body)
	}
	// Both see the views in their history, with names.
	ov := s.views(a, "owner")
	vv := s.views(b, "viewer")
	if len(ov) != 2 || len(vv) != 2 {
		t.Fatalf("owner sees %d views, viewer %d; want 2 and 2", len(ov), len(vv))
	}
	if ov[0]["channel"] != "short_code" || ov[1]["channel"] != "qr" {
		t.Fatalf("channels: %v", ov)
	}
	if v := ov[0]["viewer"].(map[string]any); v["id"] != string(demoRevoked) || v["name"] != s.citizen(demoRevoked).Name || v["kind"] != "citizen" {
		t.Fatalf("viewer party: %v", v)
	}
	if o := vv[0]["owner"].(map[string]any); o["id"] != string(demoAllTypes) || o["name"] != s.citizen(demoAllTypes).Name {
		t.Fatalf("owner party: %v", o)
	}
	// A revoked share is 410, by token and by code.
	sh3 := s.share(a, doc.ID, nil)
	if r := s.do("DELETE", "/v1/shares/"+sh3.ID, a, nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/shares/redeem", b, map[string]string{"token": sh3.Token}); r.Status != http.StatusGone {
		t.Fatalf("revoked by token: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/shares/redeem", b, map[string]string{"short_code": sh3.ShortCode, "owner_iin": string(demoAllTypes)}); r.Status != http.StatusGone && r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked by code: %d %s", r.Status, r.Body)
	}
	// The owner's list shows the states.
	r = s.do("GET", "/v1/shares", a, nil)
	var list struct{ Shares []struct{ ID, State string } }
	json.Unmarshal(r.Body, &list)
	states := map[string]string{}
	for _, x := range list.Shares {
		states[x.ID] = x.State
	}
	if states[sh.ID] != "used" || states[sh2.ID] != "active" || states[sh3.ID] != "revoked" {
		t.Fatalf("states: %v", states)
	}
	// Another citizen cannot revoke or list A's shares.
	if r := s.do("DELETE", "/v1/shares/"+sh2.ID, b, nil); r.Status != http.StatusNotFound {
		t.Fatalf("foreign revoke: %d", r.Status)
	}
	// An expired share is 410.
	sh4 := s.share(a, doc.ID, map[string]int{"ttl_seconds": 60})
	s.Clock.Advance(61 * time.Second)
	if r := s.do("POST", "/v1/shares/redeem", b, map[string]string{"token": sh4.Token}); r.Status != http.StatusGone {
		t.Fatalf("expired: %d %s", r.Status, r.Body)
	}
}

func TestSharing_BadRequests(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	b := s.signIn(demoRevoked).Access
	doc := s.documents(a)[0]
	real := s.share(a, doc.ID, nil).Token
	forged := real[:len(real)-2] + "AA"
	if forged == real {
		forged = real[:len(real)-2] + "BB"
	}
	for name, tc := range map[string]struct {
		path, token string
		body        any
		status      int
	}{
		"ttl too long":        {"/v1/documents/" + doc.ID + "/shares", a, map[string]int{"ttl_seconds": 601}, 400},
		"ttl zero":            {"/v1/documents/" + doc.ID + "/shares", a, map[string]int{"ttl_seconds": 0}, 400},
		"too many views":      {"/v1/documents/" + doc.ID + "/shares", a, map[string]int{"max_views": 11}, 400},
		"unknown field":       {"/v1/documents/" + doc.ID + "/shares", a, map[string]int{"views": 1}, 400},
		"someone else's doc":  {"/v1/documents/" + doc.ID + "/shares", b, nil, 404},
		"no token":            {"/v1/documents/" + doc.ID + "/shares", "", nil, 401},
		"redeem nothing":      {"/v1/shares/redeem", b, map[string]string{}, 400},
		"redeem both":         {"/v1/shares/redeem", b, map[string]string{"token": "x", "short_code": "123456", "owner_iin": string(demoAllTypes)}, 400},
		"code without owner":  {"/v1/shares/redeem", b, map[string]string{"short_code": "123456"}, 400},
		"owner iin bad check": {"/v1/shares/redeem", b, map[string]string{"short_code": "123456", "owner_iin": "880412310008"}, 400},
		"code not six digits": {"/v1/shares/redeem", b, map[string]string{"short_code": "12345", "owner_iin": string(demoAllTypes)}, 400},
		"garbage token":       {"/v1/shares/redeem", b, map[string]string{"token": "garbage"}, 400},
		"unknown share token": {"/v1/shares/redeem", b, map[string]string{"token": forged}, 410},
		"redeem anonymously":  {"/v1/shares/redeem", "", map[string]string{"token": "x"}, 401},
	} {
		t.Run(name, func(t *testing.T) {
			r := s.do("POST", tc.path, tc.token, tc.body)
			if r.Status != tc.status {
				t.Fatalf("%d, want %d: %s", r.Status, tc.status, r.Body)
			}
			r.ErrorCode(t)
		})
	}
}

func TestSharing_OwnerCannotRedeemOwnShare(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	b := s.signIn(demoRevoked).Access
	sh := s.share(a, s.documents(a)[0].ID, nil)
	if r := s.do("POST", "/v1/shares/redeem", a, map[string]string{"token": sh.Token}); r.Status != http.StatusConflict || r.ErrorCode(t) != "conflict" {
		t.Fatalf("own share: %d %s", r.Status, r.Body)
	}
	// It was not spent.
	if r := s.do("POST", "/v1/shares/redeem", b, map[string]string{"token": sh.Token}); r.Status != http.StatusOK {
		t.Fatalf("after the owner's try: %d %s", r.Status, r.Body)
	}
}

func TestSharing_FiftyParallelRedemptionsOfASingleUseShare(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	viewers := []string{s.signIn(demoRevoked).Access, s.signIn(demoSpouse).Access}
	sh := s.share(a, s.documents(a)[0].ID, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body, _ := json.Marshal(map[string]string{"token": sh.Token})
			req, _ := http.NewRequest("POST", s.URL+"/v1/shares/redeem", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+viewers[i%2])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			mu.Lock()
			statuses[res.StatusCode]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[410] != 49 {
		t.Fatalf("statuses %v, want one 200 and 49 410", statuses)
	}
	if n := len(s.views(a, "owner")); n != 1 {
		t.Fatalf("%d view events, want exactly 1", n)
	}
}

func TestSharing_GuessingCodesHitsTheLimits(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	b := s.signIn(demoRevoked).Access
	sh := s.share(a, s.documents(a)[0].ID, nil)
	wrong := func(n int) string {
		c := fmt.Sprintf("%06d", n)
		if c == sh.ShortCode {
			c = fmt.Sprintf("%06d", n+1)
		}
		return c
	}
	// Against one owner, the third wrong code voids the owner's live codes.
	for i := 0; i < 3; i++ {
		r := s.do("POST", "/v1/shares/redeem", b, map[string]string{"short_code": wrong(i), "owner_iin": string(demoAllTypes)})
		if r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "invalid_code" {
			t.Fatalf("wrong code %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	if r := s.do("POST", "/v1/shares/redeem", b, map[string]string{"short_code": sh.ShortCode, "owner_iin": string(demoAllTypes)}); r.Status == http.StatusOK {
		t.Fatalf("the right code still worked after its owner's codes were voided")
	}
	r := s.do("GET", "/v1/me/history", a, nil)
	var h struct{ Events []struct{ Kind string } }
	json.Unmarshal(r.Body, &h)
	voided := false
	for _, e := range h.Events {
		voided = voided || e.Kind == wallet.EventCodesVoided
	}
	if !voided {
		t.Fatalf("the owner's history does not show the voided codes: %s", r.Body)
	}
	// The token still works: only codes were voided.
	// The viewer: 5 wrong codes per 15 minutes, then 429 with Retry-After.
	// (Four wrong so far: three above and the voided right code.)
	other := []wallet.IIN{demoSpouse, "600210320844", "620505423555"}
	var last response
	for i := 0; i < 3; i++ {
		last = s.do("POST", "/v1/shares/redeem", b, map[string]string{"short_code": wrong(100 + i), "owner_iin": string(other[i])})
		if last.Status == http.StatusTooManyRequests {
			break
		}
	}
	if last.Status != http.StatusTooManyRequests || last.ErrorCode(t) != "rate_limited" || last.Header.Get("Retry-After") == "" {
		t.Fatalf("viewer limit: %d %v %s", last.Status, last.Header, last.Body)
	}
}

// TestSharing_OwnerSharesAgainAtOnceAfterAVoid: three wrong codes from a
// signed-in stranger void the owner's codes; the owner sees codes_voided in
// the history, opens a new share at once, and its code works for a viewer.
func TestSharing_OwnerSharesAgainAtOnceAfterAVoid(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	stranger := s.signIn(demoRevoked).Access
	viewer := s.signIn(demoSpouse).Access
	doc := s.documents(a)[0].ID
	sh := s.share(a, doc, nil)
	for i := 0; i < 3; i++ {
		c := fmt.Sprintf("%06d", i)
		if c == sh.ShortCode {
			c = "999999"
		}
		r := s.do("POST", "/v1/shares/redeem", stranger, map[string]string{"short_code": c, "owner_iin": string(demoAllTypes)})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := s.do("GET", "/v1/me/history", a, nil)
	var h struct {
		Events []struct {
			Kind    string
			Details map[string]string
		}
	}
	json.Unmarshal(r.Body, &h)
	voided := false
	for _, e := range h.Events {
		if e.Kind == wallet.EventCodesVoided {
			voided = e.Details["reason"] != "" && e.Details["wrong_codes"] == "3"
		}
	}
	if !voided {
		t.Fatalf("the owner's history does not tell of the void: %s", r.Body)
	}
	// The voided code no longer works, for anyone.
	if r := s.do("POST", "/v1/shares/redeem", viewer, map[string]string{"short_code": sh.ShortCode, "owner_iin": string(demoAllTypes)}); r.Status == http.StatusOK {
		t.Fatalf("a voided code worked")
	}
	// The owner opens a new share at once; its code works.
	fresh := s.share(a, doc, nil)
	r = s.do("POST", "/v1/shares/redeem", viewer, map[string]string{"short_code": fresh.ShortCode, "owner_iin": string(demoAllTypes)})
	if r.Status != http.StatusOK {
		t.Fatalf("the new share's code after a void: %d %s", r.Status, r.Body)
	}
}

func TestSharing_QRImageEncodesTheURL(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	sh := s.share(a, s.documents(a)[0].ID, nil)
	r := s.do("GET", "/v1/shares/"+sh.ID+"/qr", a, nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("qr: %d %s", r.Status, r.Header)
	}
	img, _, err := image.Decode(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR does not decode: %v", err)
	}
	if res.GetText() != sh.URL {
		t.Fatalf("QR encodes %q, want %q", res.GetText(), sh.URL)
	}
	b := s.signIn(demoRevoked).Access
	if r := s.do("GET", "/v1/shares/"+sh.ID+"/qr", b, nil); r.Status != http.StatusNotFound {
		t.Fatalf("someone else's QR: %d", r.Status)
	}
}
