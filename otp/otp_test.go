package otp_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
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

type sentSMS struct{ to, text string }

// phoneSender keeps what it sends; it fails while fail is set.
type phoneSender struct {
	mu   sync.Mutex
	sent []sentSMS
	fail error
}

func (p *phoneSender) Send(_ context.Context, to, text string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.sent = append(p.sent, sentSMS{to, text})
	return nil
}

func (p *phoneSender) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

type env struct {
	clock  *clock
	store  *recordingStore
	sender *phoneSender
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
				sender: &phoneSender{},
				hasher: wallet.NewHasher([]byte("test pepper")),
			}
			e.svc = otp.NewService(e.store, e.hasher, e.sender)
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
	n := e.sender.count()
	ch, err := e.svc.Issue(context.Background(), purpose, subject, to, message)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if e.sender.count() != n+1 {
		t.Fatalf("Issue sent %d messages, want 1", e.sender.count()-n)
	}
	e.sender.mu.Lock()
	last := e.sender.sent[len(e.sender.sent)-1]
	e.sender.mu.Unlock()
	if last.to != to {
		t.Fatalf("sent to %q, want %q", last.to, to)
	}
	code := codeInText.FindString(last.text)
	if code == "" {
		t.Fatalf("no code in %q", last.text)
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
		_, err := e.svc.Issue(ctx, "signin", subject, phone, message)
		retry := wantCode(t, err, wallet.ERATELIMITED).RetryAfter
		if retry <= 0 || retry > time.Hour {
			t.Fatalf("RetryAfter = %v", retry)
		}
		if e.sender.count() != 5 {
			t.Fatalf("%d messages sent, want 5", e.sender.count())
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

func TestIssue_SendFailureDeletesTheChallenge(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.sender.fail = errors.New("gateway down")
		var code string
		_, err := e.svc.Issue(ctx, "signin", subject, phone, func(c string) string { code = c; return message(c) })
		wantCode(t, err, wallet.EUNAVAILABLE)
		puts := e.store.tickets()
		if len(puts) != 1 {
			t.Fatalf("%d tickets stored, want 1", len(puts))
		}
		id := strings.TrimPrefix(puts[0].key, "otp:signin:")
		_, err = e.svc.Verify(ctx, "signin", id, code)
		wantCode(t, err, wallet.EEXPIRED)
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
			_, err := e.svc.Issue(ctx, c.purpose, c.subject, c.phone, c.text)
			wantCode(t, err, wallet.EINVALID)
		}
		if e.sender.count() != 0 || len(e.store.tickets()) != 0 {
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
		fake, err := e.svc.FakeChallenge(ctx, "signin", nobody)
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
		again, err := e.svc.FakeChallenge(ctx, "signin", nobody)
		if err != nil {
			t.Fatal(err)
		}
		if again.PhoneHint != fake.PhoneHint || again.ID == fake.ID {
			t.Errorf("second fake %+v, first %+v", again, fake)
		}
		if e.sender.count() != 1 {
			t.Errorf("a fake challenge sent an SMS")
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
			if _, err := e.svc.FakeChallenge(ctx, "signin", "850505400017"); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.svc.FakeChallenge(ctx, "signin", "850505400017")
		if wantCode(t, err, wallet.ERATELIMITED).RetryAfter <= 0 {
			t.Fatal("no RetryAfter")
		}
		if _, err := e.svc.FakeChallenge(ctx, "signin", "850505400028"); err != nil {
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
	sender := &phoneSender{}
	store := &recordingStore{ShortLivedStore: newMapStore(c.Now)}
	svc := &otp.Service{Store: store, Hasher: wallet.NewHasher([]byte("p")), Sender: sender, Now: c.Now, Rand: rand.Reader}
	ch, err := svc.Issue(context.Background(), "signin", subject, phone, message)
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
