package notify

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qujat/qujat/wallet"
)

// FCMKey is the part of a Google service account's JSON key the FCM
// driver uses.
type FCMKey struct {
	ProjectID   string `json:"project_id"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// ParseFCMKey reads a service account's JSON key. EINVALID if it lacks
// the project, the account, an RSA private key or the token URI.
func ParseFCMKey(b []byte) (FCMKey, *rsa.PrivateKey, error) {
	var k FCMKey
	if err := json.Unmarshal(b, &k); err != nil {
		return FCMKey{}, nil, wallet.Wrap(wallet.EINVALID, err, "fcm: the key is not JSON")
	}
	if k.ProjectID == "" || k.ClientEmail == "" || k.TokenURI == "" {
		return FCMKey{}, nil, wallet.Errorf(wallet.EINVALID, "fcm: the key needs project_id, client_email and token_uri")
	}
	block, _ := pem.Decode([]byte(k.PrivateKey))
	if block == nil {
		return FCMKey{}, nil, wallet.Errorf(wallet.EINVALID, "fcm: private_key is not PEM")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return FCMKey{}, nil, wallet.Wrap(wallet.EINVALID, err, "fcm: private_key is not PKCS#8")
	}
	rk, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return FCMKey{}, nil, wallet.Errorf(wallet.EINVALID, "fcm: private_key is not RSA")
	}
	return k, rk, nil
}

// FCM delivers pushes to FCM registration tokens through the FCM HTTP v1
// API (projects/{id}/messages:send), authorised by an OAuth2 access token
// obtained with the service account's key (a JWT bearer grant, RFC 7523).
// A token FCM reports UNREGISTERED is ErrDeviceGone (the device is
// removed); 429 and 5xx answers are retried.
type FCM struct {
	Key        FCMKey
	PrivateKey *rsa.PrivateKey
	// Endpoint is the FCM API's base URL (https://fcm.googleapis.com if
	// empty): tests point it at a local server.
	Endpoint string
	Client   *http.Client
	Now      func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

// Deliver sends p to the device's registration token.
func (f *FCM) Deliver(ctx context.Context, d wallet.Device, _ string, p Push) error {
	if d.Token == "" {
		return wallet.Errorf(wallet.EINVALID, "fcm: the device has no token")
	}
	access, err := f.accessToken(ctx)
	if err != nil {
		return err
	}
	msg := map[string]any{"message": map[string]any{
		"token":        d.Token,
		"notification": map[string]string{"title": "Qujat", "body": p.Text},
		"data": map[string]string{"event_id": p.EventID, "kind": p.Kind, "at": p.At.UTC().Format(time.RFC3339Nano),
			"language": p.Language},
	}}
	body, err := json.Marshal(msg)
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "fcm: encode")
	}
	endpoint := f.Endpoint
	if endpoint == "" {
		endpoint = "https://fcm.googleapis.com"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimSuffix(endpoint, "/")+"/v1/projects/"+url.PathEscape(f.Key.ProjectID)+"/messages:send", bytes.NewReader(body))
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "fcm: request")
	}
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client().Do(req)
	if err != nil {
		return wallet.Wrap(wallet.EUNAVAILABLE, err, "fcm: no answer")
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Status  string `json:"status"`
			Details []struct {
				Type      string `json:"@type"`
				ErrorCode string `json:"errorCode"`
			} `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	code := e.Error.Status
	for _, det := range e.Error.Details {
		if det.ErrorCode != "" {
			code = det.ErrorCode
		}
	}
	switch {
	case code == "UNREGISTERED":
		return ErrDeviceGone
	case resp.StatusCode == http.StatusUnauthorized:
		f.mu.Lock()
		f.token = "" // fetch a new one for the retry
		f.mu.Unlock()
	}
	return wallet.Errorf(wallet.EUNAVAILABLE, "fcm answered %d %s", resp.StatusCode, code)
}

// accessToken returns a live OAuth2 access token, asking for a new one a
// minute before the last expires.
func (f *FCM) accessToken(ctx context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if f.token != "" && now.Before(f.expires.Add(-time.Minute)) {
		return f.token, nil
	}
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": f.Key.ClientEmail, "scope": fcmScope, "aud": f.Key.TokenURI,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString(f.PrivateKey)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "fcm: sign the grant")
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.Key.TokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "fcm: token request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.client().Do(req)
	if err != nil {
		return "", wallet.Wrap(wallet.EUNAVAILABLE, err, "fcm: no token")
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&t) != nil || t.AccessToken == "" {
		return "", wallet.Errorf(wallet.EUNAVAILABLE, "fcm: the token endpoint answered %d", resp.StatusCode)
	}
	f.token, f.expires = t.AccessToken, now.Add(time.Duration(t.ExpiresIn)*time.Second)
	return f.token, nil
}

var fcmClient = &http.Client{Timeout: 10 * time.Second}

func (f *FCM) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return fcmClient
}

func (f *FCM) now() time.Time {
	if f.Now == nil {
		return time.Now()
	}
	return f.Now()
}
