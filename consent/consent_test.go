package consent_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/wallet"
)

func TestConsent(t *testing.T) {
	runAll(t, map[string]func(t *testing.T, e *env){
		"OTPCodeSentToRegisteredPhoneGrants":         testOTPHappyPath,
		"ThreeWrongCodesThenExpired":                 testOTPWrongCodes,
		"OTPCodeOfAnotherConsentDoesNotGrant":        testOTPCodeOfAnotherConsent,
		"SMSReplyYesGrantsNoDenies":                  testSMSReply,
		"SMSReplyFromAnotherPhoneIsNotFound":         testSMSReplyOtherPhone,
		"SMSReplyUnreadableIsInvalid":                testSMSReplyUnreadable,
		"SMSReplyAnswersNewestLiveRequest":           testSMSReplyNewest,
		"SMSReplyAnswersOneRequestOnce":              testSMSReplyAnswersOneRequestOnce,
		"AppApproveAndDeny":                          testAppApproveDeny,
		"OnlyTheSubjectDecides":                      testOnlySubjectDecides,
		"ConcurrentApproveAndDenyOneWins":            testConcurrentDeciders,
		"TypeNotAdmittedIsForbidden":                 testNotAdmitted,
		"InvalidRequestsAreRefused":                  testInvalidRequests,
		"UnknownIINIsNotFound":                       testUnknownIIN,
		"PendingRequestExpires":                      testPendingExpires,
		"ExpiredGrantReleasesNothing":                testExpiredGrant,
		"RevokedGrantReleasesNothingAtOnce":          testRevoked,
		"RevocationDuringReleaseReleasesNothing":     testRevokedDuringRelease,
		"PendingOrDeniedReleasesNothing":             testNotGrantedYet,
		"AnotherClientsConsentIsNotFound":            testOtherClient,
		"ReleaseRecordsViewsForBothParties":          testReleaseViews,
		"RateLimitPerClient":                         testRateLimitClient,
		"RateLimitPerIINAcrossClients":               testRateLimitIIN,
		"DurableLimitHoldsWhenCountersAreLost":       testDurableLimit,
		"FailedSMSLeavesRequestDenied":               testFailedSMS,
		"RateLimitPerClientPerIIN":                   testRateLimitPerClientPerIIN,
		"MinorAskedThroughRepresentative":            testMinorAskedThroughRepresentative,
		"AuthenticateRefusesUnknownWrongAndDisabled": testAuthenticate,
		"DisabledClientCanNeitherAskNorRelease":      testDisabledClient,
		"CreateClientValidatesAndHidesTheSecretHash": testCreateClient,
		"RevokeNeedsALiveGrant":                      testRevokeStates,
		"SMSInTheCitizensLanguage":                   testSMSLanguage,
		"BankGetsIdentityDocumentsOnlyInPerson":      testBankIdentityInPerson,
	})
}

func testOTPHappyPath(t *testing.T, e *env) {
	ctx := context.Background()
	c, err := e.svc.Request(ctx, e.bank.ID, consent.Request{
		IIN:           e.citizen.IIN,
		DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration, wallet.DrivingLicence},
		Purpose:       "opening a current account",
		Method:        wallet.ConsentOTP,
		ValidFor:      2 * time.Hour,
	})
	must(t, err)
	if c.Status != wallet.ConsentPending || c.Phone != e.citizen.Phone || c.ClientID != e.bank.ID {
		t.Fatalf("consent %+v", c)
	}
	if !c.RequestExpiresAt.Equal(e.clock.Now().Add(consent.DefaultRequestTTL)) {
		t.Fatalf("request expires at %v", c.RequestExpiresAt)
	}
	msgs := e.outbox.Messages("")
	if len(msgs) != 1 || msgs[0].To != e.citizen.Phone {
		t.Fatalf("messages %+v, want one to %s", msgs, e.citizen.Phone)
	}
	for _, want := range []string{"Halyk Bank asks for your vehicle registration certificate and driving licence", "opening a current account", "Give it only to Halyk Bank"} {
		if !strings.Contains(msgs[0].Text, want) {
			t.Errorf("SMS %q does not say %q", msgs[0].Text, want)
		}
	}
	code := e.lastCode(t, e.citizen.Phone)
	e.clock.Advance(time.Minute)
	got, err := e.svc.SubmitOTP(ctx, e.bank.ID, c.ID, code)
	must(t, err)
	now := e.clock.Now()
	if got.Status != wallet.ConsentGranted || got.DecidedAt == nil || !got.DecidedAt.Equal(now) ||
		got.GrantExpiresAt == nil || !got.GrantExpiresAt.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("after the code: %+v", got)
	}
	// The code works once.
	_, err = e.svc.SubmitOTP(ctx, e.bank.ID, c.ID, code)
	wantCode(t, err, wallet.ECONFLICT)

	rel, err := e.svc.Release(ctx, e.bank.ID, c.ID)
	must(t, err)
	var types []wallet.DocumentType
	for _, r := range rel {
		types = append(types, r.Document.Type)
	}
	if !slices.Equal(types, []wallet.DocumentType{wallet.DrivingLicence, wallet.VehicleRegistration}) {
		t.Fatalf("released %v", types)
	}
	if kinds := e.eventKinds(t, e.citizen.IIN, c.ID); !slices.Equal(kinds, []string{wallet.EventConsentRequested, wallet.EventConsentGranted}) {
		t.Fatalf("events %v", kinds)
	}
}

func testOTPWrongCodes(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentOTP)
	code := e.lastCode(t, e.citizen.Phone)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for left := 2; left >= 0; left-- {
		_, err := e.svc.SubmitOTP(ctx, e.bank.ID, c.ID, wrong)
		if we := wantCode(t, err, wallet.EINVALIDCODE); we.AttemptsLeft != left {
			t.Fatalf("attempts left %d, want %d", we.AttemptsLeft, left)
		}
	}
	_, err := e.svc.SubmitOTP(ctx, e.bank.ID, c.ID, code)
	wantCode(t, err, wallet.EEXPIRED)
	got, err := e.svc.Get(ctx, e.bank.ID, c.ID)
	must(t, err)
	if got.Status != wallet.ConsentPending {
		t.Fatalf("status %s after dead code, want pending (until it expires)", got.Status)
	}
	_, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.ECONFLICT)
}

func testOTPCodeOfAnotherConsent(t *testing.T, e *env) {
	ctx := context.Background()
	e.svc.Limits.PerClientPerIINPerHour = 10 // the bank asks four times
	first := e.request(t, wallet.ConsentOTP)
	firstCode := e.lastCode(t, e.citizen.Phone)
	second := e.request(t, wallet.ConsentOTP)
	secondCode := e.lastCode(t, e.citizen.Phone)
	if firstCode == secondCode {
		t.Skip("the two random codes happen to be equal")
	}
	_, err := e.svc.SubmitOTP(ctx, e.bank.ID, second.ID, firstCode)
	wantCode(t, err, wallet.EINVALIDCODE)
	_, err = e.svc.SubmitOTP(ctx, e.bank.ID, first.ID, firstCode)
	must(t, err)
	_, err = e.svc.SubmitOTP(ctx, e.bank.ID, second.ID, secondCode)
	must(t, err)
	// A malformed code costs nothing and says so.
	third := e.request(t, wallet.ConsentOTP)
	_, err = e.svc.SubmitOTP(ctx, e.bank.ID, third.ID, "12ab")
	wantCode(t, err, wallet.EINVALID)
	// An sms_reply consent cannot be granted with a code.
	reply := e.request(t, wallet.ConsentSMSReply)
	_, err = e.svc.SubmitOTP(ctx, e.bank.ID, reply.ID, "123456")
	wantCode(t, err, wallet.ECONFLICT)
}

func testSMSReply(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentSMSReply)
	msgs := e.outbox.Messages(e.citizen.Phone)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	for _, want := range []string{"Halyk Bank", "opening a current account", "Reply YES", "NO"} {
		if !strings.Contains(msgs[0].Text, want) {
			t.Errorf("SMS %q does not say %q", msgs[0].Text, want)
		}
	}
	ref := e.lastRef(t, e.citizen.Phone)
	// The national form of the same phone is the same phone.
	national := "8" + e.citizen.Phone[2:]
	got, err := e.inbound(national, " yes "+ref+" ", e.clock.Now())
	must(t, err)
	if got.ID != c.ID || got.Status != wallet.ConsentGranted {
		t.Fatalf("after YES: %+v", got)
	}
	_, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	must(t, err)

	d := e.request(t, wallet.ConsentSMSReply)
	ref2 := e.lastRef(t, e.citizen.Phone)
	got, err = e.inbound(e.citizen.Phone, "Нет "+ref2, e.clock.Now())
	must(t, err)
	if got.ID != d.ID || got.Status != wallet.ConsentDenied {
		t.Fatalf("after NO: %+v", got)
	}
	// Nothing is pending any more.
	_, err = e.inbound(e.citizen.Phone, "yes "+ref2, e.clock.Now())
	wantCode(t, err, wallet.ENOTFOUND)
	if kinds := e.eventKinds(t, e.citizen.IIN, d.ID); !slices.Equal(kinds, []string{wallet.EventConsentRequested, wallet.EventConsentDenied}) {
		t.Fatalf("events %v", kinds)
	}
}

func testSMSReplyOtherPhone(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentSMSReply)
	ref := e.lastRef(t, e.citizen.Phone)
	_, err := e.inbound(e.citizen2.Phone, "YES "+ref, e.clock.Now())
	wantCode(t, err, wallet.ENOTFOUND)
	got, err := e.svc.Get(ctx, e.bank.ID, c.ID)
	must(t, err)
	if got.Status != wallet.ConsentPending {
		t.Fatalf("status %s", got.Status)
	}
	_, err = e.inbound("not a phone", "YES "+ref, e.clock.Now())
	wantCode(t, err, wallet.EINVALID)
}

func testSMSReplyUnreadable(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentSMSReply)
	ref := e.lastRef(t, e.citizen.Phone)
	// A bare YES names no request and answers none.
	for _, text := range []string{"yes please", "ok", "123456", "", "yes", "NO", "yes " + ref + "0"} {
		_, err := e.inbound(e.citizen.Phone, text, e.clock.Now())
		wantCode(t, err, wallet.EINVALID)
	}
	got, err := e.svc.Get(ctx, e.bank.ID, c.ID)
	must(t, err)
	if got.Status != wallet.ConsentPending {
		t.Fatalf("status %s", got.Status)
	}
}

func testSMSReplyNewest(t *testing.T, e *env) {
	old := e.request(t, wallet.ConsentSMSReply)
	oldRef := e.lastRef(t, e.citizen.Phone)
	e.clock.Advance(11 * time.Minute) // old has expired
	mid := e.request(t, wallet.ConsentSMSReply)
	midRef := e.lastRef(t, e.citizen.Phone)
	e.clock.Advance(time.Minute)
	replyAt := e.clock.Now()
	e.clock.Advance(time.Second)
	newest := e.request(t, wallet.ConsentSMSReply)
	newestRef := e.lastRef(t, e.citizen.Phone)
	// A reply received before newest was sent never answers it, even with
	// its number.
	_, err := e.inbound(e.citizen.Phone, "YES "+newestRef, replyAt)
	wantCode(t, err, wallet.ENOTFOUND)
	got, err := e.inbound(e.citizen.Phone, "YES "+midRef, replyAt)
	must(t, err)
	if got.ID != mid.ID {
		t.Fatalf("reply went to %s, want %s (old %s, newest %s)", got.ID, mid.ID, old.ID, newest.ID)
	}
	got, err = e.inbound(e.citizen.Phone, "no "+newestRef, e.clock.Now())
	must(t, err)
	if got.ID != newest.ID || got.Status != wallet.ConsentDenied {
		t.Fatalf("second reply: %+v", got)
	}
	// The expired one is left alone.
	_, err = e.inbound(e.citizen.Phone, "yes "+oldRef, e.clock.Now())
	if c := wallet.ErrorCode(err); c != wallet.ENOTFOUND && c != wallet.EEXPIRED {
		t.Fatalf("reply to an expired request: %v", err)
	}
}

// testSMSReplyAnswersOneRequestOnce: a reply answers the request whose
// number it carries, never another's (a wider, later one of another bank);
// one gateway message is accepted once; a signed message replayed after
// the window is refused.
func testSMSReplyAnswersOneRequestOnce(t *testing.T, e *env) {
	ctx := context.Background()
	a := e.request(t, wallet.ConsentSMSReply)
	refA := e.lastRef(t, e.citizen.Phone)
	e.clock.Advance(time.Minute)
	b, err := e.svc.Request(ctx, e.insurer.ID, consent.Request{
		IIN:           e.citizen.IIN,
		DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration, wallet.DrivingLicence},
		Purpose:       "a much wider request",
		Method:        wallet.ConsentSMSReply,
	})
	must(t, err)
	refB := e.lastRef(t, e.citizen.Phone)
	if refA == refB {
		t.Fatalf("two open requests to one phone share the number %s", refA)
	}
	// The citizen answers bank A's SMS.
	msg := sms.Inbound{MessageID: "gw-bind-1", From: e.citizen.Phone, Text: "YES " + refA, ReceivedAt: e.clock.Now()}
	got, err := e.svc.Inbound(ctx, msg)
	must(t, err)
	if got.ID != a.ID || got.Status != wallet.ConsentGranted {
		t.Fatalf("YES %s answered %s (%s), want %s; b is %s", refA, got.ID, got.Status, a.ID, b.ID)
	}
	if cur, _ := e.svc.Get(ctx, e.insurer.ID, b.ID); cur.Status != wallet.ConsentPending {
		t.Fatalf("b is %s after a reply to a", cur.Status)
	}
	// The same gateway message delivered twice: refused, whatever its text.
	_, err = e.svc.Inbound(ctx, msg)
	wantCode(t, err, wallet.ECONFLICT)
	msg.Text = "YES " + refB
	_, err = e.svc.Inbound(ctx, msg)
	wantCode(t, err, wallet.ECONFLICT)
	// A signed message replayed after the window, under a new id: refused.
	old := sms.Inbound{MessageID: "gw-bind-2", From: e.citizen.Phone, Text: "YES " + refB,
		ReceivedAt: e.clock.Now().Add(-consent.InboundWindow - time.Second)}
	_, err = e.svc.Inbound(ctx, old)
	wantCode(t, err, wallet.EEXPIRED)
	// Neither missing nor future times pass.
	_, err = e.svc.Inbound(ctx, sms.Inbound{MessageID: "gw-bind-3", From: e.citizen.Phone, Text: "YES " + refB})
	wantCode(t, err, wallet.EINVALID)
	_, err = e.svc.Inbound(ctx, sms.Inbound{MessageID: "gw-bind-4", From: e.citizen.Phone, Text: "YES " + refB,
		ReceivedAt: e.clock.Now().Add(consent.InboundClockSkew + time.Second)})
	wantCode(t, err, wallet.EINVALID)
	_, err = e.svc.Inbound(ctx, sms.Inbound{From: e.citizen.Phone, Text: "YES " + refB, ReceivedAt: e.clock.Now()})
	wantCode(t, err, wallet.EINVALID)
	// A second YES to A's number answers nothing more.
	_, err = e.inbound(e.citizen.Phone, "YES "+refA, e.clock.Now())
	wantCode(t, err, wallet.ENOTFOUND)
	if cur, _ := e.svc.Get(ctx, e.insurer.ID, b.ID); cur.Status != wallet.ConsentPending {
		t.Fatalf("b is %s after replays", cur.Status)
	}
	// B's own number, in a fresh message, answers B.
	got, err = e.inbound(e.citizen.Phone, refB+" no", e.clock.Now())
	must(t, err)
	if got.ID != b.ID || got.Status != wallet.ConsentDenied {
		t.Fatalf("NO %s: %+v", refB, got)
	}
}

func testAppApproveDeny(t *testing.T, e *env) {
	ctx := context.Background()
	a := e.request(t, wallet.ConsentApp)
	b := e.request(t, wallet.ConsentApp)
	if n := len(e.outbox.Messages("")); n != 0 {
		t.Fatalf("app requests sent %d SMS", n)
	}
	list, err := e.svc.ConsentsOf(ctx, e.citizen.IIN)
	must(t, err)
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("consents of the citizen: %+v", list)
	}
	got, err := e.svc.Approve(ctx, e.citizen.IIN, a.ID)
	must(t, err)
	if got.Status != wallet.ConsentGranted {
		t.Fatalf("approve: %+v", got)
	}
	got, err = e.svc.Deny(ctx, e.citizen.IIN, b.ID)
	must(t, err)
	if got.Status != wallet.ConsentDenied || got.GrantExpiresAt != nil {
		t.Fatalf("deny: %+v", got)
	}
	_, err = e.svc.Approve(ctx, e.citizen.IIN, b.ID)
	wantCode(t, err, wallet.ECONFLICT)
	_, err = e.svc.Deny(ctx, e.citizen.IIN, a.ID)
	wantCode(t, err, wallet.ECONFLICT)
	// The app may approve a request of another method too.
	o := e.request(t, wallet.ConsentOTP)
	code := e.lastCode(t, e.citizen.Phone)
	_, err = e.svc.Approve(ctx, e.citizen.IIN, o.ID)
	must(t, err)
	_, err = e.svc.SubmitOTP(ctx, e.bank.ID, o.ID, code)
	wantCode(t, err, wallet.ECONFLICT)
	list, err = e.svc.ConsentsOf(ctx, e.citizen.IIN)
	must(t, err)
	var statuses []string
	for _, c := range list {
		statuses = append(statuses, c.Status)
	}
	if !slices.Equal(statuses, []string{wallet.ConsentGranted, wallet.ConsentDenied, wallet.ConsentGranted}) {
		t.Fatalf("statuses %v", statuses)
	}
}

func testOnlySubjectDecides(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentApp)
	_, err := e.svc.Approve(ctx, e.citizen2.IIN, c.ID)
	missing := wantCode(t, err, wallet.ENOTFOUND)
	_, err = e.svc.Approve(ctx, e.citizen2.IIN, "cns_doesnotexist")
	if other := wantCode(t, err, wallet.ENOTFOUND); other.Message != missing.Message {
		t.Fatalf("messages differ: %q vs %q", other.Message, missing.Message)
	}
	_, err = e.svc.Deny(ctx, e.citizen2.IIN, c.ID)
	wantCode(t, err, wallet.ENOTFOUND)
	list, err := e.svc.ConsentsOf(ctx, e.citizen2.IIN)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("another citizen sees %d consents", len(list))
	}
	_, err = e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	_, err = e.svc.Revoke(ctx, e.citizen2.IIN, c.ID)
	wantCode(t, err, wallet.ENOTFOUND)
}

func testConcurrentDeciders(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentApp)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if i%2 == 0 {
				_, errs[i] = e.svc.Approve(ctx, e.citizen.IIN, c.ID)
			} else {
				_, errs[i] = e.svc.Deny(ctx, e.citizen.IIN, c.ID)
			}
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch wallet.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Fatalf("deciders %d and %d both won", winner, i)
			}
			winner = i
		case wallet.ECONFLICT:
		default:
			t.Fatalf("decider %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("nobody won")
	}
	want := wallet.ConsentGranted
	if winner%2 == 1 {
		want = wallet.ConsentDenied
	}
	got, err := e.svc.Get(ctx, e.bank.ID, c.ID)
	must(t, err)
	if got.Status != want {
		t.Fatalf("status %s, winner %d", got.Status, winner)
	}
	if kinds := e.eventKinds(t, e.citizen.IIN, c.ID); len(kinds) != 2 {
		t.Fatalf("events %v, want the request and one decision", kinds)
	}
}

func testNotAdmitted(t *testing.T, e *env) {
	ctx := context.Background()
	_, err := e.svc.Request(ctx, e.bank.ID, consent.Request{
		IIN:           e.citizen.IIN,
		DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration, wallet.Diploma},
		Purpose:       "checking qualifications",
		Method:        wallet.ConsentApp,
	})
	if we := wantCode(t, err, wallet.EFORBIDDEN); !strings.Contains(we.Message, string(wallet.Diploma)) {
		t.Fatalf("message %q does not name the type", we.Message)
	}
	list, err := e.svc.ConsentsOf(ctx, e.citizen.IIN)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("a refused request was stored")
	}
}

func testInvalidRequests(t *testing.T, e *env) {
	ctx := context.Background()
	e.svc.Limits.PerClientPerIINPerHour = 10 // the bank asks four times
	ok := consent.Request{
		IIN:           e.citizen.IIN,
		DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration},
		Purpose:       "opening a current account",
		Method:        wallet.ConsentApp,
	}
	cases := map[string]func(r *consent.Request){
		"bad check digit":    func(r *consent.Request) { r.IIN = r.IIN[:11] + wallet.IIN(rune('0'+(r.IIN[11]-'0'+1)%10)) },
		"purpose too short":  func(r *consent.Request) { r.Purpose = " ab " },
		"purpose too long":   func(r *consent.Request) { r.Purpose = strings.Repeat("x", consent.MaxPurpose+1) },
		"purpose two lines":  func(r *consent.Request) { r.Purpose = "line one\nline two" },
		"purpose RLO":        func(r *consent.Request) { r.Purpose = "opening an account \u202etnuocca" },
		"purpose zero width": func(r *consent.Request) { r.Purpose = "opening a\u200b current account" },
		"purpose ZWJ":        func(r *consent.Request) { r.Purpose = "opening a\u200d current account" },
		"purpose BOM":        func(r *consent.Request) { r.Purpose = "\ufeffopening a current account" },
		"purpose isolate":    func(r *consent.Request) { r.Purpose = "opening \u2066a\u2069 current account" },
		"purpose line sep":   func(r *consent.Request) { r.Purpose = "line one\u2028line two" },
		"purpose soft hyph":  func(r *consent.Request) { r.Purpose = "open\u00ading a current account" },
		"purpose DEL":        func(r *consent.Request) { r.Purpose = "opening a\x7f current account" },
		"no types":           func(r *consent.Request) { r.DocumentTypes = nil },
		"unknown type":       func(r *consent.Request) { r.DocumentTypes = []wallet.DocumentType{"tax_return"} },
		"repeated type": func(r *consent.Request) {
			r.DocumentTypes = []wallet.DocumentType{wallet.VehicleRegistration, wallet.VehicleRegistration}
		},
		"unknown method":     func(r *consent.Request) { r.Method = "email" },
		"validity too long":  func(r *consent.Request) { r.ValidFor = 91 * 24 * time.Hour },
		"validity too short": func(r *consent.Request) { r.ValidFor = 30 * time.Second },
		"validity negative":  func(r *consent.Request) { r.ValidFor = -time.Hour },
	}
	for name, mutate := range cases {
		r := ok
		mutate(&r)
		_, err := e.svc.Request(ctx, e.bank.ID, r)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want invalid_request", name, err)
		}
	}
	// The bounds themselves are fine; no validity means a day.
	for _, d := range []time.Duration{time.Minute, 90 * 24 * time.Hour} {
		r := ok
		r.ValidFor = d
		_, err := e.svc.Request(ctx, e.bank.ID, r)
		must(t, err)
	}
	// Kazakh, Russian and punctuation are fine.
	kk := ok
	kk.Purpose = "Несие алу үшін — «Қазақстан» банкі, открытие счёта №1"
	_, err := e.svc.Request(ctx, e.bank.ID, kk)
	must(t, err)
	c, err := e.svc.Request(ctx, e.bank.ID, ok)
	must(t, err)
	if c.ValidFor != 24*time.Hour {
		t.Fatalf("default validity %v", c.ValidFor)
	}
}

func testUnknownIIN(t *testing.T, e *env) {
	var iin wallet.IIN
	for serial := 4242; iin == ""; serial++ {
		iin, _ = wallet.MakeIIN(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), false, serial)
	}
	if _, err := e.demo.Citizen(context.Background(), iin); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Skip("the demo registry happens to know the made-up IIN")
	}
	_, err := e.svc.Request(context.Background(), e.bank.ID, consent.Request{
		IIN: iin, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "opening a current account", Method: wallet.ConsentOTP,
	})
	wantCode(t, err, wallet.ENOTFOUND)
	if n := len(e.outbox.Messages("")); n != 0 {
		t.Fatalf("%d SMS sent", n)
	}
}

func testPendingExpires(t *testing.T, e *env) {
	ctx := context.Background()
	app := e.request(t, wallet.ConsentApp)
	otpc := e.request(t, wallet.ConsentOTP)
	code := e.lastCode(t, e.citizen.Phone)
	reply := e.request(t, wallet.ConsentSMSReply)
	replyRef := e.lastRef(t, e.citizen.Phone)
	e.clock.Advance(consent.DefaultRequestTTL)
	got, err := e.svc.Get(ctx, e.bank.ID, app.ID)
	must(t, err)
	if got.Status != wallet.ConsentExpired {
		t.Fatalf("status %s, want expired", got.Status)
	}
	_, err = e.svc.Approve(ctx, e.citizen.IIN, app.ID)
	wantCode(t, err, wallet.EEXPIRED)
	_, err = e.svc.Deny(ctx, e.citizen.IIN, app.ID)
	wantCode(t, err, wallet.EEXPIRED)
	_, err = e.svc.SubmitOTP(ctx, e.bank.ID, otpc.ID, code)
	wantCode(t, err, wallet.EEXPIRED)
	_, err = e.inbound(e.citizen.Phone, "yes "+replyRef, e.clock.Now())
	if c := wallet.ErrorCode(err); c != wallet.ENOTFOUND && c != wallet.EEXPIRED {
		t.Fatalf("reply to an expired request: %v", err)
	}
	_, err = e.svc.Release(ctx, e.bank.ID, reply.ID)
	wantCode(t, err, wallet.EEXPIRED)
}

func testExpiredGrant(t *testing.T, e *env) {
	ctx := context.Background()
	c, err := e.svc.Request(ctx, e.bank.ID, consent.Request{
		IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "a one-hour check",
		Method: wallet.ConsentApp, ValidFor: time.Hour,
	})
	must(t, err)
	_, err = e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	e.clock.Advance(time.Hour - time.Second)
	_, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	must(t, err)
	e.clock.Advance(time.Second)
	_, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.EEXPIRED)
	got, err := e.svc.Get(ctx, e.bank.ID, c.ID)
	must(t, err)
	if got.Status != wallet.ConsentExpired {
		t.Fatalf("status %s", got.Status)
	}
	views, err := e.svc.ViewsByClient(ctx, e.bank.ID)
	must(t, err)
	if len(views) != 1 {
		t.Fatalf("%d views, want the one release before expiry", len(views))
	}
}

func testRevoked(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentApp)
	_, err := e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	_, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	must(t, err)
	got, err := e.svc.Revoke(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	if got.Status != wallet.ConsentRevoked || got.RevokedAt == nil {
		t.Fatalf("revoke: %+v", got)
	}
	_, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.EEXPIRED)
	views, err := e.store.ViewsOfOwner(ctx, e.citizen.IIN)
	must(t, err)
	if len(views) != 1 {
		t.Fatalf("%d views, want 1", len(views))
	}
	if kinds := e.eventKinds(t, e.citizen.IIN, c.ID); !slices.Equal(kinds, []string{wallet.EventConsentRequested, wallet.EventConsentGranted, wallet.EventConsentRevoked}) {
		t.Fatalf("events %v", kinds)
	}
}

func testRevokedDuringRelease(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentApp)
	_, err := e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	// The revocation commits while the documents are being fetched.
	e.docs.setBefore(func() {
		if _, err := e.svc.Revoke(ctx, e.citizen.IIN, c.ID); err != nil {
			t.Error(err)
		}
	})
	rel, err := e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.EEXPIRED)
	if rel != nil {
		t.Fatalf("released %d documents", len(rel))
	}
	views, err := e.svc.ViewsByClient(ctx, e.bank.ID)
	must(t, err)
	if len(views) != 0 {
		t.Fatalf("%d views recorded for a refused release", len(views))
	}
}

func testNotGrantedYet(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentApp)
	_, err := e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.ECONFLICT)
	_, err = e.svc.Deny(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	_, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.ECONFLICT)
	views, err := e.store.ViewsOfOwner(ctx, e.citizen.IIN)
	must(t, err)
	if len(views) != 0 {
		t.Fatalf("%d views", len(views))
	}
}

func testOtherClient(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentOTP)
	code := e.lastCode(t, e.citizen.Phone)
	_, err := e.svc.Get(ctx, e.insurer.ID, "cns_doesnotexist")
	missing := wantCode(t, err, wallet.ENOTFOUND)
	_, err = e.svc.Get(ctx, e.insurer.ID, c.ID)
	if other := wantCode(t, err, wallet.ENOTFOUND); other.Message != missing.Message {
		t.Fatalf("messages differ: %q vs %q", other.Message, missing.Message)
	}
	// The other client cannot spend the code either: it does not even try it.
	_, err = e.svc.SubmitOTP(ctx, e.insurer.ID, c.ID, code)
	wantCode(t, err, wallet.ENOTFOUND)
	_, err = e.svc.SubmitOTP(ctx, e.bank.ID, c.ID, code)
	must(t, err)
	_, err = e.svc.Release(ctx, e.insurer.ID, c.ID)
	wantCode(t, err, wallet.ENOTFOUND)
	list, err := e.svc.ConsentsByClient(ctx, e.insurer.ID)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("the insurer lists %d consents", len(list))
	}
	views, err := e.svc.ViewsByClient(ctx, e.insurer.ID)
	must(t, err)
	if len(views) != 0 {
		t.Fatalf("the insurer has %d views", len(views))
	}
}

func testReleaseViews(t *testing.T, e *env) {
	ctx := context.Background()
	c, err := e.svc.Request(ctx, e.bank.ID, consent.Request{
		IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.DrivingLicence, wallet.VehicleRegistration}, Purpose: "know your customer",
		Method: wallet.ConsentApp,
	})
	must(t, err)
	_, err = e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	rel, err := e.svc.Release(ctx, e.bank.ID, c.ID)
	must(t, err)
	if len(rel) != 2 {
		t.Fatalf("released %d documents, want 2 (the driving licence is not covered)", len(rel))
	}
	released := map[string]bool{}
	for _, r := range rel {
		v := r.View
		if v.DocumentID != r.Document.ID || v.DocumentType != r.Document.Type || v.OwnerIIN != e.citizen.IIN ||
			v.ViewerKind != wallet.ViewerOrganisation || v.ViewerID != e.bank.ID || v.Channel != wallet.ChannelConsent ||
			v.ConsentID != c.ID || !v.At.Equal(e.clock.Now()) {
			t.Fatalf("view %+v of %+v", v, r.Document)
		}
		released[v.ID] = true
	}
	e.clock.Advance(time.Minute)
	_, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	must(t, err)

	owner, err := e.store.ViewsOfOwner(ctx, e.citizen.IIN)
	must(t, err)
	viewer, err := e.store.ViewsByViewer(ctx, wallet.ViewerOrganisation, e.bank.ID)
	must(t, err)
	byClient, err := e.svc.ViewsByClient(ctx, e.bank.ID)
	must(t, err)
	if len(owner) != 4 || len(viewer) != 4 || len(byClient) != 4 {
		t.Fatalf("views: owner %d, viewer %d, by client %d; want 4 each", len(owner), len(viewer), len(byClient))
	}
	for _, v := range owner[2:] { // newest first: the first release is last
		if !released[v.ID] {
			t.Fatalf("view %s of the first release is not in the owner's history", v.ID)
		}
	}
	for i := range owner {
		if owner[i].ID != viewer[i].ID || owner[i].ConsentID != c.ID {
			t.Fatalf("owner's and viewer's histories differ at %d", i)
		}
	}
}

func testRateLimitClient(t *testing.T, e *env) {
	ctx := context.Background()
	e.svc.Limits.PerClientPerHour = 3
	r := consent.Request{
		DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "opening a current account", Method: wallet.ConsentApp,
	}
	citizens := e.demo.Citizens()
	for i := range 3 {
		r.IIN = citizens[i].IIN
		_, err := e.svc.Request(ctx, e.bank.ID, r)
		must(t, err)
	}
	r.IIN = citizens[3].IIN
	_, err := e.svc.Request(ctx, e.bank.ID, r)
	if we := wantCode(t, err, wallet.ERATELIMITED); we.RetryAfter <= 0 || we.RetryAfter > time.Hour {
		t.Fatalf("retry after %v", we.RetryAfter)
	}
	// Another client is not affected.
	_, err = e.svc.Request(ctx, e.insurer.ID, r)
	must(t, err)
}

func testRateLimitIIN(t *testing.T, e *env) {
	ctx := context.Background()
	r := consent.Request{
		IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "opening a current account", Method: wallet.ConsentApp,
	}
	for i := range consent.DefaultPerIINPerHour {
		client := e.bank.ID
		if i%2 == 1 {
			client = e.insurer.ID
		}
		_, err := e.svc.Request(ctx, client, r)
		must(t, err)
	}
	_, err := e.svc.Request(ctx, e.insurer.ID, r)
	if we := wantCode(t, err, wallet.ERATELIMITED); we.RetryAfter <= 0 || we.RetryAfter > time.Hour {
		t.Fatalf("retry after %v", we.RetryAfter)
	}
	// Another citizen is not affected.
	r.IIN = e.citizen2.IIN
	_, err = e.svc.Request(ctx, e.insurer.ID, r)
	must(t, err)
}

// testRateLimitPerClientPerIIN: one organisation spends only its own share
// of a citizen's requests; another still asks. Sign-in codes spend nothing
// of it either (otp's budgets are per purpose).
func testRateLimitPerClientPerIIN(t *testing.T, e *env) {
	ctx := context.Background()
	r := consent.Request{
		IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "opening a current account", Method: wallet.ConsentOTP,
	}
	for range consent.DefaultPerClientPerIINPerHour {
		_, err := e.svc.Request(ctx, e.bank.ID, r)
		must(t, err)
	}
	for range 3 {
		_, err := e.svc.Request(ctx, e.bank.ID, r)
		wantCode(t, err, wallet.ERATELIMITED)
	}
	// The bank's refusals spent nothing of the citizen's budget.
	for range consent.DefaultPerIINPerHour - consent.DefaultPerClientPerIINPerHour {
		_, err := e.svc.Request(ctx, e.insurer.ID, r)
		must(t, err)
	}
	_, err := e.svc.Request(ctx, e.insurer.ID, r)
	wantCode(t, err, wallet.ERATELIMITED)
	if n := len(e.outbox.Messages(e.citizen.Phone)); n != consent.DefaultPerIINPerHour {
		t.Fatalf("the phone got %d consent SMS, want %d", n, consent.DefaultPerIINPerHour)
	}
}

func testDurableLimit(t *testing.T, e *env) {
	ctx := context.Background()
	e.svc.Limits.PerIINPerHour = 2
	r := consent.Request{
		IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "opening a current account", Method: wallet.ConsentApp,
	}
	for range 2 {
		_, err := e.svc.Request(ctx, e.bank.ID, r)
		must(t, err)
		e.clock.Advance(10 * time.Minute)
	}
	// The short-lived store forgets its counters (a restart, a failover).
	e.svc.Codes = freshCodes(e)
	_, err := e.svc.Request(ctx, e.bank.ID, r)
	we := wantCode(t, err, wallet.ERATELIMITED)
	// The first request leaves the sliding hour 40 minutes from now.
	if we.RetryAfter != 40*time.Minute {
		t.Fatalf("retry after %v, want 40m", we.RetryAfter)
	}
	e.clock.Advance(40 * time.Minute)
	_, err = e.svc.Request(ctx, e.bank.ID, r)
	must(t, err)
}

// testFailedSMS: the request does not wait for the gateway. With the
// gateway down, requests are stored pending with their messages queued;
// the outbox retries, and when a message's time runs out the request is
// denied by the system (delivery_failed), so that the organisation learns
// it and a request nobody could have seen is never granted.
func testFailedSMS(t *testing.T, e *env) {
	ctx := context.Background()
	e.gateway.setDown(true)
	for _, method := range []string{wallet.ConsentSMSReply, wallet.ConsentOTP} {
		c, err := e.svc.Request(ctx, e.bank.ID, consent.Request{
			IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "opening a current account", Method: method,
		})
		must(t, err)
		if c.Status != wallet.ConsentPending {
			t.Fatalf("%s request %s with the gateway down, want pending", method, c.Status)
		}
	}
	e.deliver(t)
	e.clock.Advance(time.Minute)
	e.deliver(t)
	if n := len(e.outbox.Messages("")); n != 0 {
		t.Fatalf("%d SMS delivered by a dead gateway", n)
	}
	list, err := e.svc.ConsentsOf(ctx, e.citizen.IIN)
	must(t, err)
	for _, c := range list {
		if c.Status != wallet.ConsentPending {
			t.Fatalf("%s consent %s while its SMS is retried", c.Method, c.Status)
		}
	}
	e.clock.Advance(5 * time.Minute) // past the messages' time
	e.deliver(t)
	list, err = e.svc.ConsentsOf(ctx, e.citizen.IIN)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("%d consents stored", len(list))
	}
	for _, c := range list {
		if c.Status != wallet.ConsentDenied {
			t.Fatalf("%s consent left %s", c.Method, c.Status)
		}
		if kinds := e.eventKinds(t, e.citizen.IIN, c.ID); !slices.Equal(kinds, []string{wallet.EventConsentRequested, wallet.EventConsentDenied}) {
			t.Fatalf("events %v", kinds)
		}
		_, err := e.svc.Approve(ctx, e.citizen.IIN, c.ID)
		wantCode(t, err, wallet.ECONFLICT)
	}
	evs, err := e.store.Events(ctx, e.citizen.IIN)
	must(t, err)
	if evs[0].ActorKind != "system" || evs[0].Details["reason"] != "delivery_failed" {
		t.Fatalf("denial event %+v", evs[0])
	}
	// The gateway back, nothing of those requests is sent late.
	e.gateway.setDown(false)
	if n := len(e.outbox.Messages("")); n != 0 {
		t.Fatalf("%d SMS of given-up requests delivered late", n)
	}
}

func testAuthenticate(t *testing.T, e *env) {
	ctx := context.Background()
	got, err := e.svc.Authenticate(ctx, e.bank.ID, e.secret)
	must(t, err)
	if got.ID != e.bank.ID || got.SecretHash != "" {
		t.Fatalf("authenticated %+v", got)
	}
	_, err = e.svc.Authenticate(ctx, e.bank.ID, e.secret+"x")
	wrong := wantCode(t, err, wallet.EUNAUTHORIZED)
	_, err = e.svc.Authenticate(ctx, "cli_unknown", e.secret)
	unknown := wantCode(t, err, wallet.EUNAUTHORIZED)
	_, err = e.svc.Authenticate(ctx, e.insurer.ID, e.secret)
	wantCode(t, err, wallet.EUNAUTHORIZED)
	_, err = e.svc.Authenticate(ctx, e.bank.ID, "")
	wantCode(t, err, wallet.EUNAUTHORIZED)
	must(t, e.svc.DisableClient(ctx, e.bank.ID))
	_, err = e.svc.Authenticate(ctx, e.bank.ID, e.secret)
	disabled := wantCode(t, err, wallet.EUNAUTHORIZED)
	if wrong.Message != unknown.Message || unknown.Message != disabled.Message {
		t.Fatalf("messages tell the cases apart: %q, %q, %q", wrong.Message, unknown.Message, disabled.Message)
	}
	wantCode(t, e.svc.DisableClient(ctx, "cli_unknown"), wallet.ENOTFOUND)
	must(t, e.svc.DisableClient(ctx, e.bank.ID)) // again: not an error
}

func testDisabledClient(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentApp)
	_, err := e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	must(t, e.svc.DisableClient(ctx, e.bank.ID))
	_, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.EUNAUTHORIZED)
	_, err = e.svc.Request(ctx, e.bank.ID, consent.Request{
		IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "opening a current account", Method: wallet.ConsentApp,
	})
	wantCode(t, err, wallet.EUNAUTHORIZED)
	_, err = e.svc.Get(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.EUNAUTHORIZED)
	// The citizen still sees and may revoke it.
	_, err = e.svc.Revoke(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	clients, err := e.svc.Clients(ctx)
	must(t, err)
	if len(clients) != 3 || clients[0].ID != e.bank.ID || clients[0].DisabledAt == nil || clients[0].SecretHash != "" {
		t.Fatalf("clients %+v", clients)
	}
}

func testCreateClient(t *testing.T, e *env) {
	ctx := context.Background()
	if !strings.HasPrefix(e.bank.ID, "cli_") || e.bank.SecretHash != "" {
		t.Fatalf("client %+v", e.bank)
	}
	if len(e.secret) < 43 { // 32 bytes in base64url
		t.Fatalf("secret of %d characters is too short", len(e.secret))
	}
	stored, err := e.store.Client(ctx, e.bank.ID)
	must(t, err)
	if stored.SecretHash == "" || strings.Contains(stored.SecretHash, e.secret) {
		t.Fatal("the secret is not stored hashed")
	}
	bad := map[string]struct {
		name, kind string
		types      []wallet.DocumentType
	}{
		"no name":       {" ", consent.KindBank, []wallet.DocumentType{wallet.IDCard}},
		"unknown kind":  {"X", "shop", []wallet.DocumentType{wallet.IDCard}},
		"no types":      {"X", consent.KindBank, nil},
		"unknown type":  {"X", consent.KindBank, []wallet.DocumentType{"tax_return"}},
		"repeated type": {"X", consent.KindBank, []wallet.DocumentType{wallet.IDCard, wallet.IDCard}},
	}
	for name, b := range bad {
		_, _, err := e.svc.CreateClient(ctx, b.name, b.kind, b.types)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want invalid_request", name, err)
		}
	}
}

func testRevokeStates(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.request(t, wallet.ConsentApp)
	_, err := e.svc.Revoke(ctx, e.citizen.IIN, c.ID)
	wantCode(t, err, wallet.ECONFLICT) // pending
	_, err = e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	_, err = e.svc.Revoke(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	_, err = e.svc.Revoke(ctx, e.citizen.IIN, c.ID)
	wantCode(t, err, wallet.ECONFLICT) // already revoked
	d := e.request(t, wallet.ConsentApp)
	_, err = e.svc.Approve(ctx, e.citizen.IIN, d.ID)
	must(t, err)
	e.clock.Advance(consent.DefaultValidFor)
	_, err = e.svc.Revoke(ctx, e.citizen.IIN, d.ID)
	wantCode(t, err, wallet.EEXPIRED)
}

func TestRelease_RevokedWhileViewsAreRecordedReleasesNothing(t *testing.T) {
	e := newEnv(t, backends[0])
	ctx := context.Background()
	c := e.request(t, wallet.ConsentApp)
	_, err := e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	e.svc.Changes = &hookedChanges{Committer: e.changes, after: func(n int, vs []wallet.View) {
		if n == 1 {
			if _, err := e.svc.Revoke(ctx, e.citizen.IIN, c.ID); err != nil {
				t.Error(err)
			}
		}
	}}
	rel, err := e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.EEXPIRED)
	if rel != nil {
		t.Fatalf("released %d documents after the revocation", len(rel))
	}
}

func TestRelease_ViewThatCannotBeRecordedReleasesNothing(t *testing.T) {
	e := newEnv(t, backends[0])
	ctx := context.Background()
	c, err := e.svc.Request(ctx, e.bank.ID, consent.Request{
		IIN: e.citizen.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration, wallet.DrivingLicence}, Purpose: "know your customer",
		Method: wallet.ConsentApp,
	})
	must(t, err)
	_, err = e.svc.Approve(ctx, e.citizen.IIN, c.ID)
	must(t, err)
	// The release's views are one change: it fails as a whole.
	e.svc.Changes = &hookedChanges{Committer: e.changes, fail: func(n int) error {
		if n == 1 {
			return wallet.Errorf(wallet.EUNAVAILABLE, "database went away")
		}
		return nil
	}}
	rel, err := e.svc.Release(ctx, e.bank.ID, c.ID)
	wantCode(t, err, wallet.EUNAVAILABLE)
	if rel != nil {
		t.Fatalf("released %d documents", len(rel))
	}
	if views, err := e.store.ViewsOfOwner(ctx, e.citizen.IIN); err != nil || len(views) != 0 {
		t.Fatalf("%d views recorded by a failed release (%v)", len(views), err)
	}
	// The grant stands: a retry releases both, each with its view.
	rel, err = e.svc.Release(ctx, e.bank.ID, c.ID)
	must(t, err)
	if len(rel) != 2 {
		t.Fatalf("released %d documents, want 2", len(rel))
	}
}

// testMinorAskedThroughRepresentative: an organisation's request for a
// minor's documents goes to the minor's legal representative: the SMS to
// the representative's phone, naming the child; the representative
// decides, by code, reply or in the app; the child cannot, and nobody else
// sees it.
func testMinorAskedThroughRepresentative(t *testing.T, e *env) {
	ctx := context.Background()
	child, err := e.demo.Citizen(ctx, "150621515423") // Alikhan, born 2015; Aidos (e.citizen) and Aigerim represent him
	must(t, err)
	ask := func(method string) wallet.Consent {
		t.Helper()
		c, err := e.svc.Request(ctx, e.bank.ID, consent.Request{
			IIN: child.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration}, Purpose: "opening a child's savings account", Method: method,
		})
		must(t, err)
		return c
	}
	// By code: to the representative's phone, not the child's.
	c := ask(wallet.ConsentOTP)
	if c.Phone != e.citizen.Phone {
		t.Fatalf("asked %s, want the representative's phone %s", c.Phone, e.citizen.Phone)
	}
	if n := len(e.outbox.Messages(child.Phone)); n != 0 {
		t.Fatalf("the child's phone got %d SMS", n)
	}
	msgs := e.outbox.Messages(e.citizen.Phone)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Alikhan's vehicle registration") {
		t.Fatalf("the representative's SMS: %+v", msgs)
	}
	_, err = e.svc.SubmitOTP(ctx, e.bank.ID, c.ID, e.lastCode(t, e.citizen.Phone))
	must(t, err)
	evs, err := e.store.Events(ctx, child.IIN)
	must(t, err)
	if evs[0].Kind != wallet.EventConsentGranted || evs[0].ActorKind != wallet.ViewerGuardian || evs[0].ActorID != string(e.citizen.IIN) {
		t.Fatalf("grant event %+v, want the representative as its actor", evs[0])
	}

	// In the app: the child cannot decide, a stranger is not told it
	// exists, either representative can.
	c = ask(wallet.ConsentApp)
	_, err = e.svc.Approve(ctx, child.IIN, c.ID)
	wantCode(t, err, wallet.EFORBIDDEN)
	_, err = e.svc.Approve(ctx, "600210320844", c.ID) // Serik: the representative's own father
	wantCode(t, err, wallet.ENOTFOUND)
	list, err := e.svc.ConsentsFor(ctx, e.citizen2.IIN)
	must(t, err)
	if !slices.ContainsFunc(list, func(x wallet.Consent) bool { return x.ID == c.ID }) {
		t.Fatalf("the other representative does not see the ward's request: %+v", list)
	}
	got, err := e.svc.Deny(ctx, e.citizen2.IIN, c.ID)
	must(t, err)
	if got.Status != wallet.ConsentDenied {
		t.Fatalf("denied by the representative: %s", got.Status)
	}

	// By reply: from the representative's phone only.
	c = ask(wallet.ConsentSMSReply)
	ref := e.lastRef(t, e.citizen.Phone)
	_, err = e.inbound(child.Phone, "YES "+ref, e.clock.Now())
	wantCode(t, err, wallet.ENOTFOUND)
	got, err = e.inbound(e.citizen.Phone, "YES "+ref, e.clock.Now())
	must(t, err)
	if got.ID != c.ID || got.Status != wallet.ConsentGranted {
		t.Fatalf("reply: %+v", got)
	}
	// An adult decides their own, as before.
	own := e.request(t, wallet.ConsentApp)
	_, err = e.svc.Approve(ctx, e.citizen.IIN, own.ID)
	must(t, err)
}

// testSMSLanguage: a citizen who chose no language is asked in Kazakh, one
// who chose Russian in Russian; either answers in their own words.
func testSMSLanguage(t *testing.T, e *env) {
	ctx := context.Background()
	ask := func(method string) wallet.Consent {
		t.Helper()
		c, err := e.svc.Request(ctx, e.bank.ID, consent.Request{
			IIN: e.citizen2.IIN, DocumentTypes: []wallet.DocumentType{wallet.VehicleRegistration, wallet.DrivingLicence},
			Purpose: "ағымдағы шот ашу", Method: method,
		})
		must(t, err)
		return c
	}
	says := func(want ...string) {
		t.Helper()
		msgs := e.outbox.Messages(e.citizen2.Phone)
		if len(msgs) == 0 {
			t.Fatal("no SMS")
		}
		for _, w := range want {
			if !strings.Contains(msgs[0].Text, w) {
				t.Errorf("SMS %q does not say %q", msgs[0].Text, w)
			}
		}
	}

	c := ask(wallet.ConsentOTP)
	says("Halyk Bank сіздің құжаттарыңызды сұрайды: көлік құралын тіркеу туралы куәлік және жүргізуші куәлігі", "Мақсаты: ағымдағы шот ашу", "Оны тек Halyk Bank ұйымына беріңіз")
	got, err := e.svc.SubmitOTP(ctx, e.bank.ID, c.ID, e.lastCode(t, e.citizen2.Phone))
	must(t, err)
	if got.Status != wallet.ConsentGranted {
		t.Fatalf("Kazakh otp: %+v", got)
	}

	must(t, e.store.SavePreferences(ctx, wallet.Preferences{IIN: e.citizen2.IIN, Language: "ru", UpdatedAt: e.clock.Now()}))
	c = ask(wallet.ConsentSMSReply)
	says("Halyk Bank запрашивает ваши документы: свидетельство о регистрации транспортного средства и водительское удостоверение", "Ответьте ДА ", "НЕТ ")
	got, err = e.inbound(e.citizen2.Phone, "да "+e.lastRef(t, e.citizen2.Phone), e.clock.Now())
	must(t, err)
	if got.ID != c.ID || got.Status != wallet.ConsentGranted {
		t.Fatalf("Russian reply: %+v", got)
	}
}

// testBankIdentityInPerson: a bank asking remotely for an identity card or
// a passport is refused before anything is stored or sent, even when it is
// admitted for them; other types, and an insurer, are asked as usual.
func testBankIdentityInPerson(t *testing.T, e *env) {
	ctx := context.Background()
	kyc, _, err := e.svc.CreateClient(ctx, "KYC Bank", consent.KindBank,
		[]wallet.DocumentType{wallet.IDCard, wallet.Passport, wallet.VehicleRegistration})
	must(t, err)
	ask := func(client string, types ...wallet.DocumentType) (wallet.Consent, error) {
		return e.svc.Request(ctx, client, consent.Request{
			IIN: e.citizen.IIN, DocumentTypes: types, Purpose: "opening a current account", Method: wallet.ConsentOTP,
		})
	}
	for _, types := range [][]wallet.DocumentType{
		{wallet.IDCard}, {wallet.Passport}, {wallet.VehicleRegistration, wallet.IDCard},
	} {
		_, err := ask(kyc.ID, types...)
		we := wantCode(t, err, wallet.EFORBIDDEN)
		if !strings.Contains(we.Message, "in person") || !strings.Contains(we.Message, "QR") {
			t.Errorf("%v: message %q does not say they are presented in person", types, we.Message)
		}
	}
	if n := len(e.outbox.Messages("")); n != 0 {
		t.Fatalf("%d SMS sent for refused requests", n)
	}
	if cs, err := e.store.ConsentsOfClient(ctx, kyc.ID); err != nil || len(cs) != 0 {
		t.Fatalf("refused requests stored: %v %v", cs, err)
	}

	c, err := ask(kyc.ID, wallet.VehicleRegistration)
	must(t, err)
	if c.Status != wallet.ConsentPending {
		t.Fatalf("bank + vehicle registration: %+v", c)
	}
	c, err = ask(e.insurer.ID, wallet.IDCard, wallet.Passport)
	must(t, err)
	if c.Status != wallet.ConsentPending {
		t.Fatalf("insurer + identity card: %+v", c)
	}
}
