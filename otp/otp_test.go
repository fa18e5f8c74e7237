package otp_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/wallet"
)

const (
	phone   = "+77011234567"
	subject = "900101300123"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// perHour is the budget the tests spend unless they say otherwise.
var perHour = []otp.Budget{{Name: "all", Limit: 5}}

type env struct {
	clock  *clock
	store  *recordingStore
	hasher *wallet.Hasher
	svc    *otp.Service
}

type storeMaker struct {
	name string
	new  func(now func() time.Time) wallet.ShortLivedStore
}

// stores are the short-lived stores every service test runs on; other test
// files add theirs.
var stores = []storeMaker{
	{"mapstore", func(now func() time.Time) wallet.ShortLivedStore { return newMapStore(now) }},
}

// eachStore runs test on a fresh service over each short-lived store.
func eachStore(t *testing.T, test func(t *testing.T, e *env)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
			e := &env{
				clock:  c,
				store:  &recordingStore{ShortLivedStore: s.new(c.Now)},
				hasher: wallet.NewHasher([]byte("test pepper")),
			}
			e.svc = otp.NewService(e.store, e.hasher)
			e.svc.Now = c.Now
			e.svc.Rand = rand.Reader
			test(t, e)
		})
	}
}

func message(code string) string { return "Qujat: your code is " + code }

var codeInText = regexp.MustCompile(`\d{6}$`)

// issue issues a sign-in challenge to phone and returns it with the code the
// SMS carried.
func (e *env) issue(t *testing.T, purpose, to string) (otp.Challenge, string) {
	t.Helper()
	ch, text, err := e.svc.Issue(context.Background(), purpose, subject, to, perHour, message)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	code := codeInText.FindString(text)
	if code == "" {
		t.Fatalf("no code in %q", text)
	}
	return ch, code
}

func wantCode(t *testing.T, err error, code string) *wallet.Error {
	t.Helper()
	if wallet.ErrorCode(err) != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	return wallet.AsError(err)
}

// wrongCode returns a six-digit code other than code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestVerify_RightCodeReturnsSubjectOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ch, code := e.issue(t, "signin", phone)
		if !strings.HasPrefix(ch.ID, "otp_") {
			t.Errorf("challenge id %q", ch.ID)
		}
		if want := e.clock.Now().Add(5 * time.Minute); !ch.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v", ch.ExpiresAt, want)
		}
		if ch.PhoneHint != "+7 701 *** ** 67" {
			t.Errorf("PhoneHint = %q", ch.PhoneHint)
		}
		got, err := e.svc.Verify(ctx, "signin", ch.ID, code)
		if err != nil || got != subject {
			t.Fatalf("Verify = %q, %v; want %q", got, err, subject)
		}
		_, err = e.svc.Verify(ctx, "signin", ch.ID, code)
		wantCode(t, err, wallet.EEXPIRED)
	})
}

func TestVerify_ThreeWrongCodesKillTheChallenge(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ch, code := e.issue(t, "signin", phone)
		for want := 2; want >= 0; want-- {
			_, err := e.svc.Verify(ctx, "signin", ch.ID, wrongCode(code))
			if got := wantCode(t, err, wallet.EINVALIDCODE).AttemptsLeft; got != want {
				t.Fatalf("AttemptsLeft = %d, want %d", got, want)
			}
		}
		_, err := e.svc.Verify(ctx, "signin", ch.ID, code)
		if wantCode(t, err, wallet.EEXPIRED).Message != "challenge expired or used" {
			t.Errorf("message %q", wallet.ErrorMessage(err))
		}
		_, err = e.svc.Verify(ctx, "signin", ch.ID, wrongCode(code))
		wantCode(t, err, wallet.EEXPIRED)
	})
}

func TestVerify_MalformedCodeSpendsNoAttempt(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ch, code := e.issue(t, "signin", phone)
		for _, bad := range []string{"", "12345", "1234567", "12345a", " 123456", "١٢٣٤٥٦", code + " "} {
			_, err := e.svc.Verify(ctx, "signin", ch.ID, bad)
			wantCode(t, err, wallet.EINVALID)
		}
		_, err := e.svc.Verify(ctx, "signin", ch.ID, wrongCode(code))
		if left := wantCode(t, err, wallet.EINVALIDCODE).AttemptsLeft; left != 2 {
			t.Fatalf("AttemptsLeft = %d after malformed codes and one wrong one, want 2", left)
		}
		if got, err := e.svc.Verify(ctx, "signin", ch.ID, code); err != nil || got != subject {
			t.Fatalf("Verify = %q, %v", got, err)
		}
	})
}

func TestVerify_ChallengeExpiresAfterFiveMinutes(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		early, earlyCode := e.issue(t, "signin", phone)
		late, lateCode := e.issue(t, "signin", phone)
		e.clock.Advance(5*time.Minute - time.Second)
		if _, err := e.svc.Verify(ctx, "signin", early.ID, earlyCode); err != nil {
			t.Fatalf("just before expiry: %v", err)
		}
		e.clock.Advance(time.Second)
		_, err := e.svc.Verify(ctx, "signin", late.ID, lateCode)
		wantCode(t, err, wallet.EEXPIRED)
	})
}

func TestVerify_UnknownChallengeIsExpired(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, id := range []string{"otp_aaaaaaaaaaaaaaaaaaaaaaaaaa", "", "otp:signin:x", "../../etc", strings.Repeat("a", 200)} {
			_, err := e.svc.Verify(ctx, "signin", id, "123456")
			wantCode(t, err, wallet.EEXPIRED)
		}
	})
}

func TestVerify_CodeForAnotherPurposeIsExpiredAndCostsNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ch, code := e.issue(t, "signin", phone)
		for i := 0; i < 5; i++ {
			_, err := e.svc.Verify(ctx, "consent", ch.ID, code)
			wantCode(t, err, wallet.EEXPIRED)
			_, err = e.svc.Verify(ctx, "consent", ch.ID, wrongCode(code))
			wantCode(t, err, wallet.EEXPIRED)
		}
		if got, err := e.svc.Verify(ctx, "signin", ch.ID, code); err != nil || got != subject {
			t.Fatalf("Verify with the right purpose = %q, %v", got, err)
		}
	})
}

func TestVerify_ConcurrentRightCodeSucceedsOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ch, code := e.issue(t, "signin", phone)
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = e.svc.Verify(context.Background(), "signin", ch.ID, code)
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch wallet.ErrorCode(err) {
			case "":
				ok++
			case wallet.EEXPIRED:
			default:
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d verifications succeeded, want exactly 1", ok)
		}
	})
}

func TestIssue_SixthCodeToAPhoneInAnHourIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for i := 0; i < 5; i++ {
			e.issue(t, "signin", phone)
			e.clock.Advance(time.Minute)
		}
		stored := len(e.store.tickets())
		_, _, err := e.svc.Issue(ctx, "signin", subject, phone, perHour, message)
		retry := wantCode(t, err, wallet.ERATELIMITED).RetryAfter
		if retry <= 0 || retry > time.Hour {
			t.Fatalf("RetryAfter = %v", retry)
		}
		if len(e.store.tickets()) != stored {
			t.Fatal("a refused challenge was stored")
		}
		// Other phones are not affected, and the window ends.
		e.issue(t, "signin", "+77021234567")
		e.clock.Advance(retry)
		e.issue(t, "signin", phone)
	})
}

func TestIssue_StoresOnlyTheHashOfTheCode(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ch, code := e.issue(t, "signin", phone)
		puts := e.store.tickets()
		if len(puts) != 1 {
			t.Fatalf("%d tickets stored, want 1", len(puts))
		}
		p := puts[0]
		if p.key != "otp:signin:"+ch.ID {
			t.Errorf("key %q", p.key)
		}
		if p.ttl != 5*time.Minute || p.ticket.Uses != 1 || p.ticket.Attempts != 3 {
			t.Errorf("ttl %v, uses %d, attempts %d", p.ttl, p.ticket.Uses, p.ticket.Attempts)
		}
		if len(p.ticket.Secrets) != 1 {
			t.Fatalf("secrets %v", p.ticket.Secrets)
		}
		h := p.ticket.Secrets["otp"]
		if want := e.hasher.Hash(wallet.SecretOTP, ch.ID+"\x00"+code); h != want {
			t.Errorf("stored secret %q, want the peppered hash %q", h, want)
		}
		var payload map[string]string
		if err := json.Unmarshal(p.ticket.Payload, &payload); err != nil {
			t.Fatal(err)
		}
		if len(payload) != 2 || payload["purpose"] != "signin" || payload["subject"] != subject {
			t.Errorf("payload %s", p.ticket.Payload)
		}
		for _, part := range []string{h, string(p.ticket.Payload), p.key} {
			if strings.Contains(part, code) {
				t.Errorf("the code %s appears in %q", code, part)
			}
		}
	})
}

// Budgets are separate per purpose and per name, and spent all at once or
// not at all: a requester that used up its own budget spends nothing of
// the shared one, and another requester still gets codes.
func TestIssue_BudgetsAreSeparateAndSpentTogether(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fromA := []otp.Budget{{Name: "addr:a", Limit: 2}, {Name: "all", Limit: 3}}
		fromB := []otp.Budget{{Name: "addr:b", Limit: 2}, {Name: "all", Limit: 3}}
		for range 2 {
			if _, _, err := e.svc.Issue(ctx, "signin", subject, phone, fromA, message); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			_, _, err := e.svc.Issue(ctx, "signin", subject, phone, fromA, message)
			wantCode(t, err, wallet.ERATELIMITED)
		}
		// A's refusals spent nothing of "all": B gets the third.
		if _, _, err := e.svc.Issue(ctx, "signin", subject, phone, fromB, message); err != nil {
			t.Fatalf("B's first code: %v", err)
		}
		_, _, err := e.svc.Issue(ctx, "signin", subject, phone, fromB, message)
		wantCode(t, err, wallet.ERATELIMITED)
		// Another purpose has budgets of its own.
		if _, _, err := e.svc.Issue(ctx, "consent", "cns_1", phone, []otp.Budget{{Name: "all", Limit: 1}}, message); err != nil {
			t.Fatalf("a consent code: %v", err)
		}
		if n := len(e.store.tickets()); n != 4 {
			t.Fatalf("%d challenges stored, want 4", n)
		}
	})
}

func TestIssue_RefusesMissingInput(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, c := range []struct {
			purpose, subject, phone string
			text                    func(string) string
		}{
			{"", subject, phone, message},
			{"sign in", subject, phone, message},
			{"a:b", subject, phone, message},
			{"signin", "", phone, message},
			{"signin", subject, "", message},
			{"signin", subject, phone, nil},
		} {
			_, _, err := e.svc.Issue(ctx, c.purpose, c.subject, c.phone, perHour, c.text)
			wantCode(t, err, wallet.EINVALID)
		}
		for _, b := range [][]otp.Budget{nil, {{Name: "", Limit: 1}}, {{Name: "all", Limit: 0}}} {
			_, _, err := e.svc.Issue(ctx, "signin", subject, phone, b, message)
			wantCode(t, err, wallet.EINVALID)
		}
		if len(e.store.tickets()) != 0 {
			t.Fatal("refused input sent or stored something")
		}
	})
}

var hintShape = regexp.MustCompile(`^\+7 7\d\d \*\*\* \*\* \d\d$`)

func TestFakeChallenge_LooksLikeARealOne(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		real, _ := e.issue(t, "signin", phone)
		const nobody = "850505400017"
		fake, err := e.svc.FakeChallenge(ctx, "signin", nobody, perHour)
		if err != nil {
			t.Fatal(err)
		}
		if len(fake.ID) != len(real.ID) || !strings.HasPrefix(fake.ID, "otp_") || fake.ID == real.ID {
			t.Errorf("fake id %q beside real %q", fake.ID, real.ID)
		}
		if !fake.ExpiresAt.Equal(real.ExpiresAt) {
			t.Errorf("ExpiresAt %v, real %v", fake.ExpiresAt, real.ExpiresAt)
		}
		if !hintShape.MatchString(fake.PhoneHint) || !hintShape.MatchString(real.PhoneHint) {
			t.Errorf("hints %q and %q", fake.PhoneHint, real.PhoneHint)
		}
		again, err := e.svc.FakeChallenge(ctx, "signin", nobody, perHour)
		if err != nil {
			t.Fatal(err)
		}
		if again.PhoneHint != fake.PhoneHint || again.ID == fake.ID {
			t.Errorf("second fake %+v, first %+v", again, fake)
		}
		// Verify answers as for a real challenge, and no code opens it.
		for want := 2; want >= 0; want-- {
			_, err := e.svc.Verify(ctx, "signin", fake.ID, "123456")
			if got := wantCode(t, err, wallet.EINVALIDCODE).AttemptsLeft; got != want {
				t.Fatalf("AttemptsLeft = %d, want %d", got, want)
			}
		}
		_, err = e.svc.Verify(ctx, "signin", fake.ID, "123456")
		wantCode(t, err, wallet.EEXPIRED)
		_, err = e.svc.Verify(ctx, "consent", again.ID, "123456")
		wantCode(t, err, wallet.EEXPIRED)
	})
}

func TestFakeChallenge_SixthInAnHourIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for i := 0; i < 5; i++ {
			if _, err := e.svc.FakeChallenge(ctx, "signin", "850505400017", perHour); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.svc.FakeChallenge(ctx, "signin", "850505400017", perHour)
		if wantCode(t, err, wallet.ERATELIMITED).RetryAfter <= 0 {
			t.Fatal("no RetryAfter")
		}
		if _, err := e.svc.FakeChallenge(ctx, "signin", "850505400028", perHour); err != nil {
			t.Fatalf("another subject: %v", err)
		}
	})
}

func TestCancel_CodeStopsWorking(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ch, code := e.issue(t, "signin", phone)
		if err := e.svc.Cancel(ctx, "signin", ch.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.Verify(ctx, "signin", ch.ID, code)
		wantCode(t, err, wallet.EEXPIRED)
		if err := e.svc.Cancel(ctx, "signin", "nonsense:id"); err != nil {
			t.Fatalf("cancel of a malformed id: %v", err)
		}
	})
}

func TestService_ZeroLimitsMeanDefaults(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	store := &recordingStore{ShortLivedStore: newMapStore(c.Now)}
	svc := &otp.Service{Store: store, Hasher: wallet.NewHasher([]byte("p")), Now: c.Now, Rand: rand.Reader}
	ch, _, err := svc.Issue(context.Background(), "signin", subject, phone, perHour, message)
	if err != nil {
		t.Fatal(err)
	}
	p := store.tickets()[0]
	if !ch.ExpiresAt.Equal(c.Now().Add(otp.DefaultTTL)) || p.ttl != otp.DefaultTTL || p.ticket.Attempts != otp.DefaultAttempts {
		t.Fatalf("challenge %+v, ticket %+v, ttl %v", ch, p.ticket, p.ttl)
	}
}

func TestPhoneHint(t *testing.T) {
	for in, want := range map[string]string{
		"+77011234567":      "+7 701 *** ** 67",
		"+7 (777) 000-1289": "+7 777 *** ** 89",
		"+4915112345689":    "*** ** 89",
		"123":               "***",
		"":                  "***",
	} {
		if got := otp.PhoneHint(in); got != want {
			t.Errorf("PhoneHint(%q) = %q, want %q", in, got, want)
		}
	}
}
