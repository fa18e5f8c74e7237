package sms_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/wallet"
)

func TestHTTPGateway_PostsJSONWithBearerSecret(t *testing.T) {
	type got struct {
		method, auth, ctype string
		body                map[string]any
	}
	seen := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var g got
		g.method, g.auth, g.ctype = r.Method, r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &g.body); err != nil {
			t.Errorf("body %q: %v", raw, err)
		}
		seen <- g
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	gw := sms.NewHTTPGateway(srv.URL+"/send", "s3cret", nil)
	if err := gw.Send(context.Background(), "+77011234567", "Qujat: код 123456"); err != nil {
		t.Fatal(err)
	}
	g := <-seen
	if g.method != http.MethodPost || g.auth != "Bearer s3cret" || g.ctype != "application/json" {
		t.Fatalf("request %s, Authorization %q, Content-Type %q", g.method, g.auth, g.ctype)
	}
	if len(g.body) != 2 || g.body["to"] != "+77011234567" || g.body["text"] != "Qujat: код 123456" {
		t.Fatalf("body %v", g.body)
	}
}

func TestHTTPGateway_Non2xxIsUnavailable(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadRequest, http.StatusUnauthorized, http.StatusFound} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if status == http.StatusFound {
				http.Redirect(w, r, "/elsewhere", status)
				return
			}
			http.Error(w, "no", status)
		}))
		err := sms.NewHTTPGateway(srv.URL, "s", nil).Send(context.Background(), "+77011234567", "code 654321")
		srv.Close()
		if wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
			t.Fatalf("status %d: err = %v, want unavailable", status, err)
		}
		if strings.Contains(err.Error(), "654321") {
			t.Fatalf("the error shows the message text: %v", err)
		}
	}
}

func TestHTTPGateway_SlowGatewayTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	gw := sms.NewHTTPGateway(srv.URL, "s", nil)
	gw.Timeout = 50 * time.Millisecond
	start := time.Now()
	err := gw.Send(context.Background(), "+77011234567", "x")
	if wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestHTTPGateway_UnreachableIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := sms.NewHTTPGateway(url, "s", nil).Send(context.Background(), "+77011234567", "x")
	if wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
		t.Fatalf("err = %v", err)
	}
	err = sms.NewHTTPGateway("::not a url", "s", nil).Send(context.Background(), "+77011234567", "x")
	if wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
		t.Fatalf("bad URL: err = %v", err)
	}
}
