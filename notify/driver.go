package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Push is what a device is sent: no document content, no secret.
type Push struct {
	EventID  string    `json:"event_id"`
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
	Language string    `json:"language"`
	Text     string    `json:"text"`
}

// Driver delivers a push to a device. secret is the device's signing
// secret (webhooks; "" otherwise). It returns ErrDeviceGone if the
// provider says the device no longer exists, EUNAVAILABLE if the push
// could not be handed over (it is retried).
type Driver interface {
	Deliver(ctx context.Context, d wallet.Device, secret string, p Push) error
}

// ErrDeviceGone is a driver's answer for a device the provider reports
// gone: the device is removed.
var ErrDeviceGone = errors.New("notify: the device is gone")

// Delivered is one push as the development outbox keeps it.
type Delivered struct {
	DeviceID string    `json:"device_id"`
	EventID  string    `json:"event_id"`
	Kind     string    `json:"kind"`
	Text     string    `json:"text"`
	At       time.Time `json:"at"`
}

// DevOutbox is the development driver: it keeps what it is given, newest
// first, readable at /v1/dev/notifications, and sends nothing. Recording
// makes it keep what another driver delivered.
type DevOutbox struct {
	// Max bounds what is kept (1000 if zero).
	Max int

	mu           sync.Mutex
	kept         []Delivered
	deliverFirst func(context.Context) error
}

// DeliverFirst makes Delivered first deliver what is due (the worker's
// Flush), so that a read shows what a request just caused.
func (o *DevOutbox) DeliverFirst(deliver func(context.Context) error) { o.deliverFirst = deliver }

// Deliver keeps p.
func (o *DevOutbox) Deliver(_ context.Context, d wallet.Device, _ string, p Push) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	max := o.Max
	if max <= 0 {
		max = 1000
	}
	o.kept = append([]Delivered{{DeviceID: d.ID, EventID: p.EventID, Kind: p.Kind, Text: p.Text, At: p.At}}, o.kept...)
	if len(o.kept) > max {
		o.kept = o.kept[:max]
	}
	return nil
}

// Recording returns a driver that delivers through next and keeps in o
// what next delivered.
func (o *DevOutbox) Recording(next Driver) Driver { return recording{next, o} }

type recording struct {
	next Driver
	o    *DevOutbox
}

func (r recording) Deliver(ctx context.Context, d wallet.Device, secret string, p Push) error {
	if err := r.next.Deliver(ctx, d, secret, p); err != nil {
		return err
	}
	return r.o.Deliver(ctx, d, secret, p)
}

// Delivered returns what was kept, newest first.
func (o *DevOutbox) Delivered() []Delivered {
	if o.deliverFirst != nil {
		// What could not be delivered now shows later; a read still
		// answers with what there is.
		_ = o.deliverFirst(context.Background())
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Delivered(nil), o.kept...)
}

// Webhook posts pushes to webhook devices as JSON, signed:
//
//	X-Qujat-Event-Id: <event_id>
//	X-Qujat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the device's secret>
//
// A 2xx answer is a delivery; 410 Gone removes the device; anything else
// (or no answer within Timeout) is retried. Redirects are not followed.
type Webhook struct {
	// Client sends the requests; nil is a client with Timeout that refuses
	// redirects and, unless AllowPrivate, connections to loopback, private
	// and link-local addresses (a webhook URL is the citizen's, not a way
	// into the service's network).
	Client       *http.Client
	Timeout      time.Duration
	AllowPrivate bool
	Now          func() time.Time

	once   sync.Once
	client *http.Client
}

// Deliver posts p to d.URL.
func (w *Webhook) Deliver(ctx context.Context, d wallet.Device, secret string, p Push) error {
	if d.URL == "" || secret == "" {
		return wallet.Errorf(wallet.EINVALID, "webhook: the device has no url or secret")
	}
	body, err := json.Marshal(p)
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "webhook: encode")
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return wallet.Wrap(wallet.EINVALID, err, "webhook: bad url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Qujat-Webhook/1")
	req.Header.Set("X-Qujat-Event-Id", p.EventID)
	req.Header.Set("X-Qujat-Signature", Sign(secret, now().Unix(), body))
	resp, err := w.httpClient().Do(req)
	if err != nil {
		return wallet.Wrap(wallet.EUNAVAILABLE, err, "webhook: no answer")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusGone:
		return ErrDeviceGone
	}
	return wallet.Errorf(wallet.EUNAVAILABLE, "webhook answered %d", resp.StatusCode)
}

func (w *Webhook) httpClient() *http.Client {
	if w.Client != nil {
		return w.Client
	}
	w.once.Do(func() {
		timeout := w.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		dialer := &net.Dialer{Timeout: timeout}
		if !w.AllowPrivate {
			dialer.Control = refusePrivate
		}
		tr := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: timeout,
			ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}
		w.client = &http.Client{Transport: tr, Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	})
	return w.client
}

// refusePrivate refuses connections to addresses inside the service's
// network (checked on the resolved address, so a name cannot get round it).
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("webhook: address %s is not public", host)
	}
	return nil
}

// Sign returns the X-Qujat-Signature header of body sent at unix time t.
func Sign(secret string, t int64, body []byte) string {
	ts := strconv.FormatInt(t, 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a X-Qujat-Signature header against body and secret, and
// that its time is within tolerance of now: what a receiver does.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) bool {
	var t int64
	var sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			t, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			sig = v
		}
	}
	if t == 0 || sig == "" {
		return false
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return false
	}
	want := Sign(secret, t, body)
	return hmac.Equal([]byte(want), []byte("t="+strconv.FormatInt(t, 10)+",v1="+sig))
}
