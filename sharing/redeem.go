package sharing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Viewer is the authenticated citizen who presents a token or a code, and
// the network address the request came from (as the API sees it; requests
// without one share a single address counter).
type Viewer struct {
	IIN wallet.IIN
	IP  string
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

// Counter keys of the short-lived store.
func viewer15mKey(iin wallet.IIN) string { return "rl:viewer15m:" + string(iin) }
func viewerDayKey(iin wallet.IIN) string { return "rl:viewerday:" + string(iin) }
func addressKey(ip string) string        { return "rl:ip:" + ip }
func ownerKey(owner wallet.IIN) string   { return "rl:owner:" + string(owner) }

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
	if _, err := wallet.ParseIIN(string(viewer.IIN)); err != nil {
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
// history.
//
// EINVALID for a malformed code, owner or viewer; EINVALIDCODE for a code
// that leads to no live share of the owner (AttemptsLeft is what the viewer
// has left); ERATELIMITED; ECONFLICT if the viewer owns or opened the share
// (nothing is spent); EEXPIRED if the share is expired, revoked or used up;
// EUNAVAILABLE if a store cannot be reached (fail closed: nothing is
// released); errors of Authorize and of the document reader as they are.
func (s *Service) RedeemCode(ctx context.Context, viewer Viewer, ownerIIN wallet.IIN, code string) (Redemption, error) {
	return s.redeemCode(ctx, viewer, ownerIIN, code, nil)
}

// redeemCode is RedeemCode, storing the outcome with k if set.
func (s *Service) redeemCode(ctx context.Context, viewer Viewer, ownerIIN wallet.IIN, code string, k *idem) (Redemption, error) {
	if _, err := wallet.ParseIIN(string(viewer.IIN)); err != nil {
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
	if err := s.checkLimits(ctx, lim, viewer); err != nil {
		return Redemption{}, err
	}
	gen, _, err := s.Codes.Count(ctx, codeGenKey(owner))
	if err != nil {
		return Redemption{}, err
	}
	hash := s.Hasher.Hash(wallet.SecretShortCode, code)
	id, err := s.Codes.Get(ctx, codeKey(owner, gen, hash))
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return Redemption{}, s.wrongCode(ctx, lim, viewer, owner)
	}
	if err != nil {
		return Redemption{}, err
	}
	return s.redeem(ctx, viewer, string(id), "code", hash, wallet.ChannelShortCode, k)
}

// checkLimits refuses a viewer or an address that has used up its wrong
// codes. Any failure to read a counter refuses too (fail closed).
func (s *Service) checkLimits(ctx context.Context, lim Limits, viewer Viewer) error {
	counters := []struct {
		key   string
		limit int
	}{
		{viewer15mKey(viewer.IIN), lim.ViewerWrongCodes15m},
		{viewerDayKey(viewer.IIN), lim.ViewerWrongCodesDay},
		{addressKey(viewer.IP), lim.AddressWrongCodesMinute},
	}
	var wait time.Duration
	for _, c := range counters {
		n, left, err := s.Codes.Count(ctx, c.key)
		if err != nil {
			return err
		}
		if n >= int64(c.limit) {
			wait = max(wait, left, time.Second)
		}
	}
	if wait > 0 {
		e := wallet.Errorf(wallet.ERATELIMITED, "too many wrong codes; try again later")
		e.RetryAfter = wait
		return e
	}
	return nil
}

// wrongCode counts a wrong guess against the viewer, the address and the
// owner, voids the owner's live codes when the owner's counter is full, and
// returns the EINVALIDCODE to give the viewer (or the error that stopped
// the counting).
func (s *Service) wrongCode(ctx context.Context, lim Limits, viewer Viewer, owner wallet.IIN) error {
	n15m, _, err := s.Codes.Incr(ctx, viewer15mKey(viewer.IIN), viewerWindow15m)
	if err != nil {
		return err
	}
	nDay, _, err := s.Codes.Incr(ctx, viewerDayKey(viewer.IIN), viewerWindowDay)
	if err != nil {
		return err
	}
	if _, _, err := s.Codes.Incr(ctx, addressKey(viewer.IP), addressWindow); err != nil {
		return err
	}
	nOwner, _, err := s.Codes.Incr(ctx, ownerKey(owner), ownerWindow)
	if err != nil {
		return err
	}
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
		// The owner's counter stays full, so the next wrong code voids
		// again and tries the event again: the void is never left without
		// its history for longer than until the next guess.
		return err
	}
	return s.Codes.Delete(ctx, ownerKey(owner))
}

// redeem releases one view of the share to viewer, the secret (named name
// in the ticket, hashed as hash) having led to shareID. With k, the
// outcome is stored with the view, in its change.
func (s *Service) redeem(ctx context.Context, viewer Viewer, shareID, name, hash, channel string, k *idem) (Redemption, error) {
	sh, err := s.Store.Share(ctx, shareID)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return Redemption{}, wallet.Errorf(wallet.EEXPIRED, "the share has expired")
	}
	if err != nil {
		return Redemption{}, err
	}
	if viewer.IIN == sh.OwnerIIN || viewer.IIN == sh.CreatedBy {
		return Redemption{}, wallet.Errorf(wallet.ECONFLICT, "you cannot redeem a share of your own")
	}
	now := s.now()
	if st := sh.State(now); st != wallet.ShareActive {
		return Redemption{}, wallet.Errorf(wallet.EEXPIRED, "the share is %s", st)
	}
	if s.Authorize != nil {
		if err := s.Authorize(ctx, sh); err != nil {
			return Redemption{}, err
		}
	}
	doc, err := s.Documents.Document(ctx, sh.DocumentID)
	if err != nil {
		return Redemption{}, err
	}

	use, err := s.Codes.UseTicket(ctx, ticketKey(shareID), name, hash)
	switch wallet.ErrorCode(err) {
	case "":
	case wallet.ENOTFOUND, wallet.EINVALIDCODE:
		// Gone (expired, used up, revoked, lost with the store) or a token
		// whose secret part is wrong: either way this share releases
		// nothing to this caller, and which it was is not said.
		return Redemption{}, wallet.Errorf(wallet.EEXPIRED, "the share has expired")
	default:
		return Redemption{}, err
	}
	var p ticketPayload
	if err := json.Unmarshal(use.Payload, &p); err != nil || p.ShareID != shareID {
		s.returnUse(ctx, sh, use)
		return Redemption{}, wallet.Errorf(wallet.EINTERNAL, "share ticket payload does not match the share")
	}

	viewID, err := wallet.NewID(s.rand(), "vw_")
	if err != nil {
		s.returnUse(ctx, sh, use)
		return Redemption{}, err
	}
	v := wallet.View{
		ID:           viewID,
		DocumentID:   sh.DocumentID,
		DocumentType: doc.Type,
		OwnerIIN:     sh.OwnerIIN,
		ViewerKind:   wallet.ViewerCitizen,
		ViewerID:     string(viewer.IIN),
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
			s.returnUse(ctx, sh, use)
			return Redemption{}, err
		}
		ops = append(ops, op)
	}
	indexes, err := s.Changes.Commit(ctx, wallet.Change{Ops: ops})
	if err != nil {
		// Nothing was stored, so nothing is released; the use goes back to
		// the ticket so that a retry can succeed.
		s.returnUse(ctx, sh, use)
		return Redemption{}, err
	}
	v.ShareID, v.LogIndex = shareID, indexes[0]
	return Redemption{View: v, Document: doc}, nil
}

// returnUse gives a use spent on a redemption that was not committed back
// to the share's ticket, best effort. A ticket whose last use was spent is
// gone (UseTicket deletes it), so ReturnTicketUse cannot reach it: it is put
// back with one use, its secrets rebuilt from the sealed record (the token,
// and the code's hash, which ends the code's key), for the time the share
// has left. Should the ticket have vanished meanwhile for another reason
// (revoked, lost with the store), the durable share still refuses what it
// must, and the sealed record is usually gone with it.
func (s *Service) returnUse(ctx context.Context, sh wallet.Share, use wallet.TicketUse) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	if use.UsesLeft > 0 {
		_ = s.Codes.ReturnTicketUse(ctx, ticketKey(sh.ID))
		return
	}
	ttl := sh.ExpiresAt.Sub(s.now())
	if ttl <= 0 {
		return
	}
	rec, err := s.unsealed(ctx, sh.ID)
	if err != nil {
		return
	}
	codeHash := rec.CodeKey[strings.LastIndexByte(rec.CodeKey, ':')+1:]
	t := shareTicket(s.Hasher.Hash(wallet.SecretShareToken, rec.Token), codeHash, 1, use.Payload)
	_ = s.Codes.PutTicket(ctx, ticketKey(sh.ID), t, ttl)
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
