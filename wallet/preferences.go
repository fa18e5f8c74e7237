package wallet

import (
	"context"
	"time"
)

// Preferences are a citizen's choices about how Qujat speaks to them.
type Preferences struct {
	IIN IIN
	// Language is "kk", "ru" or "en" (package locale checks it): the
	// language of the SMS Qujat sends the citizen.
	Language string
	// Notifications says which kinds of notification the citizen wants
	// (voided codes are always sent).
	Notifications NotificationChoices
	UpdatedAt     time.Time
}

// NotificationChoices turn kinds of notification on or off.
type NotificationChoices struct {
	Views      bool // views of the citizen's documents, guardians' shares
	Consents   bool // consent requests and decisions
	Duplicates bool // electronic duplicates certified, released or purged
	Cases      bool // a case's new status
}

// DefaultNotifications are the choices of a citizen who made none: every
// kind on.
var DefaultNotifications = NotificationChoices{Views: true, Consents: true, Duplicates: true, Cases: true}

// PreferenceStore keeps citizens' preferences. They are settings, not
// history: a change replaces what was there and adds no event.
type PreferenceStore interface {
	// Preferences returns the citizen's preferences. ENOTFOUND if the
	// citizen never set any.
	Preferences(ctx context.Context, iin IIN) (Preferences, error)
	// SavePreferences stores p as the citizen's preferences, replacing any.
	// EINVALID if p has no IIN or no language.
	SavePreferences(ctx context.Context, p Preferences) error
}
