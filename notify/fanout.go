package notify

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"time"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/wallet"
)

// Notification kinds (the "kind" of a webhook's body).
const (
	KindView             = "view"
	KindGuardianShare    = "guardian_share"
	KindConsentRequested = wallet.EventConsentRequested
	KindConsentGranted   = wallet.EventConsentGranted
	KindConsentDenied    = wallet.EventConsentDenied
	KindConsentRevoked   = wallet.EventConsentRevoked
	KindCodesVoided      = wallet.EventCodesVoided

	KindDuplicateCertified = wallet.EventDuplicateCertified
	KindDuplicateReleased  = wallet.EventDuplicateReleased
	KindDuplicatePurged    = wallet.EventDuplicatePurged

	KindCaseDelivered = wallet.EventCaseDelivered
	KindCaseRejected  = wallet.EventCaseRejected
	KindCaseStatus    = wallet.EventCaseStatus
	KindCaseResult    = wallet.EventCaseResult
)

// Store is what the fan-out reads and writes: the notifications, the
// citizens' preferences (language, choices) and the consents (whose
// organisation a consent event names).
type Store interface {
	wallet.NotificationStore
	wallet.PreferenceStore
	wallet.ConsentStore
}

// DefaultFanoutBatch is how many history rows one fan-out pass reads.
const DefaultFanoutBatch = 64

// Fanout turns history rows into notifications (see the package doc).
// Store, Directory and Seal are required.
type Fanout struct {
	Store     Store
	Directory wallet.Directory
	// ClientName names an organisation client ("" if unknown).
	ClientName func(ctx context.Context, id string) string
	Seal       *outbox.Sealer
	Now        func() time.Time
	Rand       io.Reader
	Batch      int
	Log        *slog.Logger
}

// Pass fans out one batch of rows after the cursor. It reports whether a
// whole batch was read (more may wait). A batch another fan-out stored
// first is not an error. EUNAVAILABLE if the store or the registry (names,
// guardians) cannot be reached: the cursor stays, and the batch is read
// again on the next pass.
func (f *Fanout) Pass(ctx context.Context) (more bool, err error) {
	cur, err := f.Store.NotificationCursor(ctx)
	if err != nil {
		return false, err
	}
	rows, err := f.Store.HistoryAfter(ctx, cur, f.batch())
	if err != nil || len(rows) == 0 {
		return false, err
	}
	p := &plan{f: f, prefs: map[wallet.IIN]wallet.Preferences{}, devices: map[wallet.IIN][]wallet.Device{}, names: map[string]string{}}
	for _, r := range rows {
		if err := p.row(ctx, r); wallet.IsCode(err, wallet.EUNAVAILABLE) || ctx.Err() != nil {
			return false, err
		} else if err != nil {
			// Reading it again will not help: the row is not notified,
			// rather than holding up every later one.
			f.log().Error("notify: a history row is not notified", "log_index", r.LogIndex, "err", err)
		}
	}
	err = f.Store.ScheduleNotifications(ctx, cur, rows[len(rows)-1].LogIndex, p.out)
	if wallet.IsCode(err, wallet.ECONFLICT) {
		return true, nil // another fan-out went first; look again
	}
	return err == nil && len(rows) == f.batch(), err
}

// plan collects one batch's notifications, reading each citizen's
// preferences and devices and each party's name once.
type plan struct {
	f       *Fanout
	prefs   map[wallet.IIN]wallet.Preferences
	devices map[wallet.IIN][]wallet.Device
	names   map[string]string
	out     []wallet.Notification
}

// message is one notification of a row to one citizen, before its
// language is known.
type message struct {
	to   wallet.IIN
	kind string
	key  string
	args func(lang locale.Lang) map[string]string
}

func (p *plan) row(ctx context.Context, r wallet.HistoryRow) error {
	var (
		msgs []message
		err  error
		id   string
		at   time.Time
	)
	switch {
	case r.View != nil:
		id, at = r.View.ID, r.View.At
		msgs, err = p.view(ctx, *r.View)
	case r.Event != nil:
		id, at = r.Event.ID, r.Event.At
		msgs, err = p.event(ctx, *r.Event)
	}
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := p.add(ctx, id, at, m); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) view(ctx context.Context, v wallet.View) ([]message, error) {
	if v.Channel == wallet.ChannelDuplicate {
		return nil, nil // its duplicate_released event tells, naming the body
	}
	viewer, err := p.name(ctx, v.ViewerKind, v.ViewerID)
	if err != nil {
		return nil, err
	}
	doc := func(l locale.Lang) string { return locale.Title(l, v.DocumentType) }
	msgs := []message{{to: v.OwnerIIN, kind: KindView, key: "notify.view", args: func(l locale.Lang) map[string]string {
		return map[string]string{"viewer": viewer(l), "document": doc(l)}
	}}}
	// A ward's document: its guardians hear of the view too (the one who
	// read it, if a guardian, excepted).
	if v.SharedBy != "" || v.ViewerKind == wallet.ViewerGuardian {
		guardians, err := p.f.Directory.Guardians(ctx, v.OwnerIIN)
		if err != nil {
			return nil, err
		}
		child, err := p.name(ctx, wallet.ViewerCitizen, string(v.OwnerIIN))
		if err != nil {
			return nil, err
		}
		for _, g := range guardians {
			if v.ViewerKind == wallet.ViewerGuardian && string(g) == v.ViewerID {
				continue
			}
			msgs = append(msgs, message{to: g, kind: KindView, key: "notify.view.ward", args: func(l locale.Lang) map[string]string {
				return map[string]string{"viewer": viewer(l), "child": child(l), "document": doc(l)}
			}})
		}
	}
	return msgs, nil
}

func (p *plan) event(ctx context.Context, e wallet.Event) ([]message, error) {
	switch e.Kind {
	case wallet.EventCodesVoided:
		return []message{{to: e.SubjectIIN, kind: KindCodesVoided, key: "notify.codes_voided",
			args: func(locale.Lang) map[string]string { return nil }}}, nil
	case wallet.EventConsentRequested, wallet.EventConsentGranted, wallet.EventConsentDenied, wallet.EventConsentRevoked:
		c, err := p.f.Store.Consent(ctx, e.ObjectID)
		if err != nil && !wallet.IsCode(err, wallet.ENOTFOUND) {
			return nil, err
		}
		client, err := p.name(ctx, wallet.ViewerOrganisation, c.ClientID)
		if err != nil {
			return nil, err
		}
		msgs := []message{{to: e.SubjectIIN, kind: e.Kind, key: "notify." + e.Kind, args: func(l locale.Lang) map[string]string {
			return map[string]string{"client": client(l)}
		}}}
		// A minor's consent: their legal representatives hear of it too.
		guardians, err := p.f.Directory.Guardians(ctx, e.SubjectIIN)
		if err != nil {
			return nil, err
		}
		if len(guardians) > 0 {
			child, err := p.name(ctx, wallet.ViewerCitizen, string(e.SubjectIIN))
			if err != nil {
				return nil, err
			}
			for _, g := range guardians {
				msgs = append(msgs, message{to: g, kind: e.Kind, key: "notify." + e.Kind + ".ward", args: func(l locale.Lang) map[string]string {
					return map[string]string{"client": client(l), "child": child(l)}
				}})
			}
		}
		return msgs, nil
	case wallet.EventDuplicateCertified, wallet.EventDuplicateReleased, wallet.EventDuplicatePurged:
		// The owner only: what a centre made of their paper document, which
		// state body received it, when it was deleted. Not the basis, not
		// the number.
		doc := func(l locale.Lang) string {
			if t, ok := locale.DuplicateTitle(l, e.Details["type"]); ok {
				return t
			}
			return e.Details["type"]
		}
		by := e.Details["centre"]
		if e.Kind == wallet.EventDuplicateReleased {
			by = e.ActorID
		}
		org, err := p.name(ctx, wallet.ViewerOrganisation, by)
		if err != nil {
			return nil, err
		}
		return []message{{to: e.SubjectIIN, kind: e.Kind, key: "notify." + e.Kind, args: func(l locale.Lang) map[string]string {
			return map[string]string{"document": doc(l), "organisation": org(l)}
		}}}, nil
	case wallet.EventCaseDelivered, wallet.EventCaseRejected, wallet.EventCaseStatus, wallet.EventCaseResult:
		// The applicant: the agency received their application, returned
		// it, moved it on, or decided. Named by the agency only: not the
		// service, the fields or the result.
		agency, err := p.name(ctx, wallet.ViewerOrganisation, e.Details["agency"])
		if err != nil {
			return nil, err
		}
		key := "notify." + e.Kind
		if st := e.Details["status"]; e.Kind == wallet.EventCaseStatus && (st == wallet.CaseRegistered || st == wallet.CaseInProgress) {
			key += "." + st
		}
		return []message{{to: e.SubjectIIN, kind: e.Kind, key: key, args: func(l locale.Lang) map[string]string {
			return map[string]string{"agency": agency(l)}
		}}}, nil
	case wallet.EventShareOpened:
		if e.ActorKind != wallet.ViewerGuardian {
			return nil, nil // the owner opened it: nothing to tell them
		}
		// A guardian shared a ward's document: the other guardians hear.
		guardians, err := p.f.Directory.Guardians(ctx, e.SubjectIIN)
		if err != nil {
			return nil, err
		}
		sharer, err := p.name(ctx, wallet.ViewerCitizen, e.ActorID)
		if err != nil {
			return nil, err
		}
		child, err := p.name(ctx, wallet.ViewerCitizen, string(e.SubjectIIN))
		if err != nil {
			return nil, err
		}
		typ := wallet.DocumentType(e.Details["document_type"])
		var msgs []message
		for _, g := range guardians {
			if string(g) == e.ActorID {
				continue
			}
			msgs = append(msgs, message{to: g, kind: KindGuardianShare, key: "notify.guardian_share", args: func(l locale.Lang) map[string]string {
				return map[string]string{"guardian": sharer(l), "child": child(l), "document": locale.Title(l, typ)}
			}})
		}
		return msgs, nil
	}
	return nil, nil
}

// wanted says whether a citizen with choices c wants notifications of kind.
func wanted(c wallet.NotificationChoices, kind string) bool {
	switch kind {
	case KindCodesVoided:
		return true // always: someone is guessing
	case KindView, KindGuardianShare:
		return c.Views
	case KindConsentRequested, KindConsentGranted, KindConsentDenied, KindConsentRevoked:
		return c.Consents
	case KindDuplicateCertified, KindDuplicateReleased, KindDuplicatePurged:
		return c.Duplicates
	case KindCaseDelivered, KindCaseRejected, KindCaseStatus, KindCaseResult:
		return c.Cases
	}
	return false
}

// add stores m's notification to each live device of its citizen, if the
// citizen wants its kind.
func (p *plan) add(ctx context.Context, eventID string, at time.Time, m message) error {
	prefs, err := p.preferences(ctx, m.to)
	if err != nil {
		return err
	}
	if !wanted(prefs.Notifications, m.kind) {
		return nil
	}
	devices, ok := p.devices[m.to]
	if !ok {
		if devices, err = p.f.Store.Devices(ctx, m.to); err != nil {
			return err
		}
		p.devices[m.to] = devices
	}
	lang := locale.Lang(prefs.Language)
	if !lang.Valid() {
		lang = locale.Default
	}
	var text string
	for _, d := range devices {
		if d.Status == wallet.DeviceDropped {
			continue
		}
		if text == "" {
			text = locale.Format(lang, m.key, m.args(lang))
		}
		id, err := wallet.NewID(p.f.rand(), "ntf_")
		if err != nil {
			return err
		}
		sealed, err := p.f.Seal.Seal(id, text)
		if err != nil {
			return err
		}
		p.out = append(p.out, wallet.Notification{ID: id, EventID: eventID, DeviceID: d.ID, OwnerIIN: m.to,
			Kind: m.kind, Language: string(lang), Sealed: sealed, At: at})
	}
	return nil
}

func (p *plan) preferences(ctx context.Context, iin wallet.IIN) (wallet.Preferences, error) {
	if pr, ok := p.prefs[iin]; ok {
		return pr, nil
	}
	pr, err := p.f.Store.Preferences(ctx, iin)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		pr = wallet.Preferences{IIN: iin, Language: string(locale.Default), Notifications: wallet.DefaultNotifications}
	case err != nil:
		return wallet.Preferences{}, err
	}
	p.prefs[iin] = pr
	return pr, nil
}

// name returns a party's name in a language: a citizen's as the registry
// has it, an organisation's as registered; "Someone" in the language when
// the party is unknown. EUNAVAILABLE if the registry cannot be reached.
func (p *plan) name(ctx context.Context, kind, id string) (func(locale.Lang) string, error) {
	key := kind + ":" + id
	n, ok := p.names[key]
	if !ok {
		switch kind {
		case wallet.ViewerOrganisation:
			if p.f.ClientName != nil {
				n = p.f.ClientName(ctx, id)
			}
		default:
			c, err := p.f.Directory.Citizen(ctx, wallet.IIN(id))
			switch {
			case err == nil:
				n = c.Name
			case !wallet.IsCode(err, wallet.ENOTFOUND):
				return nil, err
			}
		}
		p.names[key] = n
	}
	return func(l locale.Lang) string {
		if n == "" {
			return locale.T(l, "notify.someone")
		}
		return n
	}, nil
}

func (f *Fanout) batch() int {
	if f.Batch <= 0 {
		return DefaultFanoutBatch
	}
	return f.Batch
}

func (f *Fanout) rand() io.Reader {
	if f.Rand == nil {
		return rand.Reader
	}
	return f.Rand
}

func (f *Fanout) log() *slog.Logger {
	if f.Log == nil {
		return slog.Default()
	}
	return f.Log
}
