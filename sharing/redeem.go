package sharing

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/qujat/qujat/wallet"
)

// Viewer is who presents a token or a code: an authenticated citizen, or
// an organisation at its counter (a bank's or an insurer's system, by its
// client credentials) to which the citizen presents the QR or the code. IP
// is the network address the request came from (as the API sees it;
// requests without one share a single address counter).
type Viewer struct {
	IIN wallet.IIN
	// Organisation is the client id of an organisation viewer; IIN is
	// empty then.
	Organisation string
	IP           string
}

// check accepts a viewer that is exactly one of a citizen with a valid IIN
// or an organisation. EINVALID otherwise.
func (v Viewer) check() error {
	switch {
	case v.Organisation != "" && v.IIN != "":
		return wallet.Errorf(wallet.EINVALID, "a viewer is a citizen or an organisation, not both")
	case v.Organisation != "":
		return nil
	}
	_, err := wallet.ParseIIN(string(v.IIN))
	return err
}

// kind and id name the viewer in the view (wallet.View.ViewerKind and
// ViewerID), as consent releases name organisations.
func (v Viewer) kind() string {
	if v.Organisation != "" {
		return wallet.ViewerOrganisation
	}
	return wallet.ViewerCitizen
}

func (v Viewer) id() string {
	if v.Organisation != "" {
		return v.Organisation
	}
	return string(v.IIN)
}

// key is the viewer's name in counters and idempotency records: a
// citizen's IIN, an organisation's client id prefixed so that it can never
// meet an IIN.
func (v Viewer) key() string {
	if v.Organisation != "" {
		return "org:" + v.Organisation
	}
	return string(v.IIN)
}

// Redemption is what a successful redemption releases: the durably recorded
// view and the document.
type Redemption struct {
	View     wallet.View
	Document wallet.Document
	// Replayed is set when the redemption is a stored outcome answered
	// again for a retry with the same Idempotency-Key.
	Replayed bool
}

// Counter keys of the short-lived store. They share one hash tag, so that
// Reserve counts a guess against all four in one script, also on a Redis
// Cluster (where keys of different slots cannot meet in one script). That
// puts every guessing counter in one slot, on one node: a few small commands
// per code entered, far below what one node serves.
func viewer15mKey(viewer string) string { return "rl:{codeguess}:viewer15m:" + viewer }
func viewerDayKey(viewer string) string { return "rl:{codeguess}:viewerday:" + viewer }
func addressKey(ip string) string       { return "rl:{codeguess}:ip:" + ip }
func ownerKey(owner wallet.IIN) string  { return "rl:{codeguess}:owner:" + string(owner) }

// voidPendingKey marks an owner whose codes were voided without the event
// reaching the history yet.
func voidPendingKey(owner wallet.IIN) string { return "codevoidpending:" + string(owner) }

// RedeemToken redeems the token of a QR link for viewer. The document is
// returned only after the view is durably recorded, in the owner's history
// and the viewer's.
//
// EINVALID for a malformed token or viewer; ECONFLICT if the viewer owns or
// opened the share (nothing is spent); EEXPIRED if the token is unknown,
// wrong, expired, revoked or used up (which of these is not said);
// EUNAVAILABLE if a store cannot be reached (nothing is released); errors
// of Authorize and of the document reader as they are.
func (s *Service) RedeemToken(ctx context.Context, viewer Viewer, token string) (Redemption, error) {
	return s.redeemToken(ctx, viewer, token, nil)
}

// redeemToken is RedeemToken, storing the outcome with k if set.
func (s *Service) redeemToken(ctx context.Context, viewer Viewer, token string, k *idem) (Redemption, error) {
	if err := viewer.check(); err != nil {
		return Redemption{}, err
	}
	shareID, ok := parseToken(token)
	if !ok {
		return Redemption{}, wallet.Errorf(wallet.EINVALID, "malformed share token")
	}
	return s.redeem(ctx, viewer, shareID, "token", s.Hasher.Hash(wallet.SecretShareToken, token), wallet.ChannelQR, k)
}

// RedeemCode redeems a six-digit short code of the owner's for viewer. The
// document is returned only after the view is durably recorded.
//
// Wrong codes are limited: a viewer who entered Limits.ViewerWrongCodes15m
// wrong codes in 15 minutes or Limits.ViewerWrongCodesDay in a day, or an
// address that sent Limits.AddressWrongCodesMinute in a minute, gets
// ERATELIMITED (RetryAfter set) before anything is looked up. The
// Limits.OwnerWrongCodes-th wrong code against one owner within 15 minutes
// voids all the owner's live codes and records codes_voided in the owner's
// history. Each code entered is reserved against all four budgets at once
// (wallet.ShortLivedStore.Reserve) before it is looked up, and a right code
// gives its reservation back afterwards: whatever the concurrency, no more
// guesses are judged than the limits allow. While it is looked up a right
// code holds its place too, so a burst of codes at one owner or from one
// address may be refused as ERATELIMITED even if right; trying again works.
//
// EINVALID for a malformed code, owner or viewer; EINVALIDCODE for a code
// that leads to no live share of the owner (AttemptsLeft is what the viewer
// has left); ERATELIMITED; ECONFLICT if the viewer owns or opened the share
// (nothing is spent); EEXPIRED if the share is expired, revoked or used up,
// or if the code was lost with the short-lived store (the owner has active
// shares and none of them is left there: nothing is counted then);
// EUNAVAILABLE if a store cannot be reached (fail closed: nothing is
// released); errors of Authorize and of the document reader as they are.
func (s *Service) RedeemCode(ctx context.Context, viewer Viewer, ownerIIN wallet.IIN, code string) (Redemption, error) {
	return s.redeemCode(ctx, viewer, ownerIIN, code, nil)
}

// redeemCode is RedeemCode, storing the outcome with k if set.
func (s *Service) redeemCode(ctx context.Context, viewer Viewer, ownerIIN wallet.IIN, code string, k *idem) (Redemption, error) {
	if err := viewer.check(); err != nil {
		return Redemption{}, err
	}
	owner, err := wallet.ParseIIN(string(ownerIIN))
	if err != nil {
		return Redemption{}, err
	}
	if !validCode(code) {
		return Redemption{}, wallet.Errorf(wallet.EINVALID, "short_code must be six digits")
	}
	lim := s.limits()
	// The guess is reserved against every budget at once, before anything
	// is looked up: however many guesses arrive together, no more than the
	// limits are ever judged. Only wrong codes keep their reservation.
	budgets := guessBudgets(lim, viewer, owner)
	counts, err := s.Codes.Reserve(ctx, budgets)
	if wallet.IsCode(err, wallet.ERATELIMITED) {
		s.retryVoid(ctx, owner)
		e := wallet.Errorf(wallet.ERATELIMITED, "too many wrong codes; try again later")
		var we *wallet.Error
		if errors.As(err, &we) {
			e.RetryAfter = we.RetryAfter
		}
		return Redemption{}, e
	}
	if err != nil {
		return Redemption{}, err
	}
	giveBack := func() {
		ctx, cancel := cleanupContext(ctx)
		defer cancel()
		_ = s.Codes.Unreserve(ctx, budgetKeys(budgets)...)
	}
	gen, _, err := s.Codes.Count(ctx, codeGenKey(owner))
	if err != nil {
		giveBack()
		return Redemption{}, err
	}
	hash := s.Hasher.Hash(wallet.SecretShortCode, code)
	id, err := s.Codes.Get(ctx, codeKey(owner, gen, hash))
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		vanished, err := s.codesVanished(ctx, owner)
		if err != nil {
			giveBack()
			return Redemption{}, err
		}
		if vanished {
			giveBack()
			return Redemption{}, wallet.Errorf(wallet.EEXPIRED, "the code is no longer valid; ask the owner for a new one")
		}
		return Redemption{}, s.wrongCode(ctx, lim, counts, owner)
	}
	giveBack()
	if err != nil {
		return Redemption{}, err
	}
	return s.redeem(ctx, viewer, string(id), "code", hash, wallet.ChannelShortCode, k)
}

// guessBudgets are the counters one code guess is reserved against: the
// viewer's in 15 minutes and in a day, the address's in a minute and the
// owner's in 15 minutes.
func guessBudgets(lim Limits, viewer Viewer, owner wallet.IIN) []wallet.Budget {
	return []wallet.Budget{
		{Key: viewer15mKey(viewer.key()), Limit: int64(lim.ViewerWrongCodes15m), Window: viewerWindow15m},
		{Key: viewerDayKey(viewer.key()), Limit: int64(lim.ViewerWrongCodesDay), Window: viewerWindowDay},
		{Key: addressKey(viewer.IP), Limit: int64(lim.AddressWrongCodesMinute), Window: addressWindow},
		{Key: ownerKey(owner), Limit: int64(lim.OwnerWrongCodes), Window: ownerWindow},
	}
}

func budgetKeys(budgets []wallet.Budget) []string {
	keys := make([]string, len(budgets))
	for i, b := range budgets {
		keys[i] = b.Key
	}
	return keys
}

// retryVoid voids the owner's codes again if a void's event could not be
// committed (voidCodes left its mark): the next guess against the owner
// tries it again. Best effort. A full owner counter alone is not enough,
// since it is full too while a void is under way.
func (s *Service) retryVoid(ctx context.Context, owner wallet.IIN) {
	if _, err := s.Codes.Get(ctx, voidPendingKey(owner)); err != nil {
		return
	}
	n, _, err := s.Codes.Count(ctx, ownerKey(owner))
	if err == nil {
		_ = s.voidCodes(ctx, owner, n)
	}
}

// codesVanished reports whether every code of the owner's live shares is
// gone from the short-lived store while the durable store still holds the
// shares as active: the store lost its data (a Redis restart without
// persistence). A code guessed then cannot match anything live, so the miss
// is not counted as a wrong guess, which would lock out viewers retrying a
// real code and void the owner's new codes. As soon as one of the owner's
// active shares has its entry, a miss counts again, so unlimited guessing
// is only ever possible while the owner has no live code to find.
func (s *Service) codesVanished(ctx context.Context, owner wallet.IIN) (bool, error) {
	shares, err := s.Store.Shares(ctx, owner)
	if err != nil {
		return false, err
	}
	now := s.now()
	active := 0
	for _, sh := range shares {
		if sh.OwnerIIN != owner || sh.State(now) != wallet.ShareActive {
			continue
		}
		active++
		_, err := s.Codes.Get(ctx, entryKey(sh.ID))
		if err == nil {
			return false, nil
		}
		if !wallet.IsCode(err, wallet.ENOTFOUND) {
			return false, err
		}
	}
	return active > 0, nil
}

// wrongCode handles a guess, reserved with counts (as guessBudgets), that
// led to no live share: it voids the owner's live codes when the owner's
// counter is full and returns the EINVALIDCODE to give the viewer (or the
// error that stopped the voiding).
func (s *Service) wrongCode(ctx context.Context, lim Limits, counts []int64, owner wallet.IIN) error {
	n15m, nDay, nOwner := counts[0], counts[1], counts[3]
	if nOwner >= int64(lim.OwnerWrongCodes) {
		if err := s.voidCodes(ctx, owner, nOwner); err != nil {
			return err
		}
	}
	e := wallet.Errorf(wallet.EINVALIDCODE, "wrong code")
	e.AttemptsLeft = max(0, min(lim.ViewerWrongCodes15m-int(n15m), lim.ViewerWrongCodesDay-int(nDay)))
	return e
}

// voidCodes makes every live short code of the owner unreachable by moving
// the owner to a new code generation (the old keys expire on their own),
// tells the owner in their history and then restarts the owner's counter.
// Tokens of the affected shares keep working.
func (s *Service) voidCodes(ctx context.Context, owner wallet.IIN, wrong int64) error {
	gen, _, err := s.Codes.Incr(ctx, codeGenKey(owner), codeGenWindow)
	if err != nil {
		return err
	}
	ev, err := s.event(wallet.Event{
		Kind:       wallet.EventCodesVoided,
		SubjectIIN: owner,
		ActorKind:  "system",
		ActorID:    "sharing",
		ObjectID:   string(owner),
		Details: map[string]string{
			"reason":      "too many wrong short codes",
			"wrong_codes": strconv.FormatInt(wrong, 10),
			"generation":  strconv.FormatInt(gen, 10),
		},
		At: s.now(),
	})
	if err != nil {
		return err
	}
	if _, err := s.Changes.Commit(ctx, wallet.Change{Events: []wallet.Event{ev}}); err != nil {
		// The owner's counter stays full and the void is marked pending, so
		// the next guess against the owner voids again (retryVoid) and tries
		// the event again: the void is never left without its history for
		// longer than until the next guess.
		mctx, cancel := cleanupContext(ctx)
		defer cancel()
		_ = s.Codes.Put(mctx, voidPendingKey(owner), []byte("1"), ownerWindow)
		return err
	}
	return s.Codes.Delete(ctx, ownerKey(owner), voidPendingKey(owner))
}

// redeem releases one view of the share to viewer, the secret (named name
// in the ticket, hashed as hash) having led to shareID. With k, the
// outcome is stored with the view, in its change.
func (s *Service) redeem(ctx context.Context, viewer Viewer, shareID, name, hash, channel string, k *idem) (Redemption, error) {
	// The short-lived store says which share the secret leads to and
	// whose it is; it counts nothing, and the share's row is not read: the
	// durable commit below alone judges whether the share is live and a
	// view is left (EEXPIRED otherwise), so a redemption that fails,
	// crashes or is sent twice never spends a view that was not recorded,
	// and a share revoked or used up whose entry outlived it releases
	// nothing.
	raw, err := s.Codes.Get(ctx, entryKey(shareID))
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		// Gone: expired, revoked or lost with the store.
		return Redemption{}, wallet.Errorf(wallet.EEXPIRED, "the share has expired")
	}
	if err != nil {
		return Redemption{}, err
	}
	var entry shareEntry
	if err := json.Unmarshal(raw, &entry); err != nil || entry.ShareID != shareID || entry.DocumentID == "" ||
		entry.OwnerIIN == "" || entry.CreatedBy == "" {
		return Redemption{}, wallet.Errorf(wallet.EINTERNAL, "share entry does not match the share")
	}
	want := entry.TokenHash
	if name == "code" {
		want = entry.CodeHash
	}
	// The values compared are HMACs; constant time all the same.
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(hash)) != 1 {
		// A token whose secret part is wrong: this share releases nothing
		// to this caller, and why is not said.
		return Redemption{}, wallet.Errorf(wallet.EEXPIRED, "the share has expired")
	}
	sh := wallet.Share{ID: shareID, DocumentID: entry.DocumentID, OwnerIIN: entry.OwnerIIN, CreatedBy: entry.CreatedBy}
	if viewer.IIN != "" && (viewer.IIN == sh.OwnerIIN || viewer.IIN == sh.CreatedBy) {
		return Redemption{}, wallet.Errorf(wallet.ECONFLICT, "you cannot redeem a share of your own")
	}
	now := s.now()
	if s.Authorize != nil {
		if err := s.Authorize(ctx, sh); err != nil {
			return Redemption{}, err
		}
	}
	doc, err := s.Documents.Document(ctx, sh.DocumentID)
	if err != nil {
		return Redemption{}, err
	}

	viewID, err := wallet.NewTimeID(s.rand(), now, "vw_")
	if err != nil {
		return Redemption{}, err
	}
	v := wallet.View{
		ID:           viewID,
		DocumentID:   sh.DocumentID,
		DocumentType: doc.Type,
		OwnerIIN:     sh.OwnerIIN,
		ViewerKind:   viewer.kind(),
		ViewerID:     viewer.id(),
		Channel:      channel,
		ShareID:      shareID,
		At:           now,
		LogIndex:     -1,
	}
	if sh.CreatedBy != sh.OwnerIIN {
		v.SharedBy = sh.CreatedBy
	}
	ops := []wallet.Op{wallet.RedeemShare{ShareID: shareID, View: v}}
	if k != nil {
		op, err := k.redeemed(now, v)
		if err != nil {
			return Redemption{}, err
		}
		ops = append(ops, op)
	}
	indexes, err := s.Changes.Commit(ctx, wallet.Change{Ops: ops})
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		// An entry without its share (a store restored from a backup older
		// than the entry): nothing to release.
		return Redemption{}, wallet.Wrap(wallet.EEXPIRED, err, "the share has expired")
	}
	if err != nil {
		// Nothing was stored, so nothing is released and no view is spent:
		// a retry can succeed.
		return Redemption{}, err
	}
	v.ShareID, v.LogIndex = shareID, indexes[0]
	return Redemption{View: v, Document: doc}, nil
}

// parseToken checks a token is a share id ("shr_" and 26 base32
// characters), a dot and the base64url secret, and returns the share id.
func parseToken(token string) (string, bool) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok || len(id) != len("shr_")+26 || !strings.HasPrefix(id, "shr_") {
		return "", false
	}
	for _, c := range id[len("shr_"):] {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", false
		}
	}
	if len(secret) != base64.RawURLEncoding.EncodedLen(tokenSecretBytes) {
		return "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", false
	}
	return id, true
}

func validCode(code string) bool {
	if len(code) != shortCodeDigits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// TokenState says what the token of a QR link leads to, without spending
// or counting anything: wallet.ShareActive, ShareExpired, ShareRevoked or
// ShareUsed. It lets a web page answer "no such link" or "this link is
// used" before the viewer signs in; only a redemption releases anything.
// The share id in a token has 130 random bits, so telling a dead share from
// an unknown one reveals nothing guessable.
//
// ENOTFOUND if the token is malformed, names no share or its secret is
// wrong (while the short-lived store still knows the share); EUNAVAILABLE
// if a store cannot be reached.
func (s *Service) TokenState(ctx context.Context, token string) (string, error) {
	shareID, ok := parseToken(token)
	if !ok {
		return "", wallet.Errorf(wallet.ENOTFOUND, "no such share")
	}
	sh, err := s.Store.Share(ctx, shareID)
	if err != nil {
		return "", err
	}
	raw, err := s.Codes.Get(ctx, entryKey(shareID))
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		// Gone from the short-lived store: expired, revoked, or lost with it.
		if st := sh.State(s.now()); st != wallet.ShareActive {
			return st, nil
		}
		return wallet.ShareExpired, nil
	case err != nil:
		return "", err
	}
	var entry shareEntry
	if err := json.Unmarshal(raw, &entry); err != nil || entry.ShareID != shareID {
		return "", wallet.Errorf(wallet.EINTERNAL, "share entry does not match the share")
	}
	hash := s.Hasher.Hash(wallet.SecretShareToken, token)
	if entry.TokenHash == "" || subtle.ConstantTimeCompare([]byte(entry.TokenHash), []byte(hash)) != 1 {
		return "", wallet.Errorf(wallet.ENOTFOUND, "no such share")
	}
	return sh.State(s.now()), nil
}
