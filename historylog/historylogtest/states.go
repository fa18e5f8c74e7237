package historylogtest

import (
	"context"

	"github.com/qujat/qujat/historylog"
)

// refusal is a state the suites' stores refuse with err; the store under
// them applies nil in its place.
type refusal struct{ err error }

// accepted is a state the suites' stores accept; the store under them
// applies nil in its place.
type accepted struct{}

// newSuiteFaults returns Faults on s that also applies the suites' own
// states (refusal, accepted), which a store knows nothing of.
func newSuiteFaults(s historylog.LogStore) *Faults {
	return NewFaults(suiteStates{s})
}

// suiteStates is a LogStore that turns the suites' states into nil for the
// store it embeds, and refuses each refusal with its error.
type suiteStates struct{ historylog.LogStore }

func (s suiteStates) BeginAppend(ctx context.Context) (historylog.AppendTx, error) {
	tx, err := s.LogStore.BeginAppend(ctx)
	if err != nil {
		return nil, err
	}
	return suiteStatesTx{tx}, nil
}

type suiteStatesTx struct{ historylog.AppendTx }

func (x suiteStatesTx) Apply(ctx context.Context, states []any) (int64, []error, error) {
	inner := make([]any, len(states))
	for i, st := range states {
		switch st.(type) {
		case refusal, accepted:
		default:
			inner[i] = st
		}
	}
	size, refused, err := x.AppendTx.Apply(ctx, inner)
	if err != nil || len(refused) != len(states) {
		return size, refused, err
	}
	for i, st := range states {
		if r, ok := st.(refusal); ok {
			refused[i] = r.err
		}
	}
	return size, refused, nil
}
