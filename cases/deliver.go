package cases

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/wallet"
)

// Defaults of a Deliverer; zero fields take them.
const (
	DefaultLease   = 2 * time.Minute // longer than one delivery may take
	DefaultPoll    = time.Second
	DefaultTimeout = 60 * time.Second
	maxReceipt     = 256 << 10
)

// Deliverer sends queued packages to their agencies until each has the
// agency's signed receipt. Queued cases are the outbox: several deliverers
// (one per instance) share them by leases, a deliverer that dies lets its
// lease run out, and a failed attempt waits a growing backoff. Delivery is
// idempotent by package id: the same bytes are sent again, and the agency
// answers a package it has with the receipt it gave.
type Deliverer struct {
	Cases  *Service
	Client *http.Client // default: DefaultTimeout, no redirects
	Lease  time.Duration
	Poll   time.Duration
	// Backoff is the wait after n failed attempts; default 2 s doubling up
	// to 10 minutes.
	Backoff func(n int) time.Duration
	Log     *slog.Logger

	once sync.Once
	kick chan struct{}
}

// Kick makes a running deliverer look for due packages now.
func (d *Deliverer) Kick() {
	d.init()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Deliverer) init() { d.once.Do(func() { d.kick = make(chan struct{}, 1) }) }

// Run delivers until ctx is done.
func (d *Deliverer) Run(ctx context.Context) {
	d.init()
	poll := d.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := d.Pass(ctx); err != nil && ctx.Err() == nil {
			d.log().Warn("cases: delivery pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.kick:
		}
	}
}

// Pass leases the due packages and delivers each once; it returns how many
// it settled (delivered or rejected).
func (d *Deliverer) Pass(ctx context.Context) (int, error) {
	lease := d.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	due, err := d.Cases.Store.LeaseCaseDeliveries(ctx, d.Cases.now(), lease, 16)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range due {
		if err := d.deliver(ctx, c); err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			d.log().Info("cases: delivery failed, will retry", "case", c.ID, "package", c.PackageID, "attempt", c.Attempts+1, "err", err)
			next := d.Cases.now().Add(d.backoff(c.Attempts + 1))
			msg := err.Error()
			if len(msg) > 500 {
				msg = msg[:500]
			}
			if derr := d.Cases.Store.DeferCaseDelivery(context.WithoutCancel(ctx), c.ID, next, msg); derr != nil && !wallet.IsCode(derr, wallet.ECONFLICT) {
				return n, derr
			}
			continue
		}
		n++
	}
	return n, nil
}

func (d *Deliverer) backoff(n int) time.Duration {
	if d.Backoff != nil {
		return d.Backoff(n)
	}
	b := 2 * time.Second
	for i := 1; i < n && b < 10*time.Minute; i++ {
		b *= 2
	}
	return min(b, 10*time.Minute)
}

func (d *Deliverer) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	return &http.Client{Timeout: DefaultTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (d *Deliverer) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// deliver posts the kept package and settles the case with the receipt.
func (d *Deliverer) deliver(ctx context.Context, c wallet.Case) error {
	s := d.Cases
	agency, err := s.Store.Agency(ctx, c.AgencyID)
	if err != nil {
		return err
	}
	sent, err := s.Store.ExchangeMessage(ctx, "out", c.PackageID)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, agency.Endpoint, strings.NewReader(sent.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", exchange.MediaType)
	req.Header.Set("Accept", exchange.MediaType)
	req.Header.Set("Idempotency-Key", c.PackageID)
	resp, err := d.client().Do(req)
	if err != nil {
		return fmt.Errorf("post to the agency: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReceipt+1))
	if err != nil {
		return fmt.Errorf("read the agency's answer: %w", err)
	}
	if len(body) > maxReceipt {
		return fmt.Errorf("the agency's answer is larger than %d bytes", maxReceipt)
	}
	// A signed receipt comes with 200 (accepted) or 422 (rejected); any
	// other status is a failure to deliver, tried again.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnprocessableEntity {
		return fmt.Errorf("the agency answered %d", resp.StatusCode)
	}
	receiptJWS := string(bytes.TrimSpace(body))
	receivedNow := s.now()
	r, kid, err := exchange.VerifyReceipt(receiptJWS, s.agencyKeyResolver(ctx, c.AgencyID, receivedNow))
	if err != nil {
		return fmt.Errorf("the agency's receipt: %w", err)
	}
	if r.Of != "package" || r.ID != c.PackageID || r.Digest != sent.Digest || r.Issuer != c.AgencyID {
		return fmt.Errorf("the agency's receipt is for something else (%s %s)", r.Of, r.ID)
	}
	return s.settleDelivery(ctx, c, r, receiptJWS, kid)
}

// agencyKeyResolver resolves the agency's registered signing keys; a key
// compromised at or before at resolves to a key_compromised refusal.
func (s *Service) agencyKeyResolver(ctx context.Context, agencyID string, at time.Time) func(string) (crypto.PublicKey, error) {
	return func(kid string) (crypto.PublicKey, error) {
		k, err := s.Store.AgencyKey(ctx, kid)
		if wallet.IsCode(err, wallet.ENOTFOUND) || (err == nil && (k.OrganisationID != agencyID || k.Use != wallet.KeyUseSig)) {
			return nil, &exchange.Rejected{Reason: exchange.ReasonUnknownKey, Detail: "key " + kid + " is not a registered signing key of " + agencyID}
		}
		if err != nil {
			return nil, err
		}
		if k.CompromisedAt != nil && !at.Before(*k.CompromisedAt) {
			return nil, &exchange.Rejected{Reason: exchange.ReasonKeyCompromised, Detail: "key " + kid + " is compromised since " + k.CompromisedAt.Format(time.RFC3339)}
		}
		var j jose.JSONWebKey
		if err := j.UnmarshalJSON([]byte(k.JWK)); err != nil {
			return nil, wallet.Wrap(wallet.EINTERNAL, err, "agency key")
		}
		return j.Key, nil
	}
}

// settleDelivery stores the receipt and the case's new status with the
// citizen's event. A case no longer queued (another deliverer settled it
// first) is left as it is.
func (s *Service) settleDelivery(ctx context.Context, c wallet.Case, r exchange.Receipt, receiptJWS, kid string) error {
	now := s.now()
	agency, err := s.Store.Agency(ctx, c.AgencyID)
	if err != nil {
		return err
	}
	day := r.DayOfReceipt
	if cal, err := s.Calendars.Get(agency.Calendar); err == nil {
		loc, _ := time.LoadLocation(agency.TimeZone)
		if d, err := cal.ReceiptDay(r.ReceivedAt, loc); err == nil {
			day = d.String() // the centre's own reckoning from the agency's calendar
		}
	}
	kind, status := wallet.EventCaseDelivered, wallet.CaseDelivered
	if r.Status == exchange.StatusRejected {
		kind, status = wallet.EventCaseRejected, wallet.CaseRejected
	}
	ev, err := s.event(kind, c, now, map[string]string{"package": c.PackageID, "day_of_receipt": day})
	if err != nil {
		return err
	}
	verified, _ := json.Marshal(map[string]any{"signed_by": kid, "valid": true, "status": r.Status, "checked_at": now})
	receivedAt := r.ReceivedAt.UTC()
	_, err = s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{
		wallet.UpdateCase{ID: c.ID, Update: func(c wallet.Case) (wallet.Case, error) {
			if c.Status != wallet.CaseQueued {
				return c, wallet.Errorf(wallet.ECONFLICT, "the case is %s already", c.Status)
			}
			c.ReceiptJWS, c.DeliveredAt, c.DayOfReceipt, c.UpdatedAt = receiptJWS, &receivedAt, day, now
			c.Status = status
			if status == wallet.CaseRejected {
				c.RejectionReason = r.Reason
				c.RejectedItems = nil
				for _, it := range r.Items {
					c.RejectedItems = append(c.RejectedItems, wallet.CaseItemReason{ID: it.ID, Reason: it.Reason})
				}
			}
			// Statuses or the result may have come before the receipt was
			// stored (the agency answered, the centre did not hear): the
			// case takes the furthest of them now.
			if status == wallet.CaseDelivered {
				for _, e := range c.Events {
					if rk, known := statusRank[e.Status]; known && e.Status != wallet.CaseIssued && rk > statusRank[c.Status] {
						c.Status = e.Status
					}
				}
			}
			c.Events = insertEvent(c.Events, wallet.CaseEvent{Status: status, At: receivedAt, Note: r.Reason})
			return c, nil
		}},
		wallet.RecordExchange{Message: wallet.ExchangeMessage{Direction: "in", MessageID: "receipt:" + c.PackageID, CaseID: c.ID, Kind: "receipt",
			Digest: exchange.Digest([]byte(receiptJWS)), Body: receiptJWS, Verified: string(verified), At: now}},
	}, Events: []wallet.Event{ev}})
	if wallet.IsCode(err, wallet.ECONFLICT) {
		return nil // settled by someone else
	}
	return err
}

// insertEvent puts e among the events in time order and numbers them again.
func insertEvent(events []wallet.CaseEvent, e wallet.CaseEvent) []wallet.CaseEvent {
	i := len(events)
	for i > 0 && events[i-1].At.After(e.At) {
		i--
	}
	out := make([]wallet.CaseEvent, 0, len(events)+1)
	out = append(out, events[:i]...)
	out = append(out, e)
	out = append(out, events[i:]...)
	for k := range out {
		out[k].Seq = k + 1
	}
	return out
}
