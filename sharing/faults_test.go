package sharing_test

import (
	"testing"

	"github.com/qujat/qujat/wallet"
)

// The tests of this file make the write of a change's leaves fail
// (e.log.FailCommits), in the same transaction as the state change they
// record and after it applied: the caller gets the error and nothing of the
// change is stored.

func TestOpen_LeafWriteFailureStoresNoShare(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		owner := newIIN(t)
		doc := e.newDoc(t, owner)
		e.log.FailCommits(true)
		o, err := e.svc.Open(ctx, doc, owner, 0, 1)
		wantCode(t, err, wallet.EUNAVAILABLE)
		if o.Token != "" || o.ShortCode != "" {
			t.Errorf("a failed Open handed out %+v", o)
		}
		e.log.WantFailedLeaves(t)
		e.log.FailCommits(false)
		shares, err := e.store.Shares(ctx, owner)
		noErr(t, err)
		if len(shares) != 0 {
			t.Errorf("a failed Open stored shares %+v", shares)
		}
		if kinds := e.eventKinds(t, owner); len(kinds) != 0 {
			t.Errorf("owner's events %v after a failed Open, want none", kinds)
		}
		// The log goes on: the next Open works, with its event.
		o, err = e.svc.Open(ctx, doc, owner, 0, 1)
		noErr(t, err)
		if kinds := e.eventKinds(t, owner); len(kinds) != 1 || kinds[0] != wallet.EventShareOpened {
			t.Errorf("owner's events %v, want one share_opened", kinds)
		}
		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
	})
}

func TestRevoke_LeafWriteFailureLeavesTheShareActive(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 2)
		owner := doc.SubjectIIN
		e.log.FailCommits(true)
		wantCode(t, e.svc.Revoke(ctx, owner, o.Share.ID), wallet.EUNAVAILABLE)
		e.log.WantFailedLeaves(t)
		e.log.FailCommits(false)
		sh, err := e.store.Share(ctx, o.Share.ID)
		noErr(t, err)
		if sh.RevokedAt != nil {
			t.Errorf("a failed Revoke revoked the share at %v", sh.RevokedAt)
		}
		if kinds := e.eventKinds(t, owner); count(kinds, wallet.EventShareRevoked) != 0 {
			t.Errorf("owner's events %v after a failed Revoke, want no share_revoked", kinds)
		}
		// The share is as it was: it still releases, and may be revoked.
		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
		noErr(t, e.svc.Revoke(ctx, owner, o.Share.ID))
		if kinds := e.eventKinds(t, owner); count(kinds, wallet.EventShareRevoked) != 1 {
			t.Errorf("owner's events %v, want one share_revoked", kinds)
		}
		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		wantCode(t, err, wallet.EEXPIRED)
	})
}

func TestRedeem_LeafWriteFailureCountsNoViewAndKeepsTheUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 1)
		v := viewer(t)
		e.log.FailCommits(true)
		r, err := e.svc.RedeemToken(ctx, v, o.Token)
		wantCode(t, err, wallet.EUNAVAILABLE)
		if r.Document.ID != "" || r.View.ID != "" {
			t.Errorf("a failed redemption released %+v", r)
		}
		_, err = e.svc.RedeemCode(ctx, v, doc.SubjectIIN, o.ShortCode)
		wantCode(t, err, wallet.EUNAVAILABLE)
		e.log.WantFailedLeaves(t)
		e.log.FailCommits(false)
		sh, err := e.store.Share(ctx, o.Share.ID)
		noErr(t, err)
		if sh.Views != 0 {
			t.Errorf("share counts %d views after failed redemptions, want 0", sh.Views)
		}
		if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 0 {
			t.Errorf("%d views stored, want none", n)
		}
		seen, err := e.store.ViewsByViewer(ctx, wallet.ViewerCitizen, string(v.IIN))
		noErr(t, err)
		if len(seen) != 0 {
			t.Errorf("viewer's history %+v, want none", seen)
		}
		// The use went back: the single use is still there.
		r, err = e.svc.RedeemToken(ctx, v, o.Token)
		noErr(t, err)
		sh, err = e.store.Share(ctx, o.Share.ID)
		noErr(t, err)
		if sh.Views != 1 || len(e.viewsOfOwner(t, doc.SubjectIIN)) != 1 {
			t.Errorf("share counts %d views after the retry, want 1", sh.Views)
		}
	})
}

func TestRedeemCode_LeafWriteFailureRecordsNoCodesVoided(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 1)
		owner := doc.SubjectIIN
		wrong := wrongCodeFor(o)
		e.log.FailCommits(true)
		for i := range 3 { // three viewers, one wrong code each: the third voids
			_, err := e.svc.RedeemCode(ctx, viewer(t), owner, wrong)
			if i < 2 {
				wantCode(t, err, wallet.EINVALIDCODE)
			} else {
				wantCode(t, err, wallet.EUNAVAILABLE)
			}
		}
		e.log.WantFailedLeaves(t)
		e.log.FailCommits(false)
		if kinds := e.eventKinds(t, owner); count(kinds, wallet.EventCodesVoided) != 0 {
			t.Errorf("owner's events %v after a failed voiding, want no codes_voided", kinds)
		}
		// The owner's counter stayed full: the next guess against the owner
		// is refused, and records the void at last; then guessing resumes.
		_, err := e.svc.RedeemCode(ctx, viewer(t), owner, wrong)
		wantCode(t, err, wallet.ERATELIMITED)
		if kinds := e.eventKinds(t, owner); count(kinds, wallet.EventCodesVoided) != 1 {
			t.Errorf("owner's events %v after the retry, want one codes_voided", kinds)
		}
		_, err = e.svc.RedeemCode(ctx, viewer(t), owner, wrong)
		wantCode(t, err, wallet.EINVALIDCODE)
	})
}
