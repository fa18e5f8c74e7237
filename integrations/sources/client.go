package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Client defaults.
const (
	DefaultTimeout = 2 * time.Second        // per attempt
	DefaultRetries = 2                      // attempts after the first
	DefaultBackoff = 100 * time.Millisecond // before the first retry; doubles
	maxBackoff     = 2 * time.Second
	maxBodyBytes   = 4 << 20
)

// ClientConfig configures a Client or a DirectoryClient.
type ClientConfig struct {
	// BaseURL is the registry's base URL (http or https), e.g.
	// "http://127.0.0.1:9090"; the protocol's paths are appended to it.
	BaseURL string
	// Source is the source's name ("transport", ...). Required by
	// NewClient; ignored by NewDirectoryClient.
	Source string
	// Secret is the shared HMAC secret that signs requests. Required.
	Secret string
	// Timeout bounds each attempt (default DefaultTimeout).
	Timeout time.Duration
	// Retries is how many times a failed call is tried again: 0 means
	// DefaultRetries, a negative number none. Only network errors, timeouts
	// and 5xx answers are retried.
	Retries int
	// Backoff is the delay before the first retry (default DefaultBackoff);
	// it doubles on each retry, up to 2s, with random jitter.
	Backoff time.Duration
	// HTTPClient makes the calls (default: a client of its own).
	HTTPClient *http.Client
	// Now dates the signatures (default time.Now).
	Now func() time.Time
	// Random returns a number in [0, 1) for the jitter (default
	// math/rand/v2's Float64).
	Random func() float64
}

// caller makes signed GET calls with timeouts and retries.
type caller struct {
	cfg  ClientConfig
	base *url.URL
	name string // for messages: the source, or "population directory"
}

func newCaller(cfg ClientConfig, name string) (*caller, error) {
	var problems []string
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		problems = append(problems, fmt.Sprintf("base url %q is not an http(s) url", cfg.BaseURL))
	}
	if cfg.Secret == "" {
		problems = append(problems, "no secret")
	}
	if cfg.Timeout < 0 || cfg.Backoff < 0 {
		problems = append(problems, "negative timeout or backoff")
	}
	if len(problems) > 0 {
		return nil, wallet.Errorf(wallet.EINVALID, "%s client: %s", name, strings.Join(problems, "; "))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Float64
	}
	return &caller{cfg: cfg, base: u, name: name}, nil
}

// answer is one HTTP answer, body read.
type answer struct {
	status      int
	contentType string
	body        []byte
}

// get calls GET base+path, retrying network errors, timeouts and 5xx
// answers. Any answer below 500 is returned as it is; EUNAVAILABLE when no
// attempt got one.
func (c *caller) get(ctx context.Context, path string) (answer, error) {
	var last error
	for attempt := 0; ; attempt++ {
		a, err := c.once(ctx, path)
		if err == nil && a.status < 500 {
			return a, nil
		}
		if err == nil {
			err = fmt.Errorf("answered %d", a.status)
		}
		last = err
		if attempt >= c.cfg.Retries || ctx.Err() != nil {
			break
		}
		if !sleep(ctx, c.backoff(attempt)) {
			last = ctx.Err()
			break
		}
	}
	return answer{}, wallet.Wrap(wallet.EUNAVAILABLE, last, c.name+" registry is unavailable")
}

func (c *caller) once(ctx context.Context, path string) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Accept", "application/json")
	SignRequest(req, c.cfg.Secret, c.cfg.Now())
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return answer{}, err
	}
	if len(body) > maxBodyBytes {
		return answer{}, errors.New("answer is too large")
	}
	return answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body}, nil
}

// backoff returns the delay before retry attempt+1: the base doubled per
// attempt, capped, of which a random half is jitter (so that clients that
// failed together do not retry together).
func (c *caller) backoff(attempt int) time.Duration {
	d := c.cfg.Backoff << attempt
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	return d/2 + time.Duration(c.cfg.Random()*float64(d/2))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// decode checks a JSON answer and decodes it into v.
func (c *caller) decode(a answer, v any) error {
	if mt, _, err := mime.ParseMediaType(a.contentType); err != nil || mt != "application/json" {
		return c.garbage(fmt.Errorf("content type %q", a.contentType))
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return c.garbage(err)
	}
	return nil
}

func (c *caller) garbage(err error) error {
	return wallet.Wrap(wallet.EUNAVAILABLE, err, c.name+" registry answered garbage")
}

// protocolNotFound reports whether a is the protocol's 404 not_found error
// (and not, say, the 404 page of something else at that address).
func (c *caller) protocolNotFound(a answer) bool {
	var e errorResponse
	return a.status == http.StatusNotFound && c.decode(a, &e) == nil && e.Error.Code == wallet.ENOTFOUND
}

// unexpected turns an answer that is neither success nor not found into an
// error.
func (c *caller) unexpected(a answer) error {
	var e errorResponse
	detail := fmt.Errorf("answered %d", a.status)
	if c.decode(a, &e) == nil && e.Error.Code != "" {
		detail = fmt.Errorf("answered %d %s: %s", a.status, e.Error.Code, e.Error.Message)
	}
	switch a.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return wallet.Wrap(wallet.EUNAVAILABLE, detail, c.name+" registry refused our credentials")
	}
	return wallet.Wrap(wallet.EUNAVAILABLE, detail, c.name+" registry refused the request")
}

// Client is a wallet.Source that calls one source registry over HTTP.
type Client struct {
	c *caller
}

var _ wallet.Source = (*Client)(nil)

var sourceName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// NewClient returns a client of the source cfg.Source at cfg.BaseURL.
// EINVALID if the configuration is incomplete or malformed.
func NewClient(cfg ClientConfig) (*Client, error) {
	if !sourceName.MatchString(cfg.Source) {
		return nil, wallet.Errorf(wallet.EINVALID, "source client: source name %q is not lower-case letters, digits, - and _", cfg.Source)
	}
	c, err := newCaller(cfg, cfg.Source)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Name returns the source's name.
func (cl *Client) Name() string { return cl.c.cfg.Source }

// Records returns the records the registry holds for iin; none for a subject
// it does not know. EINVALID if iin is malformed; EUNAVAILABLE if the
// registry cannot be reached, refuses the request or answers garbage
// (malformed JSON, records of an unknown type, of another subject or
// another source).
func (cl *Client) Records(ctx context.Context, iin wallet.IIN) ([]wallet.Record, error) {
	if _, err := wallet.ParseIIN(string(iin)); err != nil {
		return nil, err
	}
	a, err := cl.c.get(ctx, "/v1/sources/"+url.PathEscape(cl.c.cfg.Source)+"/subjects/"+string(iin)+"/records")
	if err != nil {
		return nil, err
	}
	switch {
	case a.status == http.StatusOK:
	case cl.c.protocolNotFound(a):
		return []wallet.Record{}, nil
	default:
		return nil, cl.c.unexpected(a)
	}
	var resp struct {
		Records *[]wallet.Record `json:"records"`
	}
	if err := cl.c.decode(a, &resp); err != nil {
		return nil, err
	}
	if resp.Records == nil {
		return nil, cl.c.garbage(errors.New(`no "records"`))
	}
	rs := *resp.Records
	seen := make(map[string]bool)
	for i := range rs {
		r := &rs[i]
		if err := checkRecord(*r); err != nil {
			return nil, cl.c.garbage(fmt.Errorf("record %d: %w", i, err))
		}
		if r.Subject != iin {
			return nil, cl.c.garbage(fmt.Errorf("record %d is of another subject", i))
		}
		if r.Source != cl.c.cfg.Source {
			return nil, cl.c.garbage(fmt.Errorf("record %d comes from source %q", i, r.Source))
		}
		key := string(r.Type) + "\x00" + r.Number
		if seen[key] {
			return nil, cl.c.garbage(fmt.Errorf("record %s %s is listed twice", r.Type, r.Number))
		}
		seen[key] = true
		if r.Fields == nil {
			r.Fields = map[string]string{}
		}
	}
	if rs == nil {
		rs = []wallet.Record{}
	}
	return rs, nil
}

// DirectoryClient is a wallet.Directory that calls the population registry
// over HTTP.
type DirectoryClient struct {
	c *caller
}

var _ wallet.Directory = (*DirectoryClient)(nil)

// NewDirectoryClient returns a client of the population registry's citizen
// directory at cfg.BaseURL (cfg.Source is ignored). EINVALID if the
// configuration is incomplete or malformed.
func NewDirectoryClient(cfg ClientConfig) (*DirectoryClient, error) {
	cfg.Source = Population
	c, err := newCaller(cfg, "population directory")
	if err != nil {
		return nil, err
	}
	return &DirectoryClient{c: c}, nil
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// Citizen returns the citizen with that IIN. EINVALID if iin is malformed,
// ENOTFOUND if the registry does not know it, EUNAVAILABLE if it cannot be
// reached, refuses the request or answers garbage.
func (dc *DirectoryClient) Citizen(ctx context.Context, iin wallet.IIN) (wallet.Citizen, error) {
	if _, err := wallet.ParseIIN(string(iin)); err != nil {
		return wallet.Citizen{}, err
	}
	a, err := dc.c.get(ctx, "/v1/citizens/"+string(iin))
	if err != nil {
		return wallet.Citizen{}, err
	}
	switch {
	case a.status == http.StatusOK:
	case dc.c.protocolNotFound(a):
		return wallet.Citizen{}, wallet.Errorf(wallet.ENOTFOUND, "no citizen with that iin")
	default:
		return wallet.Citizen{}, dc.c.unexpected(a)
	}
	var c wallet.Citizen
	if err := dc.c.decode(a, &c); err != nil {
		return wallet.Citizen{}, err
	}
	switch {
	case c.IIN != iin:
		return wallet.Citizen{}, dc.c.garbage(errors.New("citizen of another iin"))
	case strings.TrimSpace(c.Name) == "":
		return wallet.Citizen{}, dc.c.garbage(errors.New("citizen without a name"))
	case c.Phone != "" && !e164.MatchString(c.Phone):
		return wallet.Citizen{}, dc.c.garbage(errors.New("phone is not E.164"))
	case !sameDay(c.BirthDate, iin.BirthDate()):
		return wallet.Citizen{}, dc.c.garbage(errors.New("birth date differs from the iin's"))
	}
	c.BirthDate = iin.BirthDate()
	wards, err := dc.checkIINs(c.GuardianOf, iin)
	if err != nil {
		return wallet.Citizen{}, err
	}
	c.GuardianOf = wards
	return c, nil
}

// Guardians returns the legal representatives of iin as the registry lists
// them. EINVALID if iin is malformed, ENOTFOUND if the registry does not know
// it, EUNAVAILABLE if it cannot be reached, refuses the request or answers
// garbage.
func (dc *DirectoryClient) Guardians(ctx context.Context, iin wallet.IIN) ([]wallet.IIN, error) {
	if _, err := wallet.ParseIIN(string(iin)); err != nil {
		return nil, err
	}
	a, err := dc.c.get(ctx, "/v1/citizens/"+string(iin)+"/guardians")
	if err != nil {
		return nil, err
	}
	switch {
	case a.status == http.StatusOK:
	case dc.c.protocolNotFound(a):
		return nil, wallet.Errorf(wallet.ENOTFOUND, "no citizen with that iin")
	default:
		return nil, dc.c.unexpected(a)
	}
	var resp struct {
		Guardians *[]wallet.IIN `json:"guardians"`
	}
	if err := dc.c.decode(a, &resp); err != nil {
		return nil, err
	}
	if resp.Guardians == nil {
		return nil, dc.c.garbage(errors.New(`no "guardians"`))
	}
	return dc.checkIINs(*resp.Guardians, iin)
}

// checkIINs checks a list of related IINs: well formed, not self, no
// duplicates. It never returns nil.
func (dc *DirectoryClient) checkIINs(list []wallet.IIN, self wallet.IIN) ([]wallet.IIN, error) {
	seen := make(map[wallet.IIN]bool)
	out := make([]wallet.IIN, 0, len(list))
	for _, x := range list {
		if _, err := wallet.ParseIIN(string(x)); err != nil || x == self || seen[x] {
			return nil, dc.c.garbage(fmt.Errorf("bad related iin %q", x))
		}
		seen[x] = true
		out = append(out, x)
	}
	return out, nil
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date() // as the registry wrote it
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
