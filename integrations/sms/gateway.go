package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/qujat/qujat/wallet"
)

// DefaultGatewayTimeout bounds one call to the SMS gateway.
const DefaultGatewayTimeout = 10 * time.Second

// HTTPGateway is the production SMS driver. It POSTs {"to", "text"} as JSON
// to URL with "Authorization: Bearer <Secret>" and takes any 2xx answer as
// accepted. Zero fields have defaults: Client a client that does not follow
// redirects (a redirected POST would turn into a GET and lose the message),
// Timeout DefaultGatewayTimeout. It is safe for concurrent use.
type HTTPGateway struct {
	URL     string
	Secret  string
	Client  *http.Client
	Timeout time.Duration
}

// NewHTTPGateway returns a gateway driver posting to url with the bearer
// secret, using client (the default described on HTTPGateway if nil).
func NewHTTPGateway(url, secret string, client *http.Client) *HTTPGateway {
	return &HTTPGateway{URL: url, Secret: secret, Client: client, Timeout: DefaultGatewayTimeout}
}

var defaultClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type gatewayRequest struct {
	ID   string `json:"id,omitempty"`
	To   string `json:"to"`
	Text string `json:"text"`
}

// Send hands the message to the gateway. It returns EUNAVAILABLE if the
// gateway cannot be reached, does not answer within the timeout or answers
// anything but 2xx. Errors never contain the text (it carries a code).
func (g *HTTPGateway) Send(ctx context.Context, to, text string) error {
	return g.SendID(ctx, "", to, text)
}

// SendID is Send with the message's id, sent as "id" and as the
// Idempotency-Key header, so that the gateway can drop a second delivery
// of one message (the outbox retries when an answer is lost).
func (g *HTTPGateway) SendID(ctx context.Context, id, to, text string) error {
	body, err := json.Marshal(gatewayRequest{ID: id, To: to, Text: text})
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "encode SMS")
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultGatewayTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL, bytes.NewReader(body))
	if err != nil {
		return wallet.Wrap(wallet.EUNAVAILABLE, err, "SMS gateway is misconfigured")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.Secret)
	if id != "" {
		req.Header.Set("Idempotency-Key", id)
	}
	client := g.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return wallet.Wrap(wallet.EUNAVAILABLE, err, "SMS gateway unreachable")
	}
	defer resp.Body.Close()
	// Read a little so the connection can be reused; the answer is not needed.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return wallet.Wrap(wallet.EUNAVAILABLE, fmt.Errorf("SMS gateway answered %s", resp.Status), "SMS gateway refused the message")
	}
	return nil
}
