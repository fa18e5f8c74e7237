package signin_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
)

// outcomes runs the same requests for iin and returns what each answered.
func outcomes(e *env, iin wallet.IIN, froms []signin.Requester) []string {
	out := make([]string, len(froms))
	for i, from := range froms {
		_, err := e.startFrom(ctx, iin, from)
		out[i] = wallet.ErrorCode(err)
		if out[i] == "" {
			out[i] = "ok"
		}
	}
	return out
}

// An attacker asking for someone's codes spends their own address's budget
// and the phone's shared one, never the owner's: the owner signs in from
// another address while one attacker hammers, and from a device they signed
// in on before while any number of addresses hammer. An unknown IIN's
// decoys answer the same sequence (with no device of its own).
func TestStart_AttackerCannotSpendTheOwnersBudget(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		owner := signin.Requester{Address: "198.51.100.7"}
		// The owner's phone app signed in earlier this hour (1 of the
		// phone's 5 codes).
		ch, err := e.startFrom(ctx, e.known.IIN, owner)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Finish(ctx, ch.ID, e.phones.lastCode(t, e.known.Phone))
		if err != nil || p.DeviceToken == "" {
			t.Fatalf("Finish gave %+v, %v", p, err)
		}
		device := p.DeviceToken
		// A device token with a MAC that is not the service's for this
		// citizen (forged, or another citizen's) is worth nothing here.
		forged := device[:len(device)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", device[len(device)-1])+1)%16])

		attacker := func(n int) signin.Requester { return signin.Requester{Address: fmt.Sprintf("203.0.113.%d", n)} }
		ownerApp := signin.Requester{Address: "198.51.100.7", DeviceToken: device}
		seq := []signin.Requester{
			attacker(1), attacker(1), attacker(1), // 2, 3, 4 of the phone's 5; the attacker's address: 3
			attacker(1), // refused: that address is spent
			owner,       // the owner, elsewhere: fine (5 of 5)
			attacker(2), // refused: the phone's shared budget is spent
			owner,       // refused too
			{Address: "203.0.113.4", DeviceToken: forged}, // a forged device token: no reserve
			ownerApp, ownerApp, ownerApp, // the owner's known device: its own reserve of 3
			ownerApp, // refused: the reserve is spent too
		}
		want := []string{"ok", "ok", "ok", wallet.ERATELIMITED, "ok", wallet.ERATELIMITED, wallet.ERATELIMITED,
			wallet.ERATELIMITED, "ok", "ok", "ok", wallet.ERATELIMITED}
		if got := outcomes(e, e.known.IIN, seq); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("known IIN answered\n %v\nwant\n %v", got, want)
		}
		if n := e.phones.count(); n != signin.MaxCodesPerHour {
			t.Fatalf("the phone received %d codes in the hour, want %d", n, signin.MaxCodesPerHour)
		}

		// The same requests for an unknown IIN answer the same; nobody
		// holds a device token of it.
		if _, err := e.startFrom(ctx, e.unknown, owner); err != nil {
			t.Fatal(err)
		}
		for i := 8; i < len(seq); i++ {
			seq[i], want[i] = owner, wallet.ERATELIMITED
		}
		if got := outcomes(e, e.unknown, seq); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("unknown IIN answered\n %v\nwant\n %v", got, want)
		}
	})
}

// A known device signs in while the phone's shared budget is spent.
func TestStart_KnownDeviceSignsInDuringAnAttack(t *testing.T) {
	e := newEnv(t)
	device := e.signIn(t).DeviceToken
	e.clock.Advance(time.Hour) // a fresh window (memory follows the test's clock)
	for i := range signin.CodesPerPhone {
		if _, err := e.startFrom(ctx, e.known.IIN, signin.Requester{Address: fmt.Sprintf("203.0.113.%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.startFrom(ctx, e.known.IIN, signin.Requester{Address: "198.51.100.7"})
	wantCode(t, err, wallet.ERATELIMITED)
	ch, err := e.startFrom(ctx, e.known.IIN, signin.Requester{Address: "198.51.100.7", DeviceToken: device})
	if err != nil {
		t.Fatalf("the owner's known device: %v", err)
	}
	if _, err := e.svc.Finish(ctx, ch.ID, e.phones.lastCode(t, e.known.Phone)); err != nil {
		t.Fatalf("the owner signs in: %v", err)
	}
}

// The request does not call the SMS gateway: with the gateway down a
// registered IIN is answered as an unknown one is, and its code is
// delivered by the outbox once the gateway is back, before it expires.
func TestStart_GatewayDownAnswersTheSameAndDeliversLater(t *testing.T) {
	eachBackend(t, testGatewayDown)
}

func testGatewayDown(t *testing.T, e *env) {
	e.phones.setDown(true)
	real, err := e.start(ctx, e.known.IIN)
	if err != nil {
		t.Fatalf("registered IIN with the gateway down: %v", err)
	}
	decoy, err := e.start(ctx, e.unknown)
	if err != nil {
		t.Fatalf("unknown IIN with the gateway down: %v", err)
	}
	if len(real.ID) != len(decoy.ID) || !real.ExpiresAt.Equal(decoy.ExpiresAt) {
		t.Fatalf("real %+v, decoy %+v", real, decoy)
	}
	if e.phones.count() != 0 {
		t.Fatal("a message was delivered by a dead gateway")
	}
	e.phones.setDown(false)
	e.clock.Advance(time.Second) // the retry's backoff
	e.deliver()
	if e.phones.count() != 1 {
		t.Fatalf("%d messages delivered after the gateway came back, want 1 (the decoy is never sent)", e.phones.count())
	}
	if _, err := e.svc.Finish(ctx, real.ID, e.phones.lastCode(t, e.known.Phone)); err != nil {
		t.Fatalf("the delivered code: %v", err)
	}
}
