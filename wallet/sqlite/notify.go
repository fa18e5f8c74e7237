package sqlite

import (
	"context"
	"database/sql"
	"sort"
	"time"

	"github.com/qujat/qujat/wallet"
)

const deviceColumns = `id, owner_iin, platform, url, token, COALESCE(sealed_secret, x''), status, failures, created_at FROM devices`

func scanDevice(sc scanner) (wallet.Device, error) {
	var (
		d       wallet.Device
		owner   string
		created int64
	)
	err := sc.Scan(&d.ID, &owner, &d.Platform, &d.URL, &d.Token, &d.SealedSecret, &d.Status, &d.Failures, &created)
	d.OwnerIIN, d.CreatedAt = wallet.IIN(owner), fromMicros(created)
	return d, err
}

// checkDevice refuses a device the store cannot hold.
func checkDevice(d wallet.Device) error {
	if d.ID == "" || d.OwnerIIN == "" || d.Platform == "" {
		return wallet.Errorf(wallet.EINVALID, "add device: an id, an owner and a platform are required")
	}
	return nil
}

// AddDevice stores a new device unless the owner has max already.
func (s *Store) AddDevice(ctx context.Context, d wallet.Device, max int) error {
	const what = "add device"
	if err := checkDevice(d); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE owner_iin = ?`, string(d.OwnerIIN)).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return wallet.Errorf(wallet.ECONFLICT, "%s: at most %d devices", what, max)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO devices (id, owner_iin, platform, url, token, sealed_secret, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.ID, string(d.OwnerIIN), d.Platform, d.URL, d.Token, nonNil(d.SealedSecret), micros(d.CreatedAt))
		return err
	})
}

// Devices returns the owner's devices, oldest first.
func (s *Store) Devices(ctx context.Context, owner wallet.IIN) ([]wallet.Device, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+deviceColumns+` WHERE owner_iin = ? ORDER BY created_at, rowid`, string(owner))
	return collect(rows, err, "list devices", scanDevice)
}

// Device returns one device. ENOTFOUND.
func (s *Store) Device(ctx context.Context, id string) (wallet.Device, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx, `SELECT `+deviceColumns+` WHERE id = ?`, id))
	if err != nil {
		return wallet.Device{}, wrapErr(err, "device")
	}
	return d, nil
}

// RemoveDevice removes the owner's device and fails its pending
// notifications. ENOTFOUND.
func (s *Store) RemoveDevice(ctx context.Context, owner wallet.IIN, id string) error {
	const what = "remove device"
	return s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE id = ? AND owner_iin = ?`, id, string(owner))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return wallet.Errorf(wallet.ENOTFOUND, "%s: no such device", what)
		}
		return failPending(ctx, tx, id, "device removed")
	})
}

// failPending fails the pending notifications of a device.
func failPending(ctx context.Context, tx *sql.Tx, deviceID, reason string) error {
	_, err := tx.ExecContext(ctx, `UPDATE notifications
		SET status = 'failed', sealed = NULL, lease_until = NULL, last_error = ?
		WHERE device_id = ? AND status = 'pending'`, reason, deviceID)
	return err
}

// NotificationCursor returns the fan-out's log index.
func (s *Store) NotificationCursor(ctx context.Context) (int64, error) {
	var i int64
	err := s.r.QueryRowContext(ctx, `SELECT log_index FROM notify_cursor WHERE id = 1`).Scan(&i)
	return i, wrapErr(err, "notification cursor")
}

// HistoryAfter returns up to max events and views after the index.
func (s *Store) HistoryAfter(ctx context.Context, after int64, max int) ([]wallet.HistoryRow, error) {
	const what = "history after"
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventColumns+` WHERE log_index > ? ORDER BY log_index LIMIT ?`, after, max)
	events, err := collect(rows, err, what, scanEvent)
	if err != nil {
		return nil, err
	}
	rows, err = s.r.QueryContext(ctx, `SELECT `+viewColumns+` WHERE log_index > ? ORDER BY log_index LIMIT ?`, after, max)
	views, err := collect(rows, err, what, scanView)
	if err != nil {
		return nil, err
	}
	return mergeHistory(events, views, max), nil
}

// mergeHistory merges events and views (each in log-index order) and
// keeps the first max.
func mergeHistory(events []wallet.Event, views []wallet.View, max int) []wallet.HistoryRow {
	out := make([]wallet.HistoryRow, 0, len(events)+len(views))
	for i := range events {
		out = append(out, wallet.HistoryRow{LogIndex: events[i].LogIndex, Event: &events[i]})
	}
	for i := range views {
		out = append(out, wallet.HistoryRow{LogIndex: views[i].LogIndex, View: &views[i]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogIndex < out[j].LogIndex })
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// ScheduleNotifications advances the cursor and stores ns in one
// transaction. ECONFLICT if the cursor is not at from.
func (s *Store) ScheduleNotifications(ctx context.Context, from, to int64, ns []wallet.Notification) error {
	const what = "schedule notifications"
	return s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notify_cursor SET log_index = ? WHERE id = 1 AND log_index = ?`, to, from)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return wallet.Errorf(wallet.ECONFLICT, "%s: the cursor moved", what)
		}
		for _, n := range ns {
			_, err := tx.ExecContext(ctx, `INSERT INTO notifications
				(id, event_id, device_id, owner_iin, kind, language, sealed, at, status, next_attempt_at)
				SELECT ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?
				WHERE EXISTS (SELECT 1 FROM devices WHERE id = ? AND status <> 'dropped')
				ON CONFLICT (event_id, device_id) DO NOTHING`,
				n.ID, n.EventID, n.DeviceID, string(n.OwnerIIN), n.Kind, n.Language, nonNil(n.Sealed), micros(n.At), micros(n.At), n.DeviceID)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

const notificationColumns = `id, event_id, device_id, owner_iin, kind, language, COALESCE(sealed, x''), at, status, attempts, last_error`

func scanNotification(sc scanner) (wallet.Notification, error) {
	var (
		n     wallet.Notification
		owner string
		at    int64
	)
	err := sc.Scan(&n.ID, &n.EventID, &n.DeviceID, &owner, &n.Kind, &n.Language, &n.Sealed, &at, &n.Status, &n.Attempts, &n.LastError)
	n.OwnerIIN, n.At = wallet.IIN(owner), fromMicros(at)
	return n, err
}

// ClaimNotifications leases up to max due notifications to the caller.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, max int) ([]wallet.Notification, error) {
	var out []wallet.Notification
	err := s.write(ctx, "claim notifications", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE notifications
			SET attempts = attempts + 1, lease_until = ?
			WHERE id IN (SELECT n.id FROM notifications n JOIN devices d ON d.id = n.device_id
				WHERE n.status = 'pending' AND n.next_attempt_at <= ?
				AND (n.lease_until IS NULL OR n.lease_until <= ?) AND d.status <> 'dropped'
				ORDER BY n.next_attempt_at LIMIT ?)
			RETURNING `+notificationColumns,
			micros(now.Add(lease)), micros(now), micros(now), max)
		out, err = collect(rows, err, "claim notifications", scanNotification)
		return err
	})
	return out, err
}

// NotificationSent marks a notification delivered and its device active.
func (s *Store) NotificationSent(ctx context.Context, id string, at time.Time) error {
	const what = "notification sent"
	return s.write(ctx, what, func(tx *sql.Tx) error {
		var device string
		err := tx.QueryRowContext(ctx, `UPDATE notifications
			SET status = 'sent', done_at = ?, sealed = NULL, lease_until = NULL
			WHERE id = ? AND status = 'pending' RETURNING device_id`, micros(at), id).Scan(&device)
		if err != nil {
			return wrapErr(err, what)
		}
		_, err = tx.ExecContext(ctx, `UPDATE devices SET failures = 0, status = 'active'
			WHERE id = ? AND status <> 'dropped'`, device)
		return err
	})
}

// NotificationRetry records a failed delivery, dropping the device at
// dropAfter failures in a row.
func (s *Store) NotificationRetry(ctx context.Context, id string, next time.Time, reason string, dropAfter int) (wallet.Device, error) {
	const what = "notification retry"
	var d wallet.Device
	err := s.write(ctx, what, func(tx *sql.Tx) error {
		var device string
		err := tx.QueryRowContext(ctx, `UPDATE notifications
			SET next_attempt_at = ?, last_error = ?, lease_until = NULL
			WHERE id = ? AND status = 'pending' RETURNING device_id`, micros(next), reason, id).Scan(&device)
		if err != nil {
			return wrapErr(err, what)
		}
		d, err = scanDevice(tx.QueryRowContext(ctx, `UPDATE devices SET failures = failures + 1,
			status = CASE WHEN status = 'dropped' OR failures + 1 >= ? THEN 'dropped' ELSE 'failing' END
			WHERE id = ? RETURNING `+deviceReturning, dropAfter, device))
		if err != nil {
			return wrapErr(err, what)
		}
		if d.Status == wallet.DeviceDropped {
			return failPending(ctx, tx, device, "device dropped: "+reason)
		}
		return nil
	})
	return d, err
}

const deviceReturning = `id, owner_iin, platform, url, token, COALESCE(sealed_secret, x''), status, failures, created_at`

// Notifications returns a device's notifications, newest first.
func (s *Store) Notifications(ctx context.Context, deviceID string) ([]wallet.Notification, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE device_id = ?
		ORDER BY at DESC, rowid DESC`, deviceID)
	return collect(rows, err, "list notifications", scanNotification)
}
