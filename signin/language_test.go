package signin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

func TestStart_CodeSMSInTheCitizensLanguage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, c := range []struct {
		set  string // "" keeps what was stored
		want string
	}{
		{"", "Qujat: кіру коды %s. Оны ешкімге айтпаңыз."}, // nothing chosen: Kazakh
		{"ru", "Qujat: код для входа %s. Никому его не сообщайте."},
		{"en", "Qujat: your sign-in code is %s. Do not tell it to anyone."},
		{"kk", "Qujat: кіру коды %s. Оны ешкімге айтпаңыз."},
	} {
		if c.set != "" {
			if err := e.store.SavePreferences(ctx, wallet.Preferences{IIN: e.known.IIN, Language: c.set, UpdatedAt: e.clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(time.Hour) // a fresh window of the address's codes
		ch, err := e.start(ctx, e.known.IIN)
		if err != nil {
			t.Fatal(err)
		}
		code := e.phones.lastCode(t, e.known.Phone)
		if got, want := e.phones.lastText(t), fmt.Sprintf(c.want, code); got != want {
			t.Errorf("language %q: SMS %q, want %q", c.set, got, want)
		}
		// The code in any language signs in.
		if _, err := e.svc.Finish(ctx, ch.ID, code); err != nil {
			t.Fatalf("Finish: %v", err)
		}
	}
}
