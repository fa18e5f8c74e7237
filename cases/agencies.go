package cases

import (
	"context"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/calendar"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/wallet"
)

// Agencies registers agencies (settings: an administrator's act, no
// history) and reads them with their keys. Store and Calendars are
// required; Now defaults to time.Now.
type Agencies struct {
	Store     wallet.Store
	Calendars *calendar.Set
	Now       func() time.Time
}

// Registration is what `qujat agencies register` gives.
type Registration struct {
	OrganisationID string
	Endpoint       string
	SigningKey     []byte // public JWK
	EncryptionKey  []byte // public JWK
	TimeZone       string
	Calendar       string
}

// Register checks and stores an agency with its two public keys. The
// organisation must be an active client of kind gov; the endpoint an
// absolute http(s) URL; the zone an IANA zone; the calendar a known one.
// Registering again replaces the endpoint, zone and calendar and, for a new
// key, retires the earlier one of its use. EINVALID naming the problem,
// ENOTFOUND for an unknown organisation, ECONFLICT for a kid registered
// with other material.
func (a *Agencies) Register(ctx context.Context, r Registration) (wallet.Agency, []wallet.AgencyKey, error) {
	c, err := a.Store.Client(ctx, r.OrganisationID)
	if err != nil {
		return wallet.Agency{}, nil, err
	}
	if c.Kind != "gov" || c.DisabledAt != nil {
		return wallet.Agency{}, nil, wallet.Errorf(wallet.EINVALID, "organisation %s is not an active state body (kind gov)", c.ID)
	}
	u, err := url.Parse(r.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return wallet.Agency{}, nil, wallet.Errorf(wallet.EINVALID, "endpoint %q is not an http(s) URL", r.Endpoint)
	}
	if _, err := time.LoadLocation(r.TimeZone); err != nil || r.TimeZone == "" || strings.EqualFold(r.TimeZone, "local") {
		return wallet.Agency{}, nil, wallet.Errorf(wallet.EINVALID, "time zone %q is not an IANA zone", r.TimeZone)
	}
	if _, err := a.Calendars.Get(r.Calendar); err != nil {
		return wallet.Agency{}, nil, wallet.Errorf(wallet.EINVALID, "no production calendar %q (have %s)", r.Calendar, strings.Join(a.Calendars.Codes(), ", "))
	}
	now := a.now()
	var keys []wallet.AgencyKey
	for _, k := range []struct {
		b   []byte
		use string
	}{{r.SigningKey, wallet.KeyUseSig}, {r.EncryptionKey, wallet.KeyUseEnc}} {
		jwk, err := exchange.ParsePublicJWK(k.b, k.use)
		if err != nil {
			return wallet.Agency{}, nil, wallet.Errorf(wallet.EINVALID, "%s key: %s", k.use, wallet.ErrorMessage(err))
		}
		b, err := jwk.MarshalJSON()
		if err != nil {
			return wallet.Agency{}, nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot write a JWK")
		}
		keys = append(keys, wallet.AgencyKey{KID: jwk.KeyID, OrganisationID: c.ID, Use: k.use, JWK: string(b), CreatedAt: now})
	}
	if keys[0].KID == keys[1].KID {
		return wallet.Agency{}, nil, wallet.Errorf(wallet.EINVALID, "the signing and encryption keys must differ")
	}
	ag := wallet.Agency{OrganisationID: c.ID, Endpoint: u.String(), TimeZone: r.TimeZone, Calendar: r.Calendar, CreatedAt: now, UpdatedAt: now}
	if err := a.Store.RegisterAgency(ctx, ag, keys); err != nil {
		return wallet.Agency{}, nil, err
	}
	ag, err = a.Store.Agency(ctx, c.ID)
	return ag, keys, err
}

func (a *Agencies) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// currentKey is the agency's current key of that use as a JWK. ENOTFOUND.
func currentKey(ctx context.Context, st wallet.Store, org, use string) (jose.JSONWebKey, wallet.AgencyKey, error) {
	keys, err := st.AgencyKeys(ctx, org)
	if err != nil {
		return jose.JSONWebKey{}, wallet.AgencyKey{}, err
	}
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		if k.Use == use && k.RetiredAt == nil && k.CompromisedAt == nil {
			var j jose.JSONWebKey
			if err := j.UnmarshalJSON([]byte(k.JWK)); err != nil {
				return jose.JSONWebKey{}, k, wallet.Wrap(wallet.EINTERNAL, err, "agency key")
			}
			return j, k, nil
		}
	}
	return jose.JSONWebKey{}, wallet.AgencyKey{}, wallet.Errorf(wallet.ENOTFOUND, "agency %s has no usable %s key", org, use)
}
