package wallettest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// notifyTests are the devices' and notifications' cases of the suite.
var notifyTests = []struct {
	name string
	fn   func(t *testing.T, s *logged)
}{
	{"Devices_AddListRemoveAtMostMax", testDevices},
	{"Devices_ConcurrentAddsKeepTheLimit", testDevicesConcurrent},
	{"Notifications_HistoryAfterInLogOrder", testHistoryAfter},
	{"Notifications_ScheduleMovesTheCursorOnceAndNeverDuplicates", testSchedule},
	{"Notifications_ClaimSentRetryDrop", testNotificationLifecycle},
	{"Preferences_NotificationChoicesRoundTrip", testNotificationPreferences},
}

func device(id string, owner wallet.IIN, at time.Time) wallet.Device {
	return wallet.Device{ID: id, OwnerIIN: owner, Platform: wallet.PlatformWebhook, URL: "https://example.test/hook/" + id,
		SealedSecret: []byte("sealed " + id), CreatedAt: at}
}

func testDevices(t *testing.T, s *logged) {
	ctx := context.Background()
	wantCode(t, s.AddDevice(ctx, wallet.Device{OwnerIIN: alice, Platform: wallet.PlatformWebhook, CreatedAt: t0}, 3), wallet.EINVALID)
	for i := range 3 {
		must(t, s.AddDevice(ctx, device(fmt.Sprintf("d-%d", i), alice, t0.Add(time.Duration(i)*time.Second)), 3))
	}
	wantCode(t, s.AddDevice(ctx, device("d-3", alice, t0), 3), wallet.ECONFLICT)
	wantCode(t, s.AddDevice(ctx, device("d-0", bob, t0), 3), wallet.ECONFLICT) // the id exists
	must(t, s.AddDevice(ctx, device("b-0", bob, t0), 3))

	got, err := s.Devices(ctx, alice)
	must(t, err)
	equal(t, "devices", len(got), 3)
	d := got[0]
	equal(t, "first device", []any{d.ID, d.OwnerIIN, d.Platform, d.URL, string(d.SealedSecret), d.Status, d.Failures, d.CreatedAt},
		[]any{"d-0", alice, wallet.PlatformWebhook, "https://example.test/hook/d-0", "sealed d-0", wallet.DeviceActive, 0, us(t0)})
	equal(t, "order", []string{got[1].ID, got[2].ID}, []string{"d-1", "d-2"})

	// Another citizen's device is not found and stays.
	wantCode(t, s.RemoveDevice(ctx, alice, "b-0"), wallet.ENOTFOUND)
	must(t, s.RemoveDevice(ctx, alice, "d-1"))
	wantCode(t, s.RemoveDevice(ctx, alice, "d-1"), wallet.ENOTFOUND)
	_, err = s.Device(ctx, "d-1")
	wantCode(t, err, wallet.ENOTFOUND)
	if _, err := s.Device(ctx, "b-0"); err != nil {
		t.Fatal(err)
	}
	// Room again for one more.
	must(t, s.AddDevice(ctx, device("d-4", alice, t0.Add(time.Minute)), 3))
}

func testDevicesConcurrent(t *testing.T, s *logged) {
	ctx := context.Background()
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.AddDevice(ctx, device(fmt.Sprintf("c-%d", i), alice, t0), 5)
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if wallet.ErrorCode(err) != wallet.ECONFLICT {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	equal(t, "devices added", ok, 5)
}

func testHistoryAfter(t *testing.T, s *logged) {
	ctx := context.Background()
	start, err := s.NotificationCursor(ctx)
	must(t, err)
	equal(t, "cursor of a new store", start, int64(-1))
	i1, err := s.appendEvent(event("e-1", wallet.EventCodesVoided, alice, t0))
	must(t, err)
	i2, err := s.recordView(wallet.View{ID: "v-1", DocumentID: "doc-1", DocumentType: "passport", OwnerIIN: alice,
		ViewerKind: wallet.ViewerOrganisation, ViewerID: "bank-1", Channel: wallet.ChannelConsent, ConsentID: "c-1", At: t0, LogIndex: -1})
	must(t, err)
	i3, err := s.appendEvent(event("e-2", wallet.EventConsentRequested, bob, t0))
	must(t, err)

	rows, err := s.HistoryAfter(ctx, -1, 10)
	must(t, err)
	if len(rows) != 3 || rows[0].Event == nil || rows[1].View == nil || rows[2].Event == nil {
		t.Fatalf("history: %+v", rows)
	}
	equal(t, "indexes", []int64{rows[0].LogIndex, rows[1].LogIndex, rows[2].LogIndex}, []int64{i1, i2, i3})
	equal(t, "view", []any{rows[1].View.ID, rows[1].View.ViewerID, rows[1].View.LogIndex}, []any{"v-1", "bank-1", i2})
	equal(t, "event", []any{rows[2].Event.ID, rows[2].Event.Kind}, []any{"e-2", wallet.EventConsentRequested})

	rows, err = s.HistoryAfter(ctx, i1, 1)
	must(t, err)
	if len(rows) != 1 || rows[0].View == nil || rows[0].View.ID != "v-1" {
		t.Fatalf("one after the first: %+v", rows)
	}
	rows, err = s.HistoryAfter(ctx, i3, 10)
	must(t, err)
	equal(t, "after the last", len(rows), 0)
}

func notification(id, event, dev string, at time.Time) wallet.Notification {
	return wallet.Notification{ID: id, EventID: event, DeviceID: dev, OwnerIIN: alice, Kind: "view", Language: "ru",
		Sealed: []byte("sealed " + id), At: at}
}

func testSchedule(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.AddDevice(ctx, device("d-1", alice, t0), 10))
	must(t, s.AddDevice(ctx, device("d-2", alice, t0), 10))
	must(t, s.ScheduleNotifications(ctx, -1, 4, []wallet.Notification{
		notification("n-1", "e-1", "d-1", t0), notification("n-2", "e-1", "d-2", t0),
		notification("n-3", "e-1", "d-gone", t0), // no such device: skipped
	}))
	cur, err := s.NotificationCursor(ctx)
	must(t, err)
	equal(t, "cursor", cur, int64(4))
	// A second fan-out from the old cursor is refused and stores nothing.
	wantCode(t, s.ScheduleNotifications(ctx, -1, 4, []wallet.Notification{notification("n-9", "e-9", "d-1", t0)}), wallet.ECONFLICT)
	// The same (event, device) again is skipped, not an error.
	must(t, s.ScheduleNotifications(ctx, 4, 7, []wallet.Notification{notification("n-4", "e-1", "d-1", t0), notification("n-5", "e-2", "d-1", t0.Add(time.Second))}))
	got, err := s.Notifications(ctx, "d-1")
	must(t, err)
	if len(got) != 2 || got[0].ID != "n-5" || got[1].ID != "n-1" {
		t.Fatalf("notifications of d-1: %+v", got)
	}
	n := got[1]
	equal(t, "notification", []any{n.EventID, n.DeviceID, n.OwnerIIN, n.Kind, n.Language, string(n.Sealed), n.At, n.Status, n.Attempts},
		[]any{"e-1", "d-1", alice, "view", "ru", "sealed n-1", us(t0), wallet.NotificationPending, 0})
	gone, err := s.Notifications(ctx, "d-gone")
	must(t, err)
	equal(t, "notifications of a missing device", len(gone), 0)
}

func testNotificationLifecycle(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.AddDevice(ctx, device("d-1", alice, t0), 10))
	must(t, s.AddDevice(ctx, device("d-2", alice, t0), 10))
	must(t, s.ScheduleNotifications(ctx, -1, 1, []wallet.Notification{
		notification("n-1", "e-1", "d-1", t0), notification("n-2", "e-1", "d-2", t0), notification("n-3", "e-2", "d-2", t0),
	}))
	got, err := s.ClaimNotifications(ctx, t0.Add(-time.Second), time.Minute, 10)
	must(t, err)
	equal(t, "claimed before due", len(got), 0)
	got, err = s.ClaimNotifications(ctx, t0, time.Minute, 10)
	must(t, err)
	equal(t, "claimed", len(got), 3)
	equal(t, "attempts", got[0].Attempts, 1)
	again, err := s.ClaimNotifications(ctx, t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	equal(t, "claimed while leased", len(again), 0)

	must(t, s.NotificationSent(ctx, "n-1", t0.Add(time.Second)))
	wantCode(t, s.NotificationSent(ctx, "n-1", t0.Add(time.Second)), wallet.ENOTFOUND)
	_, err = s.NotificationRetry(ctx, "n-1", t0, "late", 3)
	wantCode(t, err, wallet.ENOTFOUND)

	// d-2 fails: failing, then dropped at the third failure in a row.
	d, err := s.NotificationRetry(ctx, "n-2", t0.Add(time.Second), "unavailable: 500", 3)
	must(t, err)
	equal(t, "after a failure", []any{d.Status, d.Failures}, []any{wallet.DeviceFailing, 1})
	d, err = s.NotificationRetry(ctx, "n-3", t0.Add(time.Second), "unavailable: 500", 3)
	must(t, err)
	equal(t, "after two", []any{d.Status, d.Failures}, []any{wallet.DeviceFailing, 2})
	got, err = s.ClaimNotifications(ctx, t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	equal(t, "due again", len(got), 2)
	d, err = s.NotificationRetry(ctx, "n-2", t0.Add(2*time.Second), "unavailable: 500", 3)
	must(t, err)
	equal(t, "dropped", []any{d.Status, d.Failures}, []any{wallet.DeviceDropped, 3})
	// The dropped device's other notification failed with it.
	_, err = s.NotificationRetry(ctx, "n-3", t0.Add(2*time.Second), "x", 3)
	wantCode(t, err, wallet.ENOTFOUND)
	ns, err := s.Notifications(ctx, "d-2")
	must(t, err)
	for _, n := range ns {
		equal(t, "status of "+n.ID, []any{n.Status, len(n.Sealed)}, []any{wallet.NotificationFailed, 0})
	}
	sent, err := s.Notifications(ctx, "d-1")
	must(t, err)
	equal(t, "sent", []any{sent[0].Status, len(sent[0].Sealed)}, []any{wallet.NotificationSent, 0})
	// Nothing more is scheduled to a dropped device.
	must(t, s.ScheduleNotifications(ctx, 1, 2, []wallet.Notification{notification("n-4", "e-3", "d-2", t0)}))
	got, err = s.ClaimNotifications(ctx, t0.Add(time.Hour), time.Minute, 10)
	must(t, err)
	equal(t, "claimed for a dropped device", len(got), 0)

	// A success puts a failing device back to active.
	must(t, s.ScheduleNotifications(ctx, 2, 3, []wallet.Notification{notification("n-5", "e-5", "d-1", t0), notification("n-6", "e-6", "d-1", t0)}))
	got, err = s.ClaimNotifications(ctx, t0.Add(time.Hour), time.Minute, 10)
	must(t, err)
	equal(t, "claimed", len(got), 2)
	d, err = s.NotificationRetry(ctx, "n-5", t0.Add(time.Hour), "x", 3)
	must(t, err)
	equal(t, "failing", d.Status, wallet.DeviceFailing)
	must(t, s.NotificationSent(ctx, "n-6", t0.Add(time.Hour)))
	d, err = s.Device(ctx, "d-1")
	must(t, err)
	equal(t, "active again", []any{d.Status, d.Failures}, []any{wallet.DeviceActive, 0})

	// Removing a device fails its pending notifications.
	must(t, s.RemoveDevice(ctx, alice, "d-1"))
	ns, err = s.Notifications(ctx, "d-1")
	must(t, err)
	for _, n := range ns {
		if n.Status == wallet.NotificationPending {
			t.Fatalf("pending after removal: %+v", n)
		}
	}
}

func testNotificationPreferences(t *testing.T, s *logged) {
	ctx := context.Background()
	choices := wallet.NotificationChoices{Views: false, Consents: true, Duplicates: false, Cases: true}
	must(t, s.SavePreferences(ctx, wallet.Preferences{IIN: alice, Language: "en", Notifications: choices, UpdatedAt: t0}))
	got, err := s.Preferences(ctx, alice)
	must(t, err)
	equal(t, "choices", got.Notifications, choices)
	must(t, s.SavePreferences(ctx, wallet.Preferences{IIN: alice, Language: "en", Notifications: wallet.DefaultNotifications, UpdatedAt: t0}))
	got, err = s.Preferences(ctx, alice)
	must(t, err)
	equal(t, "defaults", got.Notifications, wallet.DefaultNotifications)
}
