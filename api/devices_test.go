package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/notify"
	"github.com/qujat/qujat/service"
	"github.com/qujat/qujat/wallet"
)

// withDevNotifications builds the server with the development endpoints'
// notification outbox (http and loopback webhooks allowed, as in `make run`).
func withDevNotifications(dev *notify.DevOutbox) func(*service.Parts) {
	return func(p *service.Parts) { p.DevNotifications = dev }
}

// receiver is a webhook receiver that records what it is posted.
type receiver struct {
	mu     sync.Mutex
	got    []receivedPush
	status int
}

type receivedPush struct {
	Header http.Header
	Body   []byte
}

func newReceiver(t *testing.T) (*receiver, string) {
	rc := &receiver{status: http.StatusOK}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, receivedPush{r.Header.Clone(), b})
		status := rc.status
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(hs.Close)
	return rc, hs.URL + "/hook"
}

func (rc *receiver) pushes() []receivedPush {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedPush(nil), rc.got...)
}

func (s *testServer) addWebhook(token, url string) (id, secret string) {
	s.t.Helper()
	r := s.do("POST", "/v1/me/devices", token, map[string]string{"platform": "webhook", "url": url})
	if r.Status != http.StatusCreated {
		s.t.Fatalf("add device: %d %s", r.Status, r.Body)
	}
	m := r.JSON(s.t)
	id, _ = m["id"].(string)
	secret, _ = m["secret"].(string)
	if id == "" || !strings.HasPrefix(secret, "whsec_") || m["platform"] != "webhook" {
		s.t.Fatalf("device: %s", r.Body)
	}
	return id, secret
}

func TestDevices_AddListRemoveAndBadInput(t *testing.T) {
	s := newTestServerWith(t, withDevNotifications(&notify.DevOutbox{}))
	tok := s.signIn(demoAllTypes).Access
	other := s.signIn(demoRevoked).Access

	id, secret := s.addWebhook(tok, "http://127.0.0.1:9/hook") // http: development endpoints are on
	r := s.do("GET", "/v1/me/devices", tok, nil)
	var list struct {
		Devices []struct {
			ID, Platform, Status string
			CreatedAt            time.Time `json:"created_at"`
			Failures             int
		}
	}
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &list) != nil || len(list.Devices) != 1 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	if d := list.Devices[0]; d.ID != id || d.Platform != "webhook" || d.Status != "active" || d.Failures != 0 || d.CreatedAt.IsZero() {
		t.Fatalf("listed: %+v", d)
	}
	if strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), "secret") {
		t.Fatalf("the secret is shown again: %s", r.Body)
	}

	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"unknown platform", map[string]string{"platform": "pager", "url": "https://a.test/"}, 400, "invalid_request"},
		{"apns is not offered", map[string]string{"platform": "apns", "token": "abc"}, 400, "invalid_request"},
		{"fcm is not configured", map[string]string{"platform": "fcm", "token": "abc"}, 400, "invalid_request"},
		{"no url", map[string]string{"platform": "webhook"}, 400, "invalid_request"},
		{"not a URL", map[string]string{"platform": "webhook", "url": "hook"}, 400, "invalid_request"},
		{"ftp", map[string]string{"platform": "webhook", "url": "ftp://a.test/"}, 400, "invalid_request"},
		{"credentials in the URL", map[string]string{"platform": "webhook", "url": "https://u:p@a.test/"}, 400, "invalid_request"},
		{"unknown field", map[string]string{"platform": "webhook", "url": "https://a.test/", "secret": "x"}, 400, "invalid_request"},
		{"bad JSON", []byte(`{"platform": "webhook"`), 400, "invalid_request"},
		{"not an object", []byte(`["webhook"]`), 400, "invalid_request"},
	}
	for _, c := range cases {
		if r := s.do("POST", "/v1/me/devices", tok, c.body); r.Status != c.status || r.ErrorCode(t) != c.code {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}

	// Ten devices at most.
	for i := 2; i <= 10; i++ {
		s.addWebhook(tok, fmt.Sprintf("https://hooks.test/%d", i))
	}
	if r := s.do("POST", "/v1/me/devices", tok, map[string]string{"platform": "webhook", "url": "https://hooks.test/11"}); r.Status != http.StatusConflict || r.ErrorCode(t) != "conflict" {
		t.Fatalf("11th device: %d %s", r.Status, r.Body)
	}

	// Another citizen's device is not found, and stays.
	if r := s.do("DELETE", "/v1/me/devices/"+id, other, nil); r.Status != http.StatusNotFound || r.ErrorCode(t) != "not_found" {
		t.Fatalf("foreign delete: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/me/devices", other, nil); r.Status != 200 || string(r.Body) != "{\"devices\":[]}\n" {
		t.Fatalf("another citizen's list: %s", r.Body)
	}
	if r := s.do("DELETE", "/v1/me/devices/"+id, tok, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/me/devices/"+id, tok, nil); r.Status != http.StatusNotFound {
		t.Fatalf("delete again: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/me/devices", tok, map[string]string{"platform": "webhook", "url": "https://hooks.test/11"}); r.Status != http.StatusCreated {
		t.Fatalf("room after a delete: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/me/devices", "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", r.Status)
	}
}

func TestDevices_WebhookMustBeHTTPSOutsideDevelopment(t *testing.T) {
	s := newTestServer(t) // no development notification endpoints
	tok := s.signIn(demoAllTypes).Access
	r := s.do("POST", "/v1/me/devices", tok, map[string]string{"platform": "webhook", "url": "http://hooks.test/a"})
	if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "invalid_request" || !strings.Contains(string(r.Body), "https") {
		t.Fatalf("http webhook: %d %s", r.Status, r.Body)
	}
	s.addWebhook(tok, "https://hooks.test/a")
	if r := s.do("GET", "/v1/dev/notifications", "", nil); r.Status != http.StatusNotFound {
		t.Fatalf("dev notifications outside development: %d", r.Status)
	}
}

// The "done when": a citizen registers a webhook, shares a
// document, a second citizen redeems it: the webhook receives one signed
// notification naming the viewer, in the first citizen's language, with no
// document field and no code.
func TestNotifications_ViewReachesTheOwnersWebhookSignedInTheirLanguage(t *testing.T) {
	dev := &notify.DevOutbox{}
	s := newTestServerWith(t, withDevNotifications(dev))
	owner := s.signIn(demoAllTypes).Access
	viewer := s.signIn(demoRevoked).Access
	if r := s.do("PUT", "/v1/me/preferences", owner, map[string]string{"language": "ru"}); r.Status != 200 {
		t.Fatalf("language: %d %s", r.Status, r.Body)
	}
	rc, url := newReceiver(t)
	devID, secret := s.addWebhook(owner, url)

	card := s.idCardOf(owner)
	sh := s.share(owner, card.ID, nil)
	if r := s.redeemAs(viewer, map[string]string{"token": sh.Token}); r.Status != http.StatusOK {
		t.Fatalf("redeem: %d %s", r.Status, r.Body)
	}
	r := s.do("GET", "/v1/dev/notifications", "", nil) // flushes
	if r.Status != 200 {
		t.Fatalf("dev notifications: %d %s", r.Status, r.Body)
	}
	pushes := rc.pushes()
	if len(pushes) != 1 {
		t.Fatalf("webhook got %d pushes, want 1", len(pushes))
	}
	p := pushes[0]
	if !notify.Verify(secret, p.Header.Get("X-Qujat-Signature"), p.Body, s.Clock.Now(), 5*time.Minute) {
		t.Fatalf("signature does not verify: %q", p.Header.Get("X-Qujat-Signature"))
	}
	if notify.Verify("whsec_other", p.Header.Get("X-Qujat-Signature"), p.Body, s.Clock.Now(), 5*time.Minute) {
		t.Fatal("verifies under another secret")
	}
	var body map[string]any
	if err := json.Unmarshal(p.Body, &body); err != nil || len(body) != 5 {
		t.Fatalf("body: %s", p.Body)
	}
	views := s.views(owner, "owner")
	viewName := s.citizen(demoRevoked).Name
	if body["event_id"] != views[0]["id"] || p.Header.Get("X-Qujat-Event-Id") != body["event_id"] || body["kind"] != "view" || body["language"] != "ru" {
		t.Fatalf("body %s, view %v", p.Body, views[0])
	}
	text, _ := body["text"].(string)
	if want := viewName + " просмотрел(а) ваш документ: Удостоверение личности."; text != want {
		t.Fatalf("text %q, want %q", text, want)
	}
	assertNoLeak(t, text, card, sh)
	// The development endpoint shows the same delivery.
	var dn struct {
		Notifications []struct {
			DeviceID string `json:"device_id"`
			EventID  string `json:"event_id"`
			Kind     string
			Text     string
		}
	}
	json.Unmarshal(r.Body, &dn)
	if len(dn.Notifications) != 1 || dn.Notifications[0].DeviceID != devID || dn.Notifications[0].Text != text {
		t.Fatalf("dev notifications: %s", r.Body)
	}
	// No more on later passes.
	s.do("GET", "/v1/dev/notifications", "", nil)
	if n := len(rc.pushes()); n != 1 {
		t.Fatalf("webhook got %d pushes after another flush", n)
	}

	// Views turned off: the next view is not told.
	r = s.do("PUT", "/v1/me/preferences", owner, map[string]any{"notifications": map[string]bool{"views": false}})
	if r.Status != 200 || r.JSON(t)["language"] != "ru" {
		t.Fatalf("turn views off: %d %s", r.Status, r.Body)
	}
	if n := r.JSON(t)["notifications"].(map[string]any); n["views"] != false || n["consents"] != true {
		t.Fatalf("choices: %s", r.Body)
	}
	sh = s.share(owner, card.ID, nil)
	if r := s.redeemAs(viewer, map[string]string{"token": sh.Token}); r.Status != http.StatusOK {
		t.Fatalf("redeem: %d %s", r.Status, r.Body)
	}
	s.do("GET", "/v1/dev/notifications", "", nil)
	if n := len(rc.pushes()); n != 1 {
		t.Fatalf("a view was told with views off: %d pushes", n)
	}
}

// assertNoLeak fails if text holds a field of the document, its number or
// a share's secrets.
func assertNoLeak(t *testing.T, text string, d wallet.Document, sh opened) {
	t.Helper()
	for k, v := range d.Fields {
		if len(v) >= 4 && strings.Contains(text, v) {
			t.Errorf("text %q holds the document's %s", text, k)
		}
	}
	for _, secret := range []string{d.Number, sh.Token, sh.ShortCode, string(d.SubjectIIN)} {
		if secret != "" && strings.Contains(text, secret) {
			t.Errorf("text %q holds %q", text, secret)
		}
	}
}

func TestPreferences_NotificationChoices(t *testing.T) {
	s := newTestServer(t)
	tok := s.signIn(demoAllTypes).Access
	r := s.do("GET", "/v1/me/preferences", tok, nil)
	want := `{"language":"kk","notifications":{"views":true,"consents":true,"duplicates":true,"cases":true}}` + "\n"
	if r.Status != 200 || string(r.Body) != want {
		t.Fatalf("defaults: %s", r.Body)
	}
	r = s.do("PUT", "/v1/me/preferences", tok, map[string]any{"notifications": map[string]bool{"consents": false, "cases": false}})
	want = `{"language":"kk","notifications":{"views":true,"consents":false,"duplicates":true,"cases":false}}` + "\n"
	if r.Status != 200 || string(r.Body) != want {
		t.Fatalf("put: %s", r.Body)
	}
	r = s.do("PUT", "/v1/me/preferences", tok, map[string]any{"language": "en"})
	want = `{"language":"en","notifications":{"views":true,"consents":false,"duplicates":true,"cases":false}}` + "\n"
	if r.Status != 200 || string(r.Body) != want {
		t.Fatalf("language only keeps the choices: %s", r.Body)
	}
	for name, body := range map[string]any{
		"voided codes cannot be turned off": map[string]any{"notifications": map[string]bool{"codes_voided": false}},
		"not a boolean":                     []byte(`{"notifications": {"views": "no"}}`),
		"not an object":                     []byte(`{"notifications": true}`),
		"nothing":                           map[string]any{},
	} {
		if r := s.do("PUT", "/v1/me/preferences", tok, body); r.Status != 400 || r.ErrorCode(t) != "invalid_request" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := s.do("GET", "/v1/me/preferences", tok, nil); string(r.Body) != want {
		t.Fatalf("a bad request changed something: %s", r.Body)
	}
}

// A service stopped mid-delivery and a new one built on the same store
// send each notification to each device once.
func TestNotifications_ARestartedServiceSendsEachOnce(t *testing.T) {
	dev := &notify.DevOutbox{}
	var parts service.Parts
	var first *service.Service
	s := newTestServerWith(t, func(p *service.Parts) {
		p.DevNotifications = dev
		p.NotifyPoll = time.Hour // passes are the test's
		p.NotifyBatch = 1
		parts = *p
		parts.NotifyBatch = 0
	}, func(svc *service.Service) { first = svc })
	owner := s.signIn(demoAllTypes).Access
	viewer := s.signIn(demoRevoked).Access
	rc, url := newReceiver(t)
	s.addWebhook(owner, url+"/phone")
	s.addWebhook(owner, url+"/tablet")
	card := s.idCardOf(owner)
	for range 3 {
		sh := s.share(owner, card.ID, nil)
		if r := s.redeemAs(viewer, map[string]string{"token": sh.Token}); r.Status != http.StatusOK {
			t.Fatalf("redeem: %d %s", r.Status, r.Body)
		}
	}
	// The first service fans out two rows (a share, which tells nobody,
	// and its view) and delivers one notification, then stops.
	for range 2 {
		if _, err := first.Notifications.Pass(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	delivered := len(rc.pushes())
	if delivered == 0 || delivered >= 6 {
		t.Fatalf("the first service delivered %d of 6", delivered)
	}
	second, err := service.Build(parts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	if err := second.Notifications.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := second.Notifications.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, p := range rc.pushes() {
		var b notify.Push
		json.Unmarshal(p.Body, &b)
		seen[b.EventID+" "+p.Header.Get("X-Qujat-Event-Id")]++
	}
	views := s.views(owner, "owner")
	if len(views) != 3 || len(seen) != 3 {
		t.Fatalf("views %d, events pushed %v", len(views), seen)
	}
	for _, v := range views {
		id := v["id"].(string)
		if seen[id+" "+id] != 2 {
			t.Errorf("view %s pushed %d times, want once to each of 2 devices", id, seen[id+" "+id])
		}
	}
}
