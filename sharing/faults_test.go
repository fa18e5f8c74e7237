package sharing_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// faultyLog is the durable store as the history log sees it, with faults a
// test may arm:
//   - down: a batch's transaction cannot even begin, as with a database
//     that went away;
//   - failCommit: a batch's transaction fails at its very end, when the
//     leaves are written, after its changes were applied in it.
//
// Nothing of a batch that fails either way is stored.
type faultyLog struct {
	historylog.LogStore
	down       atomic.Bool
	failCommit atomic.Bool
	// lost counts the leaves of the batches that failCommit failed: a
	// change gets leaves only if its state applied in the transaction, so
	// a count above zero shows that the fault struck after the state
	// change ran.
	lost atomic.Int64
}

func (f *faultyLog) BeginAppend(ctx context.Context) (historylog.AppendTx, error) {
	if f.down.Load() {
		return nil, wallet.Errorf(wallet.EUNAVAILABLE, "database unavailable")
	}
	tx, err := f.LogStore.BeginAppend(ctx)
	if err != nil {
		return nil, err
	}
	return &faultyTx{AppendTx: tx, f: f}, nil
}

// faultyTx is a batch's transaction under a faultyLog.
type faultyTx struct {
	historylog.AppendTx
	f *faultyLog
}

func (t *faultyTx) Commit(ctx context.Context, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	if t.f.failCommit.Load() {
		t.f.lost.Add(int64(len(leaves)))
		// The Log rolls the transaction back.
		return wallet.Errorf(wallet.EUNAVAILABLE, "the history log's leaves could not be written")
	}
	return t.AppendTx.Commit(ctx, firstIndex, leaves, hashes, cp)
}

// failLeaves arms failCommit until the returned func disarms it.
func (e *env) failLeaves() (disarm func()) {
	e.log.failCommit.Store(true)
	return func() { e.log.failCommit.Store(false) }
}

// wantLost checks that the failed change was applied in its transaction
// and had its leaves built when their write failed.
func (e *env) wantLost(t testing.TB) {
	t.Helper()
	if e.log.lost.Load() == 0 {
		t.Fatal("the fault did not strike a change that had applied")
	}
}

func TestOpen_LeafWriteFailureStoresNoShare(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		owner := newIIN(t)
		doc := e.newDoc(t, owner)
		disarm := e.failLeaves()
		o, err := e.svc.Open(ctx, doc, owner, 0, 1)
		wantCode(t, err, wallet.EUNAVAILABLE)
		if o.Token != "" || o.ShortCode != "" {
			t.Errorf("a failed Open handed out %+v", o)
		}
		e.wantLost(t)
		disarm()
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
		disarm := e.failLeaves()
		wantCode(t, e.svc.Revoke(ctx, owner, o.Share.ID), wallet.EUNAVAILABLE)
		e.wantLost(t)
		disarm()
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
		disarm := e.failLeaves()
		r, err := e.svc.RedeemToken(ctx, v, o.Token)
		wantCode(t, err, wallet.EUNAVAILABLE)
		if r.Document.ID != "" || r.View.ID != "" {
			t.Errorf("a failed redemption released %+v", r)
		}
		_, err = e.svc.RedeemCode(ctx, v, doc.SubjectIIN, o.ShortCode)
		wantCode(t, err, wallet.EUNAVAILABLE)
		e.wantLost(t)
		disarm()
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
		disarm := e.failLeaves()
		for i := range 3 { // three viewers, one wrong code each: the third voids
			_, err := e.svc.RedeemCode(ctx, viewer(t), owner, wrong)
			if i < 2 {
				wantCode(t, err, wallet.EINVALIDCODE)
			} else {
				wantCode(t, err, wallet.EUNAVAILABLE)
			}
		}
		e.wantLost(t)
		disarm()
		if kinds := e.eventKinds(t, owner); count(kinds, wallet.EventCodesVoided) != 0 {
			t.Errorf("owner's events %v after a failed voiding, want no codes_voided", kinds)
		}
	})
}
