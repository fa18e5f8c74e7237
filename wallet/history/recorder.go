package history

import (
	"context"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
)

// Recorder commits the wallet's changes with their history: it is the
// service's wallet.Committer. Each Change becomes one historylog.Change
// whose state is the change's ops (applied by the store in the log batch's
// transaction) and whose entries are its history rows, each entry carrying
// its row for the store to write with the leaf.
type Recorder struct {
	Log *historylog.Log
}

var _ wallet.Committer = Recorder{}

// Commit stores the change and its leaves in one transaction (see
// wallet.Committer). The context only bounds the wait for a batch: once the
// change is taken into one, it is committed or not whatever happens to ctx,
// and Commit waits for the outcome, so that a caller hanging up never
// leaves a change whose history the caller did not see committed.
func (r Recorder) Commit(ctx context.Context, c wallet.Change) ([]int64, error) {
	entries, err := Entries(c)
	if err != nil {
		return nil, err
	}
	var state any
	if len(c.Ops) > 0 {
		state = c.Ops
	}
	return r.Log.Commit(ctx, historylog.Change{State: state, Entries: entries})
}

// Entries returns the log entries of a change, in the order of
// wallet.Committer's indexes: one per RedeemShare or AppendVersion op, then
// one per event, then one per view. EINVALID for a malformed row.
func Entries(c wallet.Change) ([]historylog.Entry, error) {
	entries := make([]historylog.Entry, 0, len(c.Ops)+len(c.Events)+len(c.Views))
	for _, op := range c.Ops {
		switch op := op.(type) {
		case wallet.RedeemShare:
			// The entry commits to the view as the op stores it, so the
			// view must say which document it is of.
			v := op.View
			v.ShareID = op.ShareID
			if v.DocumentID == "" {
				return nil, wallet.Errorf(wallet.EINVALID, "history log: a redeemed view needs its document")
			}
			e, err := ViewEntry(v)
			if err != nil {
				return nil, err
			}
			e.Record = wallet.RedeemedView{ID: v.ID}
			entries = append(entries, e)
		case wallet.AppendVersion:
			e, err := VersionEntry(op.Document.SubjectIIN, op.Version)
			if err != nil {
				return nil, err
			}
			entries = append(entries, e)
		}
	}
	for _, ev := range c.Events {
		e, err := EventEntry(ev)
		if err != nil {
			return nil, err
		}
		e.Record = ev
		entries = append(entries, e)
	}
	for _, v := range c.Views {
		e, err := ViewEntry(v)
		if err != nil {
			return nil, err
		}
		e.Record = v
		entries = append(entries, e)
	}
	return entries, nil
}
