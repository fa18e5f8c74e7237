package history

import (
	"context"
	"errors"
	"fmt"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
)

// Rows is what Audit reads of the wallet's history rows, besides the log.
// wallet/sqlite and wallet/postgres provide it.
type Rows interface {
	// EachView calls fn for every view, in no particular order.
	EachView(ctx context.Context, fn func(wallet.View) error) error
	// EachEvent calls fn for every history event.
	EachEvent(ctx context.Context, fn func(wallet.Event) error) error
	// EachVersion calls fn for every document version, ordered by
	// document id then version, with the document's subject.
	EachVersion(ctx context.Context, fn func(subject wallet.IIN, v wallet.Version) error) error
}

// AuditStore is a store whose log and rows Audit checks.
type AuditStore interface {
	historylog.LogStore
	Rows
}

// Report is what a passed Audit saw.
type Report struct {
	Log       historylog.AuditReport
	Views     int64
	Events    int64
	Versions  int64
	Documents int64
}

// RowError is a failed Audit of the rows against the log: what is wrong
// first, in the order views, events, documents, then leaves without rows.
type RowError struct {
	// What names the row ("view vw_…", "event evt_…", "document doc_…") or
	// the leaf ("leaf 17").
	What   string
	Reason string
}

func (e *RowError) Error() string { return fmt.Sprintf("%s: %s", e.What, e.Reason) }

// leafInfo is what Audit keeps of each leaf.
type leafInfo struct {
	leaf    historylog.Leaf
	claimed bool
}

// Audit checks the history log (historylog.Audit) and then the rows
// against it: every view, event and document version has a leaf (its log
// index is set); the leaf at that index is of the row's kind and commits
// to the row as it is now (its payload recomputed from the row); no two
// rows claim one leaf; every leaf is claimed by a row; and every
// document's versions form an intact hash chain (wallet.VerifyChain). A
// document whose whole chain was rewritten is caught by its versions no
// longer matching their leaves; one whose latest versions were removed, by
// leaves without rows.
//
// It returns a *historylog.AuditError for a bad log, a *RowError naming the
// first bad row, document or leaf (errors.As), or the stores' errors.
// It keeps every leaf in memory while it runs.
func Audit(ctx context.Context, s AuditStore, verifierKey string) (Report, error) {
	var rep Report
	logRep, err := historylog.Audit(ctx, s, verifierKey)
	if err != nil {
		return rep, err
	}
	rep.Log = logRep
	leaves := make(map[int64]*leafInfo, logRep.Size)
	for from := int64(0); from < logRep.Size; {
		page, err := s.Leaves(ctx, from, 1000)
		if err != nil {
			return rep, err
		}
		if len(page) == 0 {
			break
		}
		for _, l := range page {
			parsed, err := historylog.ParseLeaf(l.Data)
			if err != nil {
				return rep, &RowError{What: fmt.Sprintf("leaf %d", l.Index), Reason: wallet.ErrorMessage(err)}
			}
			leaves[l.Index] = &leafInfo{leaf: parsed}
		}
		from = page[len(page)-1].Index + 1
	}
	// claim checks that the row's leaf exists, is of kind, commits to
	// entry's payload and is claimed once.
	claim := func(what string, index int64, kind string, e historylog.Entry) error {
		if index < 0 {
			return &RowError{What: what, Reason: "has no leaf in the history log"}
		}
		li, ok := leaves[index]
		if !ok {
			return &RowError{What: what, Reason: fmt.Sprintf("names leaf %d, which the log does not have", index)}
		}
		if li.claimed {
			return &RowError{What: what, Reason: fmt.Sprintf("names leaf %d, which another row names too", index)}
		}
		li.claimed = true
		if li.leaf.Kind != kind {
			return &RowError{What: what, Reason: fmt.Sprintf("its leaf %d is a %s, not a %s", index, li.leaf.Kind, kind)}
		}
		if historylog.PayloadCommitment(li.leaf.Salt, e.Payload) != li.leaf.PayloadHash {
			return &RowError{What: what, Reason: fmt.Sprintf("does not match its leaf %d: the row was changed after it was logged", index)}
		}
		return nil
	}
	err = s.EachView(ctx, func(v wallet.View) error {
		rep.Views++
		e, err := ViewEntry(v)
		if err != nil {
			return &RowError{What: "view " + v.ID, Reason: wallet.ErrorMessage(err)}
		}
		return claim("view "+v.ID, v.LogIndex, KindView, e)
	})
	if err != nil {
		return rep, err
	}
	err = s.EachEvent(ctx, func(ev wallet.Event) error {
		rep.Events++
		e, err := EventEntry(ev)
		if err != nil {
			return &RowError{What: "event " + ev.ID, Reason: wallet.ErrorMessage(err)}
		}
		return claim("event "+ev.ID, ev.LogIndex, ev.Kind, e)
	})
	if err != nil {
		return rep, err
	}
	if err := auditDocuments(ctx, s, &rep, claim); err != nil {
		return rep, err
	}
	for i := int64(0); i < logRep.Size; i++ {
		if li := leaves[i]; li != nil && !li.claimed {
			return rep, &RowError{What: fmt.Sprintf("leaf %d", i), Reason: fmt.Sprintf("a %s whose row is missing", li.leaf.Kind)}
		}
	}
	return rep, nil
}

// auditDocuments checks each document's version chain and its versions'
// leaves, naming the first broken document.
func auditDocuments(ctx context.Context, s Rows, rep *Report, claim func(string, int64, string, historylog.Entry) error) error {
	var (
		doc      string
		subject  wallet.IIN
		versions []wallet.Version
	)
	check := func() error {
		if doc == "" {
			return nil
		}
		rep.Documents++
		what := "document " + doc
		if err := wallet.VerifyChain(versions); err != nil {
			var ce *wallet.ChainError
			if errors.As(err, &ce) {
				return &RowError{What: what, Reason: ce.Error()}
			}
			return &RowError{What: what, Reason: wallet.ErrorMessage(err)}
		}
		for _, v := range versions {
			e, err := VersionEntry(subject, v)
			if err != nil {
				return &RowError{What: what, Reason: wallet.ErrorMessage(err)}
			}
			if err := claim(what, v.LogIndex, KindVersion, e); err != nil {
				var re *RowError
				if errors.As(err, &re) {
					re.Reason = fmt.Sprintf("version %d %s", v.Version, re.Reason)
				}
				return err
			}
		}
		return nil
	}
	err := s.EachVersion(ctx, func(sub wallet.IIN, v wallet.Version) error {
		rep.Versions++
		if v.DocumentID != doc {
			if err := check(); err != nil {
				return err
			}
			doc, subject, versions = v.DocumentID, sub, versions[:0]
		}
		versions = append(versions, v)
		return nil
	})
	if err != nil {
		return err
	}
	return check()
}
