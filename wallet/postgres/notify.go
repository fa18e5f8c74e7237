package postgres

import (
	"context"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

const deviceFields = `id, owner_iin, platform, url, token, COALESCE(sealed_secret, ''::bytea), status, failures, created_at`

func scanDevice(row pgx.Row) (wallet.Device, error) {
	var (
		d     wallet.Device
		owner string
	)
	err := row.Scan(&d.ID, &owner, &d.Platform, &d.URL, &d.Token, &d.SealedSecret, &d.Status, &d.Failures, &d.CreatedAt)
	d.OwnerIIN, d.CreatedAt = wallet.IIN(owner), d.CreatedAt.UTC()
	return d, err
}

// AddDevice stores a new device unless the owner has max already. The
// owner's devices are counted under a lock of the owner, so that two
// concurrent additions cannot both pass the limit.
func (s *Store) AddDevice(ctx context.Context, d wallet.Device, max int) error {
	const what = "add device"
	if d.ID == "" || d.OwnerIIN == "" || d.Platform == "" {
		return wallet.Errorf(wallet.EINVALID, "%s: an id, an owner and a platform are required", what)
	}
	secret := d.SealedSecret
	if secret == nil {
		secret = []byte{}
	}
	return s.write(ctx, what, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('qujat devices ' || $1, 0))`, string(d.OwnerIIN)); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM devices WHERE owner_iin = $1`, string(d.OwnerIIN)).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return wallet.Errorf(wallet.ECONFLICT, "%s: at most %d devices", what, max)
		}
		_, err := tx.Exec(ctx, `INSERT INTO devices (id, owner_iin, platform, url, token, sealed_secret, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			d.ID, string(d.OwnerIIN), d.Platform, d.URL, d.Token, secret, ts(d.CreatedAt))
		return err
	})
}

// Devices returns the owner's devices, oldest first.
func (s *Store) Devices(ctx context.Context, owner wallet.IIN) ([]wallet.Device, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deviceFields+` FROM devices WHERE owner_iin = $1 ORDER BY created_at, seq`, string(owner))
	return collect(rows, err, "list devices", scanDevice)
}

// Device returns one device. ENOTFOUND.
func (s *Store) Device(ctx context.Context, id string) (wallet.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceFields+` FROM devices WHERE id = $1`, id))
	if err != nil {
		return wallet.Device{}, wrapErr(err, "device")
	}
	return d, nil
}

// RemoveDevice removes the owner's device and fails its pending
// notifications. ENOTFOUND.
func (s *Store) RemoveDevice(ctx context.Context, owner wallet.IIN, id string) error {
	const what = "remove device"
	return s.write(ctx, what, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM devices WHERE id = $1 AND owner_iin = $2`, id, string(owner))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return wallet.Errorf(wallet.ENOTFOUND, "%s: no such device", what)
		}
		return failPending(ctx, tx, id, "device removed")
	})
}

func failPending(ctx context.Context, tx pgx.Tx, deviceID, reason string) error {
	_, err := tx.Exec(ctx, `UPDATE notifications
		SET status = 'failed', sealed = NULL, lease_until = NULL, last_error = $1
		WHERE device_id = $2 AND status = 'pending'`, reason, deviceID)
	return err
}

// NotificationCursor returns the fan-out's log index.
func (s *Store) NotificationCursor(ctx context.Context) (int64, error) {
	var i int64
	err := s.pool.QueryRow(ctx, `SELECT log_index FROM notify_cursor WHERE id = 1`).Scan(&i)
	return i, wrapErr(err, "notification cursor")
}

// HistoryAfter returns up to max events and views after the index.
func (s *Store) HistoryAfter(ctx context.Context, after int64, max int) ([]wallet.HistoryRow, error) {
	const what = "history after"
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` WHERE log_index > $1 ORDER BY log_index LIMIT $2`, after, max)
	events, err := collect(rows, err, what, scanEvent)
	if err != nil {
		return nil, err
	}
	rows, err = s.pool.Query(ctx, `SELECT `+viewColumns+` WHERE log_index > $1 ORDER BY log_index LIMIT $2`, after, max)
	views, err := collect(rows, err, what, scanView)
	if err != nil {
		return nil, err
	}
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
	return out, nil
}

// ScheduleNotifications advances the cursor and stores ns in one
// transaction. ECONFLICT if the cursor is not at from.
func (s *Store) ScheduleNotifications(ctx context.Context, from, to int64, ns []wallet.Notification) error {
	const what = "schedule notifications"
	return s.write(ctx, what, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE notify_cursor SET log_index = $1 WHERE id = 1 AND log_index = $2`, to, from)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return wallet.Errorf(wallet.ECONFLICT, "%s: the cursor moved", what)
		}
		for _, n := range ns {
			sealed := n.Sealed
			if sealed == nil {
				sealed = []byte{}
			}
			_, err := tx.Exec(ctx, `INSERT INTO notifications
				(id, event_id, device_id, owner_iin, kind, language, sealed, at, status, next_attempt_at)
				SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'pending', $8
				WHERE EXISTS (SELECT 1 FROM devices WHERE id = $3 AND status <> 'dropped')
				ON CONFLICT (event_id, device_id) DO NOTHING`,
				n.ID, n.EventID, n.DeviceID, string(n.OwnerIIN), n.Kind, n.Language, sealed, ts(n.At))
			if err != nil {
				return err
			}
		}
		return nil
	})
}

const notificationColumns = `id, event_id, device_id, owner_iin, kind, language, COALESCE(sealed, ''::bytea), at, status, attempts, last_error`

func scanNotification(row pgx.Row) (wallet.Notification, error) {
	var (
		n     wallet.Notification
		owner string
	)
	err := row.Scan(&n.ID, &n.EventID, &n.DeviceID, &owner, &n.Kind, &n.Language, &n.Sealed, &n.At, &n.Status, &n.Attempts, &n.LastError)
	n.OwnerIIN, n.At = wallet.IIN(owner), n.At.UTC()
	return n, err
}

// ClaimNotifications leases up to max due notifications to the caller;
// rows another worker is claiming are skipped, not waited for.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, max int) ([]wallet.Notification, error) {
	rows, err := s.pool.Query(ctx, `UPDATE notifications
		SET attempts = attempts + 1, lease_until = $1
		WHERE id IN (SELECT n.id FROM notifications n JOIN devices d ON d.id = n.device_id
			WHERE n.status = 'pending' AND n.next_attempt_at <= $2
			AND (n.lease_until IS NULL OR n.lease_until <= $2) AND d.status <> 'dropped'
			ORDER BY n.next_attempt_at LIMIT $3 FOR UPDATE OF n SKIP LOCKED)
		RETURNING `+notificationColumns, ts(now.Add(lease)), ts(now), max)
	return collect(rows, err, "claim notifications", scanNotification)
}

// NotificationSent marks a notification delivered and its device active.
func (s *Store) NotificationSent(ctx context.Context, id string, at time.Time) error {
	const what = "notification sent"
	return s.write(ctx, what, func(tx pgx.Tx) error {
		var device string
		err := tx.QueryRow(ctx, `UPDATE notifications
			SET status = 'sent', done_at = $1, sealed = NULL, lease_until = NULL
			WHERE id = $2 AND status = 'pending' RETURNING device_id`, ts(at), id).Scan(&device)
		if err != nil {
			return wrapErr(err, what)
		}
		_, err = tx.Exec(ctx, `UPDATE devices SET failures = 0, status = 'active'
			WHERE id = $1 AND status <> 'dropped'`, device)
		return err
	})
}

// NotificationRetry records a failed delivery, dropping the device at
// dropAfter failures in a row.
func (s *Store) NotificationRetry(ctx context.Context, id string, next time.Time, reason string, dropAfter int) (wallet.Device, error) {
	const what = "notification retry"
	var d wallet.Device
	err := s.write(ctx, what, func(tx pgx.Tx) error {
		var device string
		err := tx.QueryRow(ctx, `UPDATE notifications
			SET next_attempt_at = $1, last_error = $2, lease_until = NULL
			WHERE id = $3 AND status = 'pending' RETURNING device_id`, ts(next), reason, id).Scan(&device)
		if err != nil {
			return wrapErr(err, what)
		}
		d, err = scanDevice(tx.QueryRow(ctx, `UPDATE devices SET failures = failures + 1,
			status = CASE WHEN status = 'dropped' OR failures + 1 >= $1 THEN 'dropped' ELSE 'failing' END
			WHERE id = $2 RETURNING `+deviceFields, dropAfter, device))
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

// Notifications returns a device's notifications, newest first.
func (s *Store) Notifications(ctx context.Context, deviceID string) ([]wallet.Notification, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE device_id = $1
		ORDER BY at DESC, seq DESC`, deviceID)
	return collect(rows, err, "list notifications", scanNotification)
}
