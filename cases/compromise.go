package cases

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/wallet"
)

// compromises maps each compromised kid of Qujat's to the time from which
// it is not trusted.
func (s *Service) compromises(ctx context.Context) (map[string]time.Time, error) {
	list, err := s.Store.KeyCompromises(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(list))
	for _, k := range list {
		out[k.KID] = k.At
	}
	return out, nil
}

// compromisedBy tells whether kid was compromised at or before at.
func compromisedBy(cs map[string]time.Time, kid string, at time.Time) bool {
	t, ok := cs[kid]
	return ok && !at.Before(t)
}

// errKeyCompromised refuses to sign or send with a compromised key.
func errKeyCompromised(what, kid string) error {
	return wallet.Errorf(wallet.ECONFLICT, "key_compromised: %s key %s is compromised", what, kid)
}

// operatorSigner is the operator's current key, read again from the key
// files if the one in memory was compromised (another process rotated it).
// ECONFLICT if it is still compromised.
func (s *Service) operatorSigner(ctx context.Context, staffID string) (wallet.IssuerKey, error) {
	cs, err := s.compromises(ctx)
	if err != nil {
		return wallet.IssuerKey{}, err
	}
	key, err := s.Staff.Signer(staffID)
	if err != nil {
		return key, wallet.Errorf(wallet.EFORBIDDEN, "the operator has no signing key")
	}
	if compromisedBy(cs, key.KID, s.now()) && s.Staff.Keys != nil {
		if err := s.Staff.Keys.Reload(); err != nil {
			return key, err
		}
		if key, err = s.Staff.Signer(staffID); err != nil {
			return key, err
		}
	}
	if compromisedBy(cs, key.KID, s.now()) {
		return key, errKeyCompromised("the operator's", key.KID)
	}
	return key, nil
}

// centreSigner is the centre's current exchange signing key, read again
// if the one in memory was compromised.
func (s *Service) centreSigner(ctx context.Context) (wallet.IssuerKey, error) {
	cs, err := s.compromises(ctx)
	if err != nil {
		return wallet.IssuerKey{}, err
	}
	key, err := s.Keys.Signer()
	if err == nil && compromisedBy(cs, key.KID, s.now()) {
		if err := s.Keys.Reload(); err != nil {
			return key, err
		}
		key, err = s.Keys.Signer()
	}
	if err != nil {
		return key, err
	}
	if compromisedBy(cs, key.KID, s.now()) {
		return key, errKeyCompromised("the centre's", key.KID)
	}
	return key, nil
}

// NoticeResult is what one agency answered to a key notice.
type NoticeResult struct {
	Agency string
	OK     bool
	Detail string
}

// NoticeAgencies sends every registered agency a notice, signed with the
// centre's current key, that kid is compromised from at (replacement names
// the new key), and returns each agency's answer. An agency that does not
// answer with its signed receipt is reported, not retried: the notice is
// also in /.well-known/exchange-keys.json (exchange keys) and
// /.well-known/staff-keys.json.
func (s *Service) NoticeAgencies(ctx context.Context, kid string, at time.Time, replacement string, client *http.Client) ([]NoticeResult, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	key, err := s.centreSigner(ctx)
	if err != nil {
		return nil, err
	}
	agencies, err := s.Store.Agencies(ctx)
	if err != nil {
		return nil, err
	}
	var out []NoticeResult
	for _, a := range agencies {
		at := at.UTC()
		m := exchange.Message{Type: exchange.MessageKeyCompromised, MessageID: "qujat-kc-" + kid, Issuer: "qujat", KID: kid,
			CompromisedAt: &at, At: s.now()}
		if replacement != "" {
			m.Replacement, _ = json.Marshal(map[string]string{"kid": replacement})
		}
		body, err := exchange.SignMessage(m, key, nil)
		if err != nil {
			return out, err
		}
		r := NoticeResult{Agency: a.OrganisationID}
		if detail, err := s.postNotice(ctx, client, a, body); err != nil {
			r.Detail = err.Error()
		} else {
			r.OK, r.Detail = true, detail
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) postNotice(ctx context.Context, client *http.Client, a wallet.Agency, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Endpoint, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", exchange.MediaType)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReceipt))
	if err != nil {
		return "", err
	}
	r, _, err := exchange.VerifyReceipt(string(bytes.TrimSpace(b)), s.agencyKeyResolver(ctx, a.OrganisationID, s.now()))
	if err != nil {
		return "", fmt.Errorf("the agency's answer (%d): %w", resp.StatusCode, err)
	}
	if r.Status != exchange.StatusAccepted || r.Digest != exchange.Digest([]byte(body)) {
		return "", fmt.Errorf("the agency refused the notice: %s", r.Reason)
	}
	return "receipt " + r.ReceivedAt.Format(time.RFC3339), nil
}

// itemKID is the kid in an item signature's header.
func itemKID(jws string) string {
	kid, _, _ := exchange.HeaderKID(jws)
	return kid
}

var _ crypto.PublicKey
