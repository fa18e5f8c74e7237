// Package notify tells citizens at once of what happens to their documents:
// a view (naming the viewer), a consent requested, granted, denied or
// revoked, short codes voided after wrong guesses, a guardian's share of a
// ward's document. Notifications go to the citizen's devices (webhooks, FCM
// push tokens), in the citizen's language, with no document content and no
// secret.
//
// # Why the history is the outbox
//
// Every event and view is already committed with its history-log leaf in
// the transaction of its change (wallet.Change). Those rows are the
// notifications' durable intent: nothing more is written by the request.
// A Fanout reads the rows after a durable cursor (a log index), in log
// order, and stores one wallet.Notification per (row, device) together
// with the cursor's advance in one transaction; (event id, device id) is
// unique. So:
//
//   - a notification exists exactly when its event does (a change that
//     rolls back leaves no row to fan out);
//   - a restart at any point neither loses nor repeats one: the cursor and
//     the notifications move together, and a second fan-out of the same
//     rows (another instance) is refused by the cursor's compare-and-swap
//     and by the unique key;
//   - no code path that records history has to remember to notify: a new
//     event kind is notified by adding its case here (kindOf).
//
// Log indexes are assigned under the log's append lock and committed in
// that order (one writer on SQLite, an advisory lock on PostgreSQL), so a
// row never appears behind the cursor after it moved.
//
// The alternative, an op added to each Change, would have touched every
// service that records history and still needed the same delivery table.
//
// # Delivery
//
// The Worker claims due notifications (leased, as the SMS outbox does),
// hands each to the Driver of its device's platform with the event's id
// (the receiver's dedup key: the same event keeps its id on every retry),
// and retries with backoff. After DefaultDropAfter failed deliveries in a
// row a device is dropped (shown in the device list) and nothing more is
// sent to it; a driver reporting the device gone (ErrDeviceGone: FCM's
// UNREGISTERED, a webhook answering 410) removes it. Delivery is at least
// once: a receiver that answered but whose answer was lost gets the event
// again, with the same id.
//
// Webhook secrets and notification texts are sealed with the outbox's
// AES-GCM Sealer (outbox.Sealer), bound to their device's or
// notification's id: a secret must be usable to sign, so it cannot be a
// hash.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/wallet"
)

// Devices registers, lists and removes citizens' devices. Store and Seal
// are required.
type Devices struct {
	Store wallet.NotificationStore
	Seal  *outbox.Sealer
	Now   func() time.Time
	Rand  io.Reader
	// Platforms are the platforms a device may be registered on (those a
	// driver delivers to).
	Platforms []string
	// AllowHTTP admits webhook URLs that are not https (development only).
	AllowHTTP bool
}

// NewDevice is what a citizen registers.
type NewDevice struct {
	Platform string
	URL      string // webhooks
	Token    string // push tokens
}

// Registered is a device just added, with its webhook secret (shown once).
type Registered struct {
	Device wallet.Device
	Secret string
}

// Add registers a device of owner. EINVALID for an unknown or unavailable
// platform, a webhook URL that is not https (unless AllowHTTP) or a
// missing token; ECONFLICT if the owner has wallet.MaxDevices already.
func (s *Devices) Add(ctx context.Context, owner wallet.IIN, nd NewDevice) (Registered, error) {
	d := wallet.Device{OwnerIIN: owner, Platform: nd.Platform, CreatedAt: s.now()}
	known := false
	for _, p := range s.Platforms {
		known = known || p == nd.Platform
	}
	switch {
	case nd.Platform != wallet.PlatformWebhook && nd.Platform != wallet.PlatformFCM:
		return Registered{}, wallet.Errorf(wallet.EINVALID, "platform must be webhook or fcm")
	case !known:
		return Registered{}, wallet.Errorf(wallet.EINVALID, "platform %s is not available on this service", nd.Platform)
	}
	var secret string
	switch nd.Platform {
	case wallet.PlatformWebhook:
		if err := s.checkURL(nd.URL); err != nil {
			return Registered{}, err
		}
		d.URL = nd.URL
	case wallet.PlatformFCM:
		if nd.Token == "" || len(nd.Token) > 4096 || strings.ContainsAny(nd.Token, " \t\r\n") {
			return Registered{}, wallet.Errorf(wallet.EINVALID, "token is required (a push token of at most 4096 characters)")
		}
		d.Token = nd.Token
	}
	id, err := wallet.NewID(s.rand(), "dev_")
	if err != nil {
		return Registered{}, err
	}
	d.ID = id
	if nd.Platform == wallet.PlatformWebhook {
		b := make([]byte, 32)
		if _, err := io.ReadFull(s.rand(), b); err != nil {
			return Registered{}, wallet.Wrap(wallet.EINTERNAL, err, "no randomness")
		}
		secret = "whsec_" + hex.EncodeToString(b)
		if d.SealedSecret, err = s.Seal.Seal(secretAD(id), secret); err != nil {
			return Registered{}, err
		}
	}
	if err := s.Store.AddDevice(ctx, d, wallet.MaxDevices); err != nil {
		if wallet.IsCode(err, wallet.ECONFLICT) {
			return Registered{}, wallet.Errorf(wallet.ECONFLICT, "at most %d devices", wallet.MaxDevices)
		}
		return Registered{}, err
	}
	d.Status = wallet.DeviceActive
	return Registered{Device: d, Secret: secret}, nil
}

func (s *Devices) checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "" || len(raw) > 2048 || err != nil || u.Host == "" || u.User != nil || u.Fragment != "":
		return wallet.Errorf(wallet.EINVALID, "url must be an absolute https URL without credentials")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && s.AllowHTTP:
		return nil
	}
	return wallet.Errorf(wallet.EINVALID, "url must be https")
}

// List returns the owner's devices, oldest first.
func (s *Devices) List(ctx context.Context, owner wallet.IIN) ([]wallet.Device, error) {
	return s.Store.Devices(ctx, owner)
}

// Remove removes the owner's device. ENOTFOUND if the owner has no such
// device (another citizen's included).
func (s *Devices) Remove(ctx context.Context, owner wallet.IIN, id string) error {
	return s.Store.RemoveDevice(ctx, owner, id)
}

// secretAD binds a sealed secret to its device.
func secretAD(deviceID string) string { return "device-secret:" + deviceID }

// OpenSecret returns a webhook device's signing secret.
func OpenSecret(seal *outbox.Sealer, d wallet.Device) (string, error) {
	if len(d.SealedSecret) == 0 {
		return "", nil
	}
	return seal.Open(secretAD(d.ID), d.SealedSecret)
}

func (s *Devices) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Devices) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}
