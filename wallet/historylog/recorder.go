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
// The view or event is committed first and logged second. If logging
// fails, the call returns the log's error (EUNAVAILABLE, ...): the caller
// releases nothing, and the event stays in the store without a log index
// (LogIndex -1), visible to `qujat audit` as unlogged.
type Recorder struct {
	wallet.Store
	Log *Log
}

var _ wallet.Store = Recorder{}

// RedeemShare stores the view as wallet.Store does, then logs it.
func (r Recorder) RedeemShare(ctx context.Context, shareID string, v wallet.View) (wallet.View, error) {
	v, err := r.Store.RedeemShare(ctx, shareID, v)
	if err != nil {
		return v, err
	}
	return r.logView(ctx, v)
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
