package wallet

import (
	"context"
	"encoding/json"
	"time"
)

// Case statuses (GET /v1/centre/cases/{id}); other agency statuses appear
// only as events.
const (
	CaseDraft          = "draft"
	CaseQueued         = "queued"
	CaseDelivered      = "delivered"
	CaseRejected       = "rejected"
	CaseRegistered     = "registered"
	CaseInProgress     = "in_progress"
	CaseResultReceived = "result_received"
	CaseIssued         = "issued"
)

// Case event kinds in the citizen's history.
const (
	EventCaseOpened    = "case_opened"
	EventCaseSent      = "case_sent"
	EventCaseDelivered = "case_delivered"
	EventCaseRejected  = "case_rejected"
	EventCaseStatus    = "case_status"
	EventCaseResult    = "case_result"
	EventCaseIssued    = "case_issued"
)

// Case is a citizen's application taken at a service centre and sent to an
// agency as one package: the application's fields and the documents
// attached, each signed by the operator, then the agency's receipt, its
// status events and its signed result. The exact bytes that crossed are in
// the blob store (blob ids here) and in the exchange messages.
type Case struct {
	ID          string // "case_…"
	OwnerIIN    IIN
	CentreID    string
	OperatorID  string
	AgencyID    string
	Service     string
	Application map[string]string
	Items       []CaseItem
	Status      string
	Revision    int // bumped by every UpdateCase
	CreatedAt   time.Time
	UpdatedAt   time.Time

	PackageID       string // set when sent; the delivery's idempotency key
	PackageBlobID   string // the JWE exactly as sent
	ManifestJWS     string
	SentAt          *time.Time
	DayOfSending    string
	DeliveredAt     *time.Time
	DayOfReceipt    string
	ReceiptJWS      string // the agency's signed receipt (accepted or rejected)
	RejectionReason string
	RejectedItems   []CaseItemReason
	Events          []CaseEvent
	Result          *CaseResult
	IssuedAt        *time.Time
	RetainUntil     *time.Time // nothing of the case may be deleted before

	// Delivery bookkeeping (not history): attempts so far, when the next
	// may start, until when a worker holds it, the last failure.
	Attempts      int
	NextAttemptAt *time.Time
	LeaseUntil    *time.Time
	LastError     string
}

// CaseItem is one signed item of a case: the application or a document.
type CaseItem struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"` // application, scan, duplicate
	Title       string    `json:"title"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	BlobID      string    `json:"blob_id"`
	DuplicateID string    `json:"duplicate_id,omitempty"`
	Signature   string    `json:"signature"` // the operator's JWS over the item's claims
	SignedAt    time.Time `json:"signed_at"`
}

// CaseItemReason is an agency's reason for refusing one item.
type CaseItemReason struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// CaseEvent is one status the agency (or the centre) told, in order.
type CaseEvent struct {
	Seq       int       `json:"seq"`
	Status    string    `json:"status"`
	At        time.Time `json:"at"`
	Note      string    `json:"note,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
}

// CaseResult is the agency's signed result.
type CaseResult struct {
	DocumentID  string    `json:"document_id"`
	Title       string    `json:"title"`
	ContentType string    `json:"content_type"`
	SHA256      string    `json:"sha256"`
	BlobID      string    `json:"blob_id"`
	JWS         string    `json:"jws"` // the agency's message JWS that carried it
	MessageID   string    `json:"message_id"`
	ReceivedAt  time.Time `json:"received_at"`
	// WalletDocument is the citizen's wallet document of the result: the
	// agency's signed result, or the hosted registry's record when the
	// result is one (then Registry and Record name it).
	WalletDocument string `json:"wallet_document,omitempty"`
	Registry       string `json:"registry,omitempty"`
	Record         string `json:"record,omitempty"`
}

// ExchangeMessage is one message that crossed between a centre and an
// agency, kept exactly with the answer given to it: the idempotency of the
// inbound endpoint (a message id seen again with the same bytes gets the
// same answer; with other bytes it is a replay) and the evidence.
type ExchangeMessage struct {
	Direction string // "in" (agency → centre) or "out"
	MessageID string
	CaseID    string
	Kind      string // status, result, key_compromised, package
	Digest    string // hex SHA-256 of Body
	Body      string // the JWS or JWE text as received or sent
	Answer    string // the signed receipt or rejection given or got
	Verified  string // the verification result, as JSON
	At        time.Time
}

// CaseStore reads cases and exchange messages; they are written by
// wallet.Change (CreateCase, UpdateCase, RecordExchange), except the
// delivery bookkeeping, which is not history.
type CaseStore interface {
	// Case returns one case. ENOTFOUND.
	Case(ctx context.Context, id string) (Case, error)
	// CasesOfOwner returns the citizen's cases, newest first.
	CasesOfOwner(ctx context.Context, owner IIN) ([]Case, error)
	// LeaseCaseDeliveries gives up to limit queued cases whose next attempt
	// is due at now and which no worker holds to the caller until
	// now+lease (their LeaseUntil is set), oldest first.
	LeaseCaseDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Case, error)
	// DeferCaseDelivery records a failed attempt of a queued case: Attempts
	// one more, the next at next, the lease released, the error kept.
	// ENOTFOUND; ECONFLICT if the case is no longer queued.
	DeferCaseDelivery(ctx context.Context, id string, next time.Time, lastError string) error
	// ExchangeMessage returns a kept message. ENOTFOUND.
	ExchangeMessage(ctx context.Context, direction, messageID string) (ExchangeMessage, error)
	// ExchangeMessages returns the case's kept messages, oldest first.
	ExchangeMessages(ctx context.Context, caseID string) ([]ExchangeMessage, error)
}

// CreateCase stores a new case. ECONFLICT if the id exists.
type CreateCase struct{ Case Case }

// UpdateCase reads the case locked for the transaction, calls Update on it
// and stores what Update returns with Revision bumped; Result, if set,
// receives it. Errors of Update refuse the op as they are; ENOTFOUND if
// there is no such case; ECONFLICT if a package id is taken.
type UpdateCase struct {
	ID     string
	Update func(Case) (Case, error)
	Result *Case
}

// RecordExchange keeps a message that crossed. ECONFLICT if one with that
// direction and id is kept already.
type RecordExchange struct{ Message ExchangeMessage }

func (CreateCase) What() string     { return "create case" }
func (UpdateCase) What() string     { return "update case" }
func (RecordExchange) What() string { return "record exchange message" }

// EncodeCase is the JSON body a store keeps for c (both stores use it);
// the delivery bookkeeping is kept in columns of its own, not in the body.
func EncodeCase(c Case) ([]byte, error) {
	c.Attempts, c.NextAttemptAt, c.LeaseUntil, c.LastError = 0, nil, nil, ""
	b, err := json.Marshal(c)
	if err != nil {
		return nil, Wrap(EINTERNAL, err, "encode case")
	}
	return b, nil
}

// DecodeCase reads a body written by EncodeCase.
func DecodeCase(b []byte) (Case, error) {
	var c Case
	if err := json.Unmarshal(b, &c); err != nil {
		return c, Wrap(EINTERNAL, err, "decode case")
	}
	return c, nil
}

// CheckCase refuses a case a store must not keep: no id, owner, agency or
// status. EINVALID.
func CheckCase(c Case, what string) error {
	if c.ID == "" || c.OwnerIIN == "" || c.AgencyID == "" || c.Status == "" {
		return Errorf(EINVALID, "%s: id, owner, agency and status are required", what)
	}
	return nil
}
