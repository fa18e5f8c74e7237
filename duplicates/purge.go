package duplicates

import (
	"context"
	"log/slog"
	"time"

	"github.com/qujat/qujat/wallet"
)

// purgeBatch is how many due duplicates one round looks at.
const purgeBatch = 100

// PurgeDue purges every certified duplicate whose retention has ended: its
// scan's bytes are deleted from the blob store first (so that a purged
// duplicate never has bytes left), then the duplicate becomes a tombstone
// with the owner's duplicate_purged event, in one change. It returns how
// many it purged. EUNAVAILABLE if a store cannot be reached (what was
// purged stays purged; the rest is due next time).
func (s *Service) PurgeDue(ctx context.Context) (int, error) {
	n := 0
	for {
		now := s.now()
		due, err := s.Store.DuplicatesDue(ctx, now, purgeBatch)
		if err != nil {
			return n, err
		}
		for _, d := range due {
			if err := s.purge(ctx, d, now); err != nil {
				return n, err
			}
			n++
		}
		if len(due) < purgeBatch {
			return n, nil
		}
	}
}

func (s *Service) purge(ctx context.Context, d wallet.Duplicate, at time.Time) error {
	if err := s.Store.DeleteBlob(ctx, d.BlobID); err != nil {
		return err
	}
	ev, err := s.event(wallet.EventDuplicatePurged, d, at)
	if err != nil {
		return err
	}
	ev.ActorKind, ev.ActorID = "system", ""
	if d.RetainUntil != nil {
		ev.Details["retain_until"] = d.RetainUntil.UTC().Format(time.RFC3339)
	}
	_, err = s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.PurgeDuplicate{ID: d.ID, At: at}}, Events: []wallet.Event{ev}})
	if wallet.IsCode(err, wallet.ECONFLICT) {
		return nil // purged meanwhile by another worker
	}
	return err
}

// PurgeInterval is how often RunPurger looks for due duplicates: every
// minute, or more often when retention is shorter (tests).
func (s *Service) PurgeInterval() time.Duration {
	if s.Retention > 0 && s.Retention < 2*time.Minute {
		return time.Second
	}
	return time.Minute
}

// RunPurger purges due duplicates every PurgeInterval until ctx ends,
// logging failures (a failed round is retried at the next tick).
func (s *Service) RunPurger(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(s.PurgeInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := s.PurgeDue(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "duplicate purge failed; retrying at the next tick", slog.String("error", err.Error()), slog.Int("purged", n))
		} else if n > 0 {
			log.InfoContext(ctx, "duplicates purged", slog.Int("count", n))
		}
	}
}
