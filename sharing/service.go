package sharing

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Store is what the sharing service reads of the durable store: share
// grants. wallet.Store satisfies it. Shares are written only through
// wallet.Change (Service.Changes), each change with its history.
type Store interface {
	wallet.ShareStore
	wallet.ViewStore
	wallet.IdempotencyStore
}

// DocumentReader reads one document with its current status.
// *wallet.DocumentService satisfies it. ENOTFOUND if there is no such
// document.
type DocumentReader interface {
	Document(ctx context.Context, id string) (wallet.Document, error)
}

// Limits bound shares and the guessing of short codes. A zero field takes
// its default (see DefaultLimits).
type Limits struct {
	DefaultTTL      time.Duration // 180 s
	MaxTTL          time.Duration // 600 s
	DefaultMaxViews int           // 1
	MaxViews        int           // 10

	// Wrong short codes a viewer may enter in 15 minutes and in a day, and
	// that one network address may send in a minute (across viewers),
	// before further code redemptions are refused with ERATELIMITED.
	ViewerWrongCodes15m     int // 5
	ViewerWrongCodesDay     int // 20
	AddressWrongCodesMinute int // 10
	// OwnerWrongCodes wrong codes against one owner within 15 minutes void
	// all of that owner's live codes (their tokens keep working).
	OwnerWrongCodes int // 3

	// QRCacheEntries bounds the in-memory cache of drawn QR images.
	QRCacheEntries int // 256
}

// DefaultLimits returns the limits used for zero fields of Service.Limits.
func DefaultLimits() Limits {
	return Limits{
		DefaultTTL:              180 * time.Second,
		MaxTTL:                  600 * time.Second,
		DefaultMaxViews:         1,
		MaxViews:                10,
		ViewerWrongCodes15m:     5,
		ViewerWrongCodesDay:     20,
		AddressWrongCodesMinute: 10,
		OwnerWrongCodes:         3,
		QRCacheEntries:          256,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	pickD := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	return Limits{
		DefaultTTL:              pickD(l.DefaultTTL, d.DefaultTTL),
		MaxTTL:                  pickD(l.MaxTTL, d.MaxTTL),
		DefaultMaxViews:         pick(l.DefaultMaxViews, d.DefaultMaxViews),
		MaxViews:                pick(l.MaxViews, d.MaxViews),
		ViewerWrongCodes15m:     pick(l.ViewerWrongCodes15m, d.ViewerWrongCodes15m),
		ViewerWrongCodesDay:     pick(l.ViewerWrongCodesDay, d.ViewerWrongCodesDay),
		AddressWrongCodesMinute: pick(l.AddressWrongCodesMinute, d.AddressWrongCodesMinute),
		OwnerWrongCodes:         pick(l.OwnerWrongCodes, d.OwnerWrongCodes),
		QRCacheEntries:          pick(l.QRCacheEntries, d.QRCacheEntries),
	}
}

// Windows of the counters kept in the short-lived store.
const (
	viewerWindow15m  = 15 * time.Minute
	viewerWindowDay  = 24 * time.Hour
	addressWindow    = time.Minute
	ownerWindow      = 15 * time.Minute
	codeGenWindow    = 7 * 24 * time.Hour // far longer than any code lives
	maxCodeTries     = 16                 // fresh codes tried before giving up
	shortCodeDigits  = 6
	tokenSecretBytes = 24 // 192 random bits after the share id
)

// Service opens, shows, redeems, revokes and lists shares of documents.
// The durable Store records each share and, through RedeemShare, is the
// final judge of how many views it releases; the short-lived Codes store
// keeps the token and code hashes, the sealed token for the QR image and
// the rate-limit counters.
//
// The service does not decide who may share a document: callers check that
// createdBy owns the document or is its owner's guardian before Open.
//
// A Service must not be copied after first use (it holds the QR cache).
type Service struct {
	Store Store
	// Changes commits every share opened, revoked and redeemed, and codes
	// voided, together with its history event and log leaf.
	Changes   wallet.Committer
	Codes     wallet.ShortLivedStore
	Hasher    *wallet.Hasher
	Documents DocumentReader
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Rand is the random source of tokens, codes, ids and nonces;
	// crypto/rand if nil.
	Rand io.Reader
	// PublicURL is the base of the links QR codes encode, without a
	// trailing slash ("https://qujat.example").
	PublicURL string
	// SealKey is the 32-byte AES-256-GCM key under which the token is kept
	// for drawing the QR image later.
	SealKey []byte
	// Limits bound shares and code guessing; zero fields take defaults.
	Limits Limits
	// Authorize, if set, is asked before a share releases anything; an
	// error it returns (EEXPIRED, ENOTFOUND, ...) is returned as it is and
	// nothing is spent. Used to refuse shares a guardian opened for a ward
	// who has since come of age. The share it gets holds what a
	// redemption knows before its commit: the ID, DocumentID, OwnerIIN
	// and CreatedBy (the share's row is not read).
	Authorize func(ctx context.Context, sh wallet.Share) error

	qrOnce sync.Once
	qr     *qrCache
}

func (s *Service) now() time.Time {
	var t time.Time
	if s.Now != nil {
		t = s.Now()
	} else {
		t = time.Now()
	}
	// The durable stores keep microseconds; so does everything here, so that
	// what Open returns equals what the store gives back.
	return t.UTC().Truncate(time.Microsecond)
}

func (s *Service) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

func (s *Service) limits() Limits { return s.Limits.withDefaults() }

// Opened is a share just opened: the only moment its token and short code
// exist in clear.
type Opened struct {
	Share     wallet.Share
	Token     string // what the QR link carries
	ShortCode string // six digits, entered together with the owner's IIN
	URL       string // PublicURL + "/s/" + Token: what the QR image encodes
}

// shareEntry is what the short-lived store keeps of a share under
// entryKey: the hashes of its token and short code, which lead to it. It
// counts no views: the durable share alone does (wallet.RedeemShare), so
// that a redemption that fails or is sent twice never spends a view that
// was not recorded.
type shareEntry struct {
	ShareID    string     `json:"share_id"`
	DocumentID string     `json:"document_id"`
	OwnerIIN   wallet.IIN `json:"owner_iin"`
	CreatedBy  wallet.IIN `json:"created_by"`
	CodeKey    string     `json:"code_key"`
	TokenHash  string     `json:"token_hash"`
	CodeHash   string     `json:"code_hash"`
}

// Keys of the short-lived store.
func entryKey(shareID string) string  { return "sharekey:" + shareID }
func sealedKey(shareID string) string { return "shareqr:" + shareID }
func codeGenKey(owner wallet.IIN) string {
	return "codegen:" + string(owner)
}
func codeKey(owner wallet.IIN, gen int64, codeHash string) string {
	return "code:" + string(owner) + ":" + strconv.FormatInt(gen, 10) + ":" + codeHash
}

// CheckTerms judges what an owner asks of a new share, as Open does: ttl
// (nil: Limits.DefaultTTL) from 1 second to Limits.MaxTTL, maxViews (nil:
// Limits.DefaultMaxViews) from 1 to Limits.MaxViews. An explicit zero is out
// of range, not the default. It returns the values to give Open, so that a
// caller can refuse a bad request before doing anything else.
//
// EINVALID for a value out of range, with a message naming the API's fields
// (ttl_seconds, max_views) and the limits.
func (s *Service) CheckTerms(ttl *time.Duration, maxViews *int) (time.Duration, int, error) {
	lim := s.limits()
	t, v := lim.DefaultTTL, lim.DefaultMaxViews
	if ttl != nil {
		t = *ttl
	}
	if maxViews != nil {
		v = *maxViews
	}
	if err := lim.checkTerms(t, v); err != nil {
		return 0, 0, err
	}
	return t, v, nil
}

// checkTerms is the one judge of a share's lifetime and views.
func (l Limits) checkTerms(ttl time.Duration, maxViews int) error {
	if ttl < time.Second || ttl > l.MaxTTL {
		return wallet.Errorf(wallet.EINVALID, "ttl_seconds must be between 1 and %d", int(l.MaxTTL/time.Second))
	}
	if maxViews < 1 || maxViews > l.MaxViews {
		return wallet.Errorf(wallet.EINVALID, "max_views must be between 1 and %d", l.MaxViews)
	}
	return nil
}

// Open opens access to doc for ttl (0: Limits.DefaultTTL, at most
// Limits.MaxTTL) and maxViews views (0: Limits.DefaultMaxViews, at most
// Limits.MaxViews). createdBy is the owner (doc.SubjectIIN) or a guardian of
// the owner, as the caller has checked. It stores the durable share and a
// share_opened event in the owner's history, then the entry, the short
// code and the sealed token in the short-lived store.
//
// EINVALID for a ttl or maxViews out of range (as CheckTerms), a document without id or
// subject, or an invalid createdBy; EUNAVAILABLE if a store cannot be
// reached (if the short-lived store fails after the durable share was
// made, the share is revoked, with its event, so that it never shows as
// active); ECONFLICT
// if no free short code was found; EINTERNAL for a bad SealKey.
func (s *Service) Open(ctx context.Context, doc wallet.Document, createdBy wallet.IIN, ttl time.Duration, maxViews int) (Opened, error) {
	return s.open(ctx, doc, createdBy, ttl, maxViews, nil)
}

// open is Open. With k, the short code is drawn before the commit and the
// outcome (share, token and code) is stored sealed with the share, in its
// change, so that a retry can answer it again.
func (s *Service) open(ctx context.Context, doc wallet.Document, createdBy wallet.IIN, ttl time.Duration, maxViews int, k *idem) (Opened, error) {
	lim := s.limits()
	if ttl == 0 {
		ttl = lim.DefaultTTL
	}
	if maxViews == 0 {
		maxViews = lim.DefaultMaxViews
	}
	if err := lim.checkTerms(ttl, maxViews); err != nil {
		return Opened{}, err
	}
	if doc.ID == "" {
		return Opened{}, wallet.Errorf(wallet.EINVALID, "document has no id")
	}
	owner, err := wallet.ParseIIN(string(doc.SubjectIIN))
	if err != nil {
		return Opened{}, err
	}
	if _, err := wallet.ParseIIN(string(createdBy)); err != nil {
		return Opened{}, err
	}
	aead, err := s.aead()
	if err != nil {
		return Opened{}, err
	}

	r := s.rand()
	now := s.now()
	id, err := wallet.NewTimeID(r, now, "shr_")
	if err != nil {
		return Opened{}, err
	}
	secret, err := wallet.RandomToken(r, tokenSecretBytes)
	if err != nil {
		return Opened{}, err
	}
	token := id + "." + secret

	// Reading the code generation first also checks the short-lived store
	// answers before anything durable is written.
	gen, _, err := s.Codes.Count(ctx, codeGenKey(owner))
	if err != nil {
		return Opened{}, err
	}

	sh := wallet.Share{
		ID:         id,
		DocumentID: doc.ID,
		OwnerIIN:   owner,
		CreatedBy:  createdBy,
		MaxViews:   maxViews,
		CreatedAt:  now,
		ExpiresAt:  now.Add(ttl),
	}
	actorKind := wallet.ViewerCitizen
	if createdBy != owner {
		actorKind = wallet.ViewerGuardian
	}
	opened, err := s.event(wallet.Event{
		Kind:       wallet.EventShareOpened,
		SubjectIIN: owner,
		ActorKind:  actorKind,
		ActorID:    string(createdBy),
		ObjectID:   id,
		Details: map[string]string{
			"document_id":   doc.ID,
			"document_type": string(doc.Type),
			"max_views":     strconv.Itoa(maxViews),
			"expires_at":    sh.ExpiresAt.Format(time.RFC3339),
		},
		At: now,
	})
	if err != nil {
		return Opened{}, err
	}
	ops := []wallet.Op{wallet.CreateShare{Share: sh}}
	var code, ck string
	if k != nil {
		// The code is part of the stored outcome, so it is drawn first; a
		// code that leads to no share yet releases nothing.
		if code, ck, err = s.putCode(ctx, owner, gen, id, ttl); err != nil {
			return Opened{}, err
		}
		op, err := k.opened(aead, r, now, openOutcome{Share: sh, Token: token, ShortCode: code, CodeKey: ck})
		if err != nil {
			s.dropCode(ctx, ck)
			return Opened{}, err
		}
		ops = append(ops, op)
	}
	// The share and its event are committed before anything else reaches
	// the short-lived store: a share that exists has its history.
	if _, err := s.Changes.Commit(ctx, wallet.Change{Ops: ops, Events: []wallet.Event{opened}}); err != nil {
		if k != nil && !wallet.IsCode(err, wallet.EUNAVAILABLE) {
			// Refused: no share. (If the commit's outcome is unknown, the
			// code stays for a retry with the key; it expires with the
			// share.)
			s.dropCode(ctx, ck)
		}
		return Opened{}, err
	}

	// fail answers err once the share is committed. Without a key the
	// share is revoked (with its event) so that it never shows as active
	// without its entry. With a key it stays: the answer is the stored
	// outcome, so a retry with the key gets this share and puts back what
	// the short-lived store lacks (restoreShortLived); revoking it would
	// answer that retry with a share that can never be redeemed.
	fail := func(err error) (Opened, error) {
		if k == nil {
			s.abandon(ctx, sh, ck)
		}
		return Opened{}, err
	}
	if k == nil {
		if code, ck, err = s.putCode(ctx, owner, gen, id, ttl); err != nil {
			return fail(err)
		}
	}
	entry, err := json.Marshal(shareEntry{
		ShareID: id, DocumentID: doc.ID, OwnerIIN: owner, CreatedBy: createdBy, CodeKey: ck,
		TokenHash: s.Hasher.Hash(wallet.SecretShareToken, token),
		CodeHash:  s.Hasher.Hash(wallet.SecretShortCode, code),
	})
	if err != nil {
		return fail(wallet.Wrap(wallet.EINTERNAL, err, "cannot encode share entry"))
	}
	sealed, err := seal(aead, r, id, sealedRecord{Token: token, CodeKey: ck})
	if err != nil {
		return fail(err)
	}
	// The entry (what redemption reads) and the sealed token (for the QR)
	// in one round trip.
	if err := s.Codes.PutAll(ctx, ttl, wallet.KeyValue{Key: entryKey(id), Value: entry},
		wallet.KeyValue{Key: sealedKey(id), Value: sealed}); err != nil {
		return fail(err)
	}
	return Opened{Share: sh, Token: token, ShortCode: code, URL: s.shareURL(token)}, nil
}

func (s *Service) shareURL(token string) string { return s.PublicURL + "/s/" + token }

// putCode draws six-digit codes until one is free among the owner's live
// codes of generation gen, and stores it pointing at shareID. It returns the
// code and its key. If the owner's codes were voided meanwhile (the
// generation moved on since gen was read), the code is dropped and drawn
// again in the new generation: a share opened during a void gets a code
// that works, and only a void after its code is stored voids it.
func (s *Service) putCode(ctx context.Context, owner wallet.IIN, gen int64, shareID string, ttl time.Duration) (string, string, error) {
	for range maxCodeTries {
		code, err := wallet.RandomDigits(s.rand(), shortCodeDigits)
		if err != nil {
			return "", "", err
		}
		key := codeKey(owner, gen, s.Hasher.Hash(wallet.SecretShortCode, code))
		ok, err := s.Codes.PutNew(ctx, key, []byte(shareID), ttl)
		if err != nil {
			return "", "", err
		}
		if !ok {
			continue
		}
		now, _, err := s.Codes.Count(ctx, codeGenKey(owner))
		if err != nil {
			s.dropCode(ctx, key)
			return "", "", err
		}
		if now == gen {
			return code, key, nil
		}
		s.dropCode(ctx, key)
		gen = now
	}
	return "", "", wallet.Errorf(wallet.ECONFLICT, "no free short code: too many live shares")
}

// abandon undoes, as far as it can, a share whose opening failed halfway:
// the durable share is revoked by the system, with its event (so it never
// shows as active without its entry), and whatever reached the short-lived
// store is deleted. Best effort: the caller returns the original error.
func (s *Service) abandon(ctx context.Context, sh wallet.Share, ck string) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	_ = s.revoke(ctx, sh, "system", "sharing", "the short-lived store failed while the share was opened")
	keys := []string{entryKey(sh.ID), sealedKey(sh.ID)}
	if ck != "" {
		keys = append(keys, ck)
	}
	_ = s.Codes.Delete(ctx, keys...)
}

// dropCode deletes a short code drawn for a share that was not made, best
// effort.
func (s *Service) dropCode(ctx context.Context, ck string) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	_ = s.Codes.Delete(ctx, ck)
}

// cleanupContext returns a context for cleanup that outlives a cancelled
// request, but not by long.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
}

// event returns e with a fresh id, ready for a Change.
func (s *Service) event(e wallet.Event) (wallet.Event, error) {
	id, err := wallet.NewTimeID(s.rand(), e.At, "evt_")
	if err != nil {
		return wallet.Event{}, err
	}
	e.ID = id
	e.LogIndex = -1
	return e, nil
}

// revoke revokes the share with its share_revoked event, in one change.
// It returns nil if the share was revoked before (by anyone): its event is
// already there.
func (s *Service) revoke(ctx context.Context, sh wallet.Share, actorKind, actorID, reason string) error {
	at := s.now()
	details := map[string]string{"document_id": sh.DocumentID}
	if reason != "" {
		details["reason"] = reason
	}
	ev, err := s.event(wallet.Event{
		Kind:       wallet.EventShareRevoked,
		SubjectIIN: sh.OwnerIIN,
		ActorKind:  actorKind,
		ActorID:    actorID,
		ObjectID:   sh.ID,
		Details:    details,
		At:         at,
	})
	if err != nil {
		return err
	}
	_, err = s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.RevokeShare{ID: sh.ID, At: at}}, Events: []wallet.Event{ev}})
	if wallet.IsCode(err, wallet.ECONFLICT) {
		return nil // revoked before
	}
	return err
}

// ShareInfo is a share as its owner or creator sees it in a list.
type ShareInfo struct {
	Share wallet.Share
	State string // wallet.ShareActive, ShareExpired, ShareRevoked or ShareUsed
}

// List returns the shares opened by or for caller (as owner or as the
// guardian who opened them), newest first, each with its state now.
// EUNAVAILABLE if the store cannot be reached.
func (s *Service) List(ctx context.Context, caller wallet.IIN) ([]ShareInfo, error) {
	shares, err := s.Store.Shares(ctx, caller)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]ShareInfo, 0, len(shares))
	for _, sh := range shares {
		out = append(out, ShareInfo{Share: sh, State: sh.State(now)})
	}
	return out, nil
}

// visibleShare returns the share if caller opened it or owns it.
// ENOTFOUND otherwise, as for a share that does not exist.
func (s *Service) visibleShare(ctx context.Context, caller wallet.IIN, shareID string) (wallet.Share, error) {
	if shareID == "" || caller == "" {
		return wallet.Share{}, wallet.Errorf(wallet.ENOTFOUND, "no such share")
	}
	sh, err := s.Store.Share(ctx, shareID)
	if err != nil {
		return wallet.Share{}, err
	}
	if caller != sh.OwnerIIN && caller != sh.CreatedBy {
		return wallet.Share{}, wallet.Errorf(wallet.ENOTFOUND, "no such share")
	}
	return sh, nil
}

// Revoke ends a share at once: the durable share is revoked (which alone
// stops every redemption) together with a share_revoked event in the
// owner's history, then its entry, sealed token and short code are deleted
// from the short-lived store. Only the share's owner or creator may revoke
// it.
// Revoking a revoked share succeeds and adds no event.
//
// ENOTFOUND if there is no such share or the caller may not see it;
// EUNAVAILABLE if the durable store cannot be reached. If only the
// short-lived store fails, the share is revoked all the same and Revoke
// succeeds: its keys expire on their own and release nothing meanwhile.
func (s *Service) Revoke(ctx context.Context, caller wallet.IIN, shareID string) error {
	sh, err := s.visibleShare(ctx, caller, shareID)
	if err != nil {
		return err
	}
	if sh.RevokedAt == nil {
		actorKind := wallet.ViewerCitizen
		if caller != sh.OwnerIIN {
			actorKind = wallet.ViewerGuardian
		}
		if err := s.revoke(ctx, sh, actorKind, string(caller), ""); err != nil {
			return err
		}
	}
	s.dropShortLived(ctx, shareID)
	s.qrCache().forget(shareID)
	return nil
}

// dropShortLived deletes a share's entry, sealed token and short code, best
// effort. The code's key is read from the sealed record.
func (s *Service) dropShortLived(ctx context.Context, shareID string) {
	keys := []string{entryKey(shareID), sealedKey(shareID)}
	if rec, err := s.unsealed(ctx, shareID); err == nil && rec.CodeKey != "" {
		keys = append(keys, rec.CodeKey)
	}
	_ = s.Codes.Delete(ctx, keys...)
}
