package historylog

import (
	"context"

	"github.com/qujat/qujat/wallet"
)

// Recorder is a wallet.Store that puts every history event stored through
// it in the log: each view (share redemptions, consent releases, guardians'
// views) and each event (shares opened and revoked, codes voided, consent
// decisions) is written in the log batch's own transaction together with
// its leaf, so it is in the store exactly when its leaf is durable, and a
// call returns only after that commit. If the batch fails, nothing of it
// is stored and the caller gets the error: it releases nothing.
type Recorder struct {
	wallet.Store
	Log *Log
}

var _ wallet.Store = Recorder{}

// RedeemShare redeems the share and logs the view in one transaction
// (Log.Redeem), and returns the view with its LogIndex. Its errors are
// wallet.Store.RedeemShare's (EEXPIRED, ENOTFOUND, EINVALID, ECONFLICT),
// EINVALID for a view without id, owner or viewer, and the log's
// (EUNAVAILABLE, ...); on any error nothing was stored.
func (r Recorder) RedeemShare(ctx context.Context, shareID string, v wallet.View) (wallet.View, error) {
	return r.Log.Redeem(ctx, shareID, v)
}

// RecordView stores the view and its leaf in one transaction, the log
// batch's: the view is in the store exactly when its leaf is durable.
// EINVALID for a view without an id, an owner or a viewer; the log's errors
// otherwise (ECONFLICT if the id exists: the batch fails).
func (r Recorder) RecordView(ctx context.Context, v wallet.View) error {
	entry, err := ViewEntry(v)
	if err != nil {
		return err
	}
	nv := v
	entry.NewView = &nv
	_, err = r.Log.Append(context.WithoutCancel(ctx), entry)
	return err
}

// AppendEvent stores the event and its leaf in one transaction, the log
// batch's: the event is in the store exactly when its leaf is durable.
// EINVALID for an event without an id, a kind or a subject; the log's
// errors otherwise (ECONFLICT if the id exists: the batch fails).
func (r Recorder) AppendEvent(ctx context.Context, e wallet.Event) error {
	entry, err := EventEntry(e)
	if err != nil {
		return err
	}
	ev := e
	entry.NewEvent = &ev
	_, err = r.Log.Append(context.WithoutCancel(ctx), entry)
	return err
}
