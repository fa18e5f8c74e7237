package wallet

import (
	"context"
	"time"
)

// Device platforms, statuses and limits.
const (
	PlatformWebhook = "webhook"
	PlatformFCM     = "fcm"

	DeviceActive  = "active"  // the last delivery (if any) went through
	DeviceFailing = "failing" // the last deliveries failed; still retried
	DeviceDropped = "dropped" // too many failures in a row: nothing more is sent

	// MaxDevices is how many devices a citizen may register.
	MaxDevices = 10
)

// Device is where a citizen's notifications go: a webhook URL (with the
// secret that signs each call, sealed by the notify package) or a push
// token of a provider (FCM).
type Device struct {
	ID       string
	OwnerIIN IIN
	Platform string // PlatformWebhook or PlatformFCM
	URL      string // webhooks
	Token    string // push tokens
	// SealedSecret is the webhook's signing secret, encrypted: it must be
	// usable to sign, so it cannot be a hash.
	SealedSecret []byte
	CreatedAt    time.Time

	// Set by the store.
	Status   string // DeviceActive, DeviceFailing or DeviceDropped
	Failures int    // failed deliveries in a row
}

// Notification is one message about a history row (an event or a view) to
// one device. It is created by the notify package's fan-out, at most once
// per (EventID, DeviceID), and delivered by its worker with retries. The
// text is sealed: it names people and organisations.
type Notification struct {
	ID       string
	EventID  string // the event's or view's id: the receiver's dedup key
	DeviceID string
	OwnerIIN IIN // the device's owner
	Kind     string
	Language string
	Sealed   []byte
	At       time.Time // when the event happened

	// Set by the store.
	Status    string // NotificationPending, NotificationSent or NotificationFailed
	Attempts  int
	LastError string
}

// Notification statuses.
const (
	NotificationPending = "pending"
	NotificationSent    = "sent"
	NotificationFailed  = "failed" // its device was dropped or removed
)

// HistoryRow is an event or a view at its index in the history log.
type HistoryRow struct {
	LogIndex int64
	Event    *Event
	View     *View
}

// NotificationStore keeps devices and the notifications to them.
//
// Notifications are derived from the history: the fan-out reads the rows
// after a durable cursor (HistoryAfter) and stores their notifications
// with the cursor's advance in one transaction (ScheduleNotifications).
type NotificationStore interface {
	// AddDevice stores a new device. ECONFLICT if the owner has max
	// devices already or the id exists; EINVALID without an id, owner or
	// platform.
	AddDevice(ctx context.Context, d Device, max int) error
	// Devices returns the owner's devices, oldest first.
	Devices(ctx context.Context, owner IIN) ([]Device, error)
	// Device returns one device. ENOTFOUND.
	Device(ctx context.Context, id string) (Device, error)
	// RemoveDevice removes the owner's device and fails its pending
	// notifications. ENOTFOUND if the owner has no such device.
	RemoveDevice(ctx context.Context, owner IIN, id string) error

	// NotificationCursor returns the log index up to which the history has
	// been fanned out (-1 before any).
	NotificationCursor(ctx context.Context) (int64, error)
	// HistoryAfter returns up to max events and views whose log index is
	// after `after`, in log-index order.
	HistoryAfter(ctx context.Context, after int64, max int) ([]HistoryRow, error)
	// ScheduleNotifications moves the cursor from `from` to `to` and
	// stores ns, in one transaction; a notification whose (EventID,
	// DeviceID) exists, or whose device is gone, is skipped. ECONFLICT
	// (nothing stored) if the cursor is not at from: another fan-out went
	// first.
	ScheduleNotifications(ctx context.Context, from, to int64, ns []Notification) error

	// ClaimNotifications returns up to max pending notifications due at
	// now, of devices not dropped, leased to the caller until now+lease,
	// each with Attempts counting this claim.
	ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Notification, error)
	// NotificationSent marks a notification delivered and its device
	// active (failures back to 0). ENOTFOUND if it is not pending.
	NotificationSent(ctx context.Context, id string, at time.Time) error
	// NotificationRetry records a failed delivery: the notification is due
	// again at next and its device's failures grow by one; at dropAfter
	// failures the device is dropped and its pending notifications fail.
	// It returns the device as it is now. ENOTFOUND if not pending.
	NotificationRetry(ctx context.Context, id string, next time.Time, reason string, dropAfter int) (Device, error)
	// Notifications returns the notifications to a device, newest first
	// (tests and operations).
	Notifications(ctx context.Context, deviceID string) ([]Notification, error)
}
