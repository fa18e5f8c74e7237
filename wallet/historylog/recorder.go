package historylog

import (
	"context"

	"github.com/qujat/qujat/wallet"
)

// Recorder is a wallet.Store that appends every history event stored
// through it to the log: each view (share redemptions, consent releases,
// guardians' views) and each event (shares opened and revoked, codes voided,
// consent decisions). A call that stores such an event returns only after
// its leaf is durable, with the view's or event's LogIndex set, so that the
// response reporting the event can carry log_index.
//
// A share redemption and its leaf are committed in one transaction, the
// log batch's (Log.Redeem): either both are stored or neither is. Other
// views and events are committed first and logged second. If logging
// fails, the call returns the log's error (EUNAVAILABLE, ...): the caller
// releases nothing, and the event stays in the store without a log index
// (LogIndex -1), visible to `qujat audit` as unlogged.
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

// RecordView stores the view as wallet.Store does, then logs it.
func (r Recorder) RecordView(ctx context.Context, v wallet.View) error {
	if err := r.Store.RecordView(ctx, v); err != nil {
		return err
	}
	_, err := r.logView(ctx, v)
	return err
}

// AppendEvent stores the event as wallet.Store does, then logs it.
func (r Recorder) AppendEvent(ctx context.Context, e wallet.Event) error {
	if err := r.Store.AppendEvent(ctx, e); err != nil {
		return err
	}
	entry, err := EventEntry(e)
	if err != nil {
		return err
	}
	// The store sets the event's log index in the log's own transaction.
	_, err = r.Log.Append(context.WithoutCancel(ctx), entry)
	return err
}

func (r Recorder) logView(ctx context.Context, v wallet.View) (wallet.View, error) {
	entry, err := ViewEntry(v)
	if err != nil {
		return v, err
	}
	// The view is committed: log it even if the caller has gone away.
	// The store sets the view's log index in the log's own transaction.
	idx, err := r.Log.Append(context.WithoutCancel(ctx), entry)
	if err != nil {
		return v, err
	}
	v.LogIndex = idx[0]
	return v, nil
}
