package wallet

import (
	"context"
	"time"
)

// Change is one state change of the wallet together with the history it
// makes. A Committer applies its Ops and stores its history (the events,
// the views and what the ops record: a redemption's view, a document's new
// version) in one transaction, each history row with its leaf in the
// history log. Either all of it is stored or none of it: there is no state
// change without its history and no history of a change that did not
// happen.
//
// Every state change that has a history event goes through a Change; the
// Store has no other way to write shares, consents, views, events or
// document versions.
type Change struct {
	// Ops are the writes, applied in order.
	Ops []Op
	// Events are history events stored with their leaves.
	Events []Event
	// Views are releases of documents that are not share redemptions
	// (consent releases, guardians' reads), stored with their leaves.
	Views []View
}

// Committer commits Changes. The history package's Recorder is the one the
// service runs.
type Committer interface {
	// Commit stores the change and its leaves in one transaction and
	// returns once it is durable. It returns the log indexes of the
	// change's history rows in this order: one per RedeemShare or
	// AppendVersion op (in op order), then the Events, then the Views.
	//
	// An op that refuses returns its error (see each op) and nothing of
	// the change is stored. EINVALID for an empty change or a malformed
	// history row; EUNAVAILABLE if the store cannot be reached (nothing is
	// stored); ECONFLICT if an id exists.
	Commit(ctx context.Context, c Change) ([]int64, error)
}

// Op is one write of a Change. The store's implementations are the only
// code that writes these tables.
type Op interface {
	// What describes the op in error messages ("redeem share", ...).
	What() string
}

// CreateShare stores a new share. ECONFLICT if the id exists.
type CreateShare struct{ Share Share }

// RevokeShare sets the share's RevokedAt to At. ENOTFOUND if there is no
// such share; ECONFLICT if it was revoked already (nothing is written).
type RevokeShare struct {
	ID string
	At time.Time
}

// RedeemShare is the final judge of single use: it counts one more view of
// the share, if the share is not revoked, not expired at View.At and not
// used up, and stores View (its ShareID set) as the use's view, unique per
// (share, use number). EEXPIRED otherwise (nothing is written), ENOTFOUND
// if no such share, EINVALID if the view names another document or owner
// than the share (an empty DocumentID or OwnerIIN is taken from the share).
type RedeemShare struct {
	ShareID string
	View    View
}

// CreateConsent stores a new consent request. ECONFLICT if the id exists.
type CreateConsent struct{ Consent Consent }

// UpdateConsent reads the consent, locked for the transaction, calls
// Update on it and stores what Update returns, bumping Revision; Result,
// if set, receives it. Errors of Update refuse the op as they are;
// ENOTFOUND if there is no such consent.
type UpdateConsent struct {
	ID     string
	Update func(Consent) (Consent, error)
	Result *Consent
}

// AppendVersion appends Version to its document, creating the document
// when Version.Version is 1. ECONFLICT if Version.Version is not the next
// version number (someone else appended first) or the document exists with
// another subject.
type AppendVersion struct {
	Document StoredDocument
	Version  Version
}

// SaveIdempotency stores the outcome of a request made with an
// Idempotency-Key, in the change that is the request's effect, so that the
// key and its outcome exist exactly when the effect does. Rows of any
// caller whose ExpiresAt is not after At are purged first (so an expired
// key may be used again). ECONFLICT if the caller has a live row with this
// key: the whole change is refused, so two requests with one key never
// both take effect.
type SaveIdempotency struct {
	Record IdempotencyRecord
	At     time.Time
}

func (CreateShare) What() string     { return "create share" }
func (SaveIdempotency) What() string { return "save idempotency key" }
func (RevokeShare) What() string     { return "revoke share" }
func (RedeemShare) What() string     { return "redeem share" }
func (CreateConsent) What() string   { return "create consent" }
func (UpdateConsent) What() string   { return "update consent" }
func (AppendVersion) What() string   { return "append document version" }

// Rows that a leaf of the history log stands for, as the history package
// hands them to the store with the leaf (historylog.Entry.Record): the
// store inserts an Event or a View with the leaf's index, and sets the
// leaf's index on the row a RedeemedView or a NewVersion names, in the
// leaf's own transaction.
type (
	// RedeemedView names the view a RedeemShare op stored.
	RedeemedView struct{ ID string }
	// NewVersion names the version an AppendVersion op stored.
	NewVersion struct {
		DocumentID string
		Version    int
	}
)
