package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// api is a small client of the service's HTTP API.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string, conc int) *api {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		MaxIdleConns:        conc + 8,
		MaxIdleConnsPerHost: conc + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &api{base: base, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (a *api) close() { a.hc.CloseIdleConnections() }

// do sends one request. body is JSON bytes or nil; when out is not nil a
// 2xx body is decoded into it, otherwise the body is read and dropped (so
// that the connection is reused). status is 0 when no response came.
func (a *api) do(ctx context.Context, method, path, token string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	target := path
	if len(path) > 0 && path[0] == '/' {
		target = a.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode/100 == 2 {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// citizen is a demo citizen signed in for the run.
type citizen struct {
	IIN, Phone string
	access     string
	refresh    string
	signedAt   time.Time
	docs       []string
}

type devCitizen struct {
	IIN   string `json:"iin"`
	Phone string `json:"phone"`
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

var otpCode = regexp.MustCompile(`\b[0-9]{6}\b`)

// signInAll signs up to want demo citizens in, each once, taken in a
// random order (so that runs spread over the per-phone limit of sign-in
// codes), 4 at a time, and reads their documents. Citizens who cannot sign
// in (a phone that has had its codes this hour, an address over its limit)
// are left out with a warning; at most want+8 are tried, so that a run
// stays within the per-address limit.
func (a *api) signInAll(ctx context.Context, warn io.Writer, want int) ([]*citizen, error) {
	var dev struct {
		Citizens []devCitizen `json:"citizens"`
	}
	st, err := a.do(ctx, "GET", "/v1/dev/citizens", "", nil, &dev)
	if err != nil || st != 200 {
		return nil, fmt.Errorf("GET /v1/dev/citizens: status %d %v (bench needs the demo registry and the SMS outbox of the embedded default)", st, err)
	}
	cands := dev.Citizens
	mrand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	cands = cands[:min(len(cands), want+8)]
	var (
		mu  sync.Mutex
		out []*citizen
	)
	for start := 0; start < len(cands); start += 4 {
		mu.Lock()
		enough := len(out) >= want
		mu.Unlock()
		if enough {
			break
		}
		var wg sync.WaitGroup
		for _, d := range cands[start:min(start+4, len(cands))] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := a.signIn(ctx, d)
				if err != nil {
					fmt.Fprintf(warn, "bench: leaving out citizen %s…: %v\n", d.IIN[:6], err)
					return
				}
				mu.Lock()
				out = append(out, c)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IIN < out[j].IIN })
	if len(out) > want {
		out = out[:want]
	}
	return out, nil
}

func (a *api) signIn(ctx context.Context, d devCitizen) (*citizen, error) {
	var ch struct {
		ChallengeID string `json:"challenge_id"`
	}
	st, err := a.do(ctx, "POST", "/v1/auth/otp", "", mustJSON(map[string]string{"iin": d.IIN}), &ch)
	if err != nil || st != 202 {
		return nil, fmt.Errorf("POST /v1/auth/otp: status %d %v", st, err)
	}
	var sms struct {
		Messages []struct {
			Text string `json:"text"`
		} `json:"messages"`
	}
	st, err = a.do(ctx, "GET", "/v1/dev/sms?to="+url.QueryEscape(d.Phone), "", nil, &sms)
	if err != nil || st != 200 || len(sms.Messages) == 0 {
		return nil, fmt.Errorf("GET /v1/dev/sms: status %d %v", st, err)
	}
	code := otpCode.FindString(sms.Messages[0].Text)
	var tp tokenPair
	st, err = a.do(ctx, "POST", "/v1/auth/token", "", mustJSON(map[string]string{"challenge_id": ch.ChallengeID, "code": code}), &tp)
	if err != nil || st != 200 {
		return nil, fmt.Errorf("POST /v1/auth/token: status %d %v", st, err)
	}
	c := &citizen{IIN: d.IIN, Phone: d.Phone, access: tp.AccessToken, refresh: tp.RefreshToken, signedAt: time.Now()}
	var docs struct {
		Documents []struct {
			ID string `json:"id"`
		} `json:"documents"`
	}
	st, err = a.do(ctx, "GET", "/v1/documents", c.access, nil, &docs)
	if err != nil || st != 200 {
		return nil, fmt.Errorf("GET /v1/documents: status %d %v", st, err)
	}
	for _, doc := range docs.Documents {
		c.docs = append(c.docs, doc.ID)
	}
	return c, nil
}

// tokenMaxAge is how old an access token (15 minutes) may be before a
// phase: no phase with its preparation lasts longer than the rest.
const tokenMaxAge = 7 * time.Minute

// refreshOld rotates the tokens of citizens signed in more than
// tokenMaxAge ago. Call it between phases only.
func (a *api) refreshOld(ctx context.Context, cs []*citizen) error {
	for _, c := range cs {
		if time.Since(c.signedAt) < tokenMaxAge {
			continue
		}
		var tp tokenPair
		st, err := a.do(ctx, "POST", "/v1/auth/refresh", "", mustJSON(map[string]string{"refresh_token": c.refresh}), &tp)
		if err != nil || st != 200 {
			return fmt.Errorf("POST /v1/auth/refresh: status %d %v", st, err)
		}
		c.access, c.refresh, c.signedAt = tp.AccessToken, tp.RefreshToken, time.Now()
	}
	return nil
}

// share is an issued share as the bench keeps it.
type share struct {
	token, code, qrURL string
	owner              *citizen
	at                 time.Time // when it was issued
}

type issued struct {
	ID        string `json:"id"`
	Token     string `json:"token"`
	ShortCode string `json:"short_code"`
	QRURL     string `json:"qr_url"`
}

// shareTTL is the longest a share may live (600 s): shares are issued for
// a phase just before it.
var shareBody = mustJSON(map[string]int{"ttl_seconds": 600, "max_views": 1})

// issue opens one single-use share of the document at index i of the
// owners' documents (round robin).
func (a *api) issue(ctx context.Context, owners []ownedDoc, i uint64) (share, int, error) {
	od := owners[i%uint64(len(owners))]
	var out issued
	st, err := a.do(ctx, "POST", "/v1/documents/"+url.PathEscape(od.doc)+"/shares", od.owner.access, shareBody, &out)
	if err != nil || st != 201 {
		return share{}, st, err
	}
	return share{token: out.Token, code: out.ShortCode, qrURL: out.QRURL, owner: od.owner, at: time.Now()}, st, nil
}

type ownedDoc struct {
	owner *citizen
	doc   string
}

// pool holds live, unredeemed shares. Between phases shares are added;
// during a phase they are taken, each once.
type pool struct {
	mu    sync.Mutex
	items []share
	next  atomic.Int64
}

func (p *pool) add(s share) {
	p.mu.Lock()
	p.items = append(p.items, s)
	p.mu.Unlock()
}

// take returns the next unused share; false when none is left. The items
// are not appended to while shares are taken.
func (p *pool) take() (share, bool) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.items)) {
		return share{}, false
	}
	return p.items[i], true
}

// shareMaxAge is how old an unused share may be before a phase (shares
// live 600 s; a phase with its preparation is shorter than the rest).
const shareMaxAge = 7 * time.Minute

// compact drops the shares taken so far and those too old to last through
// another phase; call it between phases.
func (p *pool) compact() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(int(p.next.Load()), len(p.items))
	keep := make([]share, 0, len(p.items)-n)
	for _, s := range p.items[n:] {
		if time.Since(s.at) < shareMaxAge {
			keep = append(keep, s)
		}
	}
	p.items = keep
	p.next.Store(0)
}

func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items) - min(int(p.next.Load()), len(p.items))
}
