package sharing

import (
	"context"
	"crypto/cipher"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Requests made with an Idempotency-Key (redemptions and share issuance):
// the key, the caller and a hash of the request are stored with the
// request's outcome by a wallet.SaveIdempotency op in the request's own
// change, so that the outcome exists exactly when the effect does. A retry
// with the same key and request answers the stored outcome again and
// changes nothing; the same key with another request is EIDEMPOTENCY.

// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted.
const MaxIdempotencyKeyLen = 255

// idemLockTTL bounds how long a request holds its key against a concurrent
// request with the same key (the holder releases it when it ends).
const idemLockTTL = 30 * time.Second

// hashPurposeRequest is the Hasher purpose of request hashes: a request
// may carry a token or a short code, which are not stored in clear.
const hashPurposeRequest = "idempotent-request"

// CheckIdempotencyKey accepts 1..255 printable ASCII characters. EINVALID
// otherwise.
func CheckIdempotencyKey(key string) error {
	if len(key) < 1 || len(key) > MaxIdempotencyKeyLen {
		return wallet.Errorf(wallet.EINVALID, "Idempotency-Key must be 1 to %d printable ASCII characters", MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return wallet.Errorf(wallet.EINVALID, "Idempotency-Key must be 1 to %d printable ASCII characters", MaxIdempotencyKeyLen)
		}
	}
	return nil
}

// idem is one request made with an Idempotency-Key.
type idem struct {
	caller, key string
	hash        string // of the operation and what it asks
}

func (s *Service) newIdem(caller string, key string, request ...string) (*idem, error) {
	if err := CheckIdempotencyKey(key); err != nil {
		return nil, err
	}
	b, err := json.Marshal(request)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot encode request")
	}
	return &idem{caller: string(caller), key: key, hash: s.Hasher.Hash(hashPurposeRequest, string(b))}, nil
}

// save is the op that stores the request's outcome with its change.
func (k *idem) save(now time.Time, outcome []byte) wallet.Op {
	return wallet.SaveIdempotency{At: now, Record: wallet.IdempotencyRecord{
		Caller: k.caller, Key: k.key, RequestHash: k.hash, Outcome: outcome,
		CreatedAt: now, ExpiresAt: now.Add(wallet.IdempotencyKeyTTL),
	}}
}

// recorded returns the stored outcome of the key, if any: EIDEMPOTENCY if
// it was stored for another request.
func (s *Service) recorded(ctx context.Context, k *idem) (wallet.IdempotencyRecord, bool, error) {
	rec, err := s.Store.Idempotency(ctx, k.caller, k.key, s.now())
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.IdempotencyRecord{}, false, nil
	}
	if err != nil {
		return wallet.IdempotencyRecord{}, false, err
	}
	if !s.Hasher.Equal(rec.RequestHash, k.hash) {
		return wallet.IdempotencyRecord{}, false, wallet.Errorf(wallet.EIDEMPOTENCY,
			"this Idempotency-Key was used with another request; use a new key for a new request")
	}
	return rec, true, nil
}

// once runs do for a request with a key, unless the key has an outcome:
// then replay answers it again. Requests with one key take turns (a
// concurrent one is ECONFLICT, to be retried); one whose change was
// refused or whose commit's answer was lost answers the stored outcome
// if there is one.
func once[T any](ctx context.Context, s *Service, k *idem, replay func(wallet.IdempotencyRecord) (T, error), do func() (T, error)) (T, error) {
	var zero T
	if rec, ok, err := s.recorded(ctx, k); err != nil {
		return zero, err
	} else if ok {
		return replay(rec)
	}
	lock := "idem:" + s.Hasher.Hash(hashPurposeRequest, k.caller+"\x00"+k.key)
	got, err := s.Codes.PutNew(ctx, lock, []byte("1"), idemLockTTL)
	if err != nil {
		return zero, err
	}
	if got {
		defer func() {
			ctx, cancel := cleanupContext(ctx)
			defer cancel()
			_ = s.Codes.Delete(ctx, lock)
		}()
	}
	// The request before may have ended between the read and the lock.
	if rec, ok, err := s.recorded(ctx, k); err != nil {
		return zero, err
	} else if ok {
		return replay(rec)
	}
	if !got {
		return zero, wallet.Errorf(wallet.ECONFLICT, "a request with this Idempotency-Key is in progress; retry it later")
	}
	v, err := do()
	if err == nil {
		return v, nil
	}
	rec, ok, rerr := s.recorded(ctx, k)
	switch {
	case wallet.IsCode(rerr, wallet.EIDEMPOTENCY):
		return zero, rerr
	case rerr == nil && ok:
		return replay(rec)
	}
	return zero, err
}

// redeemOutcome is what a redemption stores to answer again: its view
// (the document is read again by the view's document id).
type redeemOutcome struct {
	View wallet.View `json:"view"`
}

func (k *idem) redeemed(now time.Time, v wallet.View) (wallet.Op, error) {
	b, err := json.Marshal(redeemOutcome{View: v})
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot encode redemption outcome")
	}
	return k.save(now, b), nil
}

// replayRedemption answers a redemption again: the same view, with the
// document as it is now. Nothing is spent and no view is added.
func (s *Service) replayRedemption(ctx context.Context, rec wallet.IdempotencyRecord) (Redemption, error) {
	var out redeemOutcome
	if err := json.Unmarshal(rec.Outcome, &out); err != nil || out.View.ID == "" {
		return Redemption{}, wallet.Errorf(wallet.EIDEMPOTENCY,
			"this Idempotency-Key was used with another request; use a new key for a new request")
	}
	v := out.View
	doc, err := s.Documents.Document(ctx, v.DocumentID)
	if err != nil {
		return Redemption{}, err
	}
	// The view's leaf index was set when its change committed.
	v.LogIndex = -1
	if views, err := s.Store.ViewsByViewer(ctx, v.ViewerKind, v.ViewerID); err == nil {
		for _, w := range views {
			if w.ID == v.ID {
				v.LogIndex = w.LogIndex
				break
			}
		}
	}
	return Redemption{View: v, Document: doc, Replayed: true}, nil
}

// RedeemTokenOnce is RedeemToken for a request with an Idempotency-Key
// (none if key is ""): a retry with the same key and token answers the
// first redemption again (the same view, the document) and spends nothing.
// EIDEMPOTENCY if the viewer used the key for another request; EINVALID
// for a malformed key; ECONFLICT while a request with the key is in
// progress; otherwise as RedeemToken.
func (s *Service) RedeemTokenOnce(ctx context.Context, viewer Viewer, token, key string) (Redemption, error) {
	if key == "" {
		return s.RedeemToken(ctx, viewer, token)
	}
	if err := viewer.check(); err != nil {
		return Redemption{}, err
	}
	k, err := s.newIdem(viewer.key(), key, "redeem", "token", token)
	if err != nil {
		return Redemption{}, err
	}
	return once(ctx, s, k, func(rec wallet.IdempotencyRecord) (Redemption, error) { return s.replayRedemption(ctx, rec) },
		func() (Redemption, error) { return s.redeemToken(ctx, viewer, token, k) })
}

// RedeemCodeOnce is RedeemCode for a request with an Idempotency-Key, as
// RedeemTokenOnce. A replay counts no wrong code and spends nothing.
func (s *Service) RedeemCodeOnce(ctx context.Context, viewer Viewer, ownerIIN wallet.IIN, code, key string) (Redemption, error) {
	if key == "" {
		return s.RedeemCode(ctx, viewer, ownerIIN, code)
	}
	if err := viewer.check(); err != nil {
		return Redemption{}, err
	}
	k, err := s.newIdem(viewer.key(), key, "redeem", "code", string(ownerIIN), code)
	if err != nil {
		return Redemption{}, err
	}
	return once(ctx, s, k, func(rec wallet.IdempotencyRecord) (Redemption, error) { return s.replayRedemption(ctx, rec) },
		func() (Redemption, error) { return s.redeemCode(ctx, viewer, ownerIIN, code, k) })
}

// openOutcome is what share issuance stores to answer again, sealed: the
// token and the short code exist in clear nowhere else.
type openOutcome struct {
	Share     wallet.Share `json:"share"`
	Token     string       `json:"token"`
	ShortCode string       `json:"short_code"`
	CodeKey   string       `json:"code_key"`
}

// sealOutcomeContext binds a sealed outcome to its caller and key.
const sealOutcomeContext = "qujat idempotent share\x00"

func (k *idem) sealContext() []byte {
	return []byte(sealOutcomeContext + k.caller + "\x00" + k.key)
}

func (k *idem) opened(aead cipher.AEAD, r io.Reader, now time.Time, o openOutcome) (wallet.Op, error) {
	plain, err := json.Marshal(o)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot encode share outcome")
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "random source failed")
	}
	return k.save(now, aead.Seal(nonce, nonce, plain, k.sealContext())), nil
}

// replayOpen answers share issuance again: the same share, token and code.
// If the first request stopped after its commit, before the share's
// ticket, code and sealed token reached the short-lived store, they are
// put there now (for an active share, with the views it has left).
func (s *Service) replayOpen(ctx context.Context, k *idem, rec wallet.IdempotencyRecord) (Opened, error) {
	aead, err := s.aead()
	if err != nil {
		return Opened{}, err
	}
	n := aead.NonceSize()
	if len(rec.Outcome) < n {
		return Opened{}, wallet.Errorf(wallet.EINTERNAL, "sealed share outcome is too short")
	}
	plain, err := aead.Open(nil, rec.Outcome[:n], rec.Outcome[n:], k.sealContext())
	if err != nil {
		return Opened{}, wallet.Wrap(wallet.EINTERNAL, err, "sealed share outcome does not open")
	}
	var o openOutcome
	if err := json.Unmarshal(plain, &o); err != nil {
		return Opened{}, wallet.Wrap(wallet.EINTERNAL, err, "sealed share outcome does not decode")
	}
	if err := s.restoreShortLived(ctx, aead, o); err != nil {
		return Opened{}, err
	}
	return Opened{Share: o.Share, Token: o.Token, ShortCode: o.ShortCode, URL: s.shareURL(o.Token)}, nil
}

// restoreShortLived puts a share's short-lived keys back if its sealed
// token (the last of them Open writes) is missing and the share is active.
func (s *Service) restoreShortLived(ctx context.Context, aead cipher.AEAD, o openOutcome) error {
	_, err := s.Codes.Get(ctx, sealedKey(o.Share.ID))
	if err == nil {
		return nil
	}
	if !wallet.IsCode(err, wallet.ENOTFOUND) {
		return err
	}
	sh, err := s.Store.Share(ctx, o.Share.ID)
	if err != nil {
		return err
	}
	now := s.now()
	ttl := sh.ExpiresAt.Sub(now)
	if sh.State(now) != wallet.ShareActive || ttl <= 0 {
		return nil // nothing to redeem any more: the share says so itself
	}
	if _, err := s.Codes.PutNew(ctx, o.CodeKey, []byte(sh.ID), ttl); err != nil {
		return err
	}
	entry, err := json.Marshal(shareEntry{
		ShareID: sh.ID, DocumentID: sh.DocumentID, OwnerIIN: sh.OwnerIIN, CreatedBy: sh.CreatedBy, CodeKey: o.CodeKey,
		TokenHash: s.Hasher.Hash(wallet.SecretShareToken, o.Token),
		CodeHash:  s.Hasher.Hash(wallet.SecretShortCode, o.ShortCode),
	})
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "cannot encode share entry")
	}
	sealed, err := seal(aead, s.rand(), sh.ID, sealedRecord{Token: o.Token, CodeKey: o.CodeKey})
	if err != nil {
		return err
	}
	return s.Codes.PutAll(ctx, ttl, wallet.KeyValue{Key: entryKey(sh.ID), Value: entry},
		wallet.KeyValue{Key: sealedKey(sh.ID), Value: sealed})
}

// OpenOnce is Open for a request with an Idempotency-Key (none if key is
// ""): a retry with the same key, document and terms answers the first
// share again (the same id, token and short code) and opens no other.
// EIDEMPOTENCY if createdBy used the key for another request; EINVALID for
// a malformed key; ECONFLICT while a request with the key is in progress;
// otherwise as Open.
func (s *Service) OpenOnce(ctx context.Context, doc wallet.Document, createdBy wallet.IIN, ttl time.Duration, maxViews int, key string) (Opened, error) {
	if key == "" {
		return s.Open(ctx, doc, createdBy, ttl, maxViews)
	}
	if _, err := wallet.ParseIIN(string(createdBy)); err != nil {
		return Opened{}, err
	}
	k, err := s.newIdem(string(createdBy), key, "open", doc.ID, strconv.FormatInt(int64(ttl), 10), strconv.Itoa(maxViews))
	if err != nil {
		return Opened{}, err
	}
	return once(ctx, s, k, func(rec wallet.IdempotencyRecord) (Opened, error) { return s.replayOpen(ctx, k, rec) },
		func() (Opened, error) { return s.open(ctx, doc, createdBy, ttl, maxViews, k) })
}
