package notify_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qujat/qujat/notify"
	"github.com/qujat/qujat/wallet"
)

// fakeFCM speaks the OAuth2 token endpoint's and the FCM HTTP v1 API's
// request and error shapes.
type fakeFCM struct {
	t      *testing.T
	pub    *rsa.PublicKey
	mu     sync.Mutex
	tokens int
	sent   []map[string]any
}

func (f *fakeFCM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/token":
		r.ParseForm()
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), claims, func(*jwt.Token) (any, error) { return f.pub, nil },
			jwt.WithValidMethods([]string{"RS256"}))
		if err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
			claims["iss"] != "qujat@p1.iam.gserviceaccount.com" || claims["scope"] != "https://www.googleapis.com/auth/firebase.messaging" {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		f.tokens++
		json.NewEncoder(w).Encode(map[string]any{"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"})
	case "/v1/projects/p1/messages:send":
		if r.Header.Get("Authorization") != "Bearer ya29.test" {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
			return
		}
		var body struct {
			Message map[string]any `json:"message"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		switch body.Message["token"] {
		case "gone-token":
			w.WriteHeader(404)
			w.Write([]byte(`{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`))
		case "busy-token":
			w.WriteHeader(503)
			w.Write([]byte(`{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNAVAILABLE"}]}}`))
		default:
			f.sent = append(f.sent, body.Message)
			w.Write([]byte(`{"name":"projects/p1/messages/0:1"}`))
		}
	default:
		w.WriteHeader(404)
	}
}

func newFakeFCM(t *testing.T) (*notify.FCM, *fakeFCM) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	fake := &fakeFCM{t: t, pub: &k.PublicKey}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	keyJSON, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p1", "client_email": "qujat@p1.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": srv.URL + "/token",
	})
	key, priv, err := notify.ParseFCMKey(keyJSON)
	if err != nil {
		t.Fatal(err)
	}
	return &notify.FCM{Key: key, PrivateKey: priv, Endpoint: srv.URL}, fake
}

func TestFCM_SendsWithAnOAuthTokenAndReadsItsErrors(t *testing.T) {
	fcm, fake := newFakeFCM(t)
	ctx := context.Background()
	p := notify.Push{EventID: "vw_1", Kind: "view", At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Language: "en", Text: "Someone viewed your document: Passport."}
	for range 2 {
		if err := fcm.Deliver(ctx, wallet.Device{ID: "dev_1", Token: "good-token"}, "", p); err != nil {
			t.Fatal(err)
		}
	}
	if fake.tokens != 1 || len(fake.sent) != 2 {
		t.Fatalf("tokens asked %d, sent %d", fake.tokens, len(fake.sent))
	}
	m := fake.sent[0]
	data, _ := m["data"].(map[string]any)
	note, _ := m["notification"].(map[string]any)
	if m["token"] != "good-token" || data["event_id"] != "vw_1" || data["kind"] != "view" || note["body"] != p.Text {
		t.Fatalf("message: %v", m)
	}
	if err := fcm.Deliver(ctx, wallet.Device{ID: "dev_2", Token: "gone-token"}, "", p); err != notify.ErrDeviceGone {
		t.Fatalf("UNREGISTERED: %v", err)
	}
	if err := fcm.Deliver(ctx, wallet.Device{ID: "dev_3", Token: "busy-token"}, "", p); wallet.ErrorCode(err) != wallet.EUNAVAILABLE || !strings.Contains(wallet.ErrorMessage(err), "503") {
		t.Fatalf("UNAVAILABLE: %v", err)
	}
	if _, _, err := notify.ParseFCMKey([]byte(`{"project_id":"p1"}`)); wallet.ErrorCode(err) != wallet.EINVALID {
		t.Fatalf("a key without its parts: %v", err)
	}
}

func TestWorker_AnFCMTokenReportedUnregisteredIsRemoved(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fcm, fake := newFakeFCM(t)
		e.devices.Platforms = []string{wallet.PlatformWebhook, wallet.PlatformFCM}
		good, err := e.devices.Add(ctx, alice, notify.NewDevice{Platform: wallet.PlatformFCM, Token: "good-token"})
		if err != nil {
			t.Fatal(err)
		}
		gone, err := e.devices.Add(ctx, alice, notify.NewDevice{Platform: wallet.PlatformFCM, Token: "gone-token"})
		if err != nil {
			t.Fatal(err)
		}
		e.commit(wallet.Change{Events: []wallet.Event{e.event(wallet.EventCodesVoided, alice, "system", "sharing", string(alice), nil)}})
		w := e.worker(0)
		w.Drivers[wallet.PlatformFCM] = fcm
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if len(fake.sent) != 1 || fake.sent[0]["token"] != "good-token" {
			t.Fatalf("sent: %v", fake.sent)
		}
		if _, err := e.store.Device(ctx, gone.Device.ID); wallet.ErrorCode(err) != wallet.ENOTFOUND {
			t.Fatalf("an unregistered token's device: %v", err)
		}
		if d, err := e.store.Device(ctx, good.Device.ID); err != nil || d.Status != wallet.DeviceActive {
			t.Fatalf("the good device: %+v %v", d, err)
		}
	})
}
