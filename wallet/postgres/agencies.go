package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// RegisterAgency creates or updates the agency and adds its keys (see
// wallet.AgencyStore). ENOTFOUND, ECONFLICT.
func (s *Store) RegisterAgency(ctx context.Context, a wallet.Agency, keys []wallet.AgencyKey) error {
	const what = "register agency"
	if err := requireID(a.OrganisationID, what); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO agencies (organisation_id, endpoint, time_zone, calendar, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (organisation_id) DO UPDATE SET endpoint = excluded.endpoint,
				time_zone = excluded.time_zone, calendar = excluded.calendar, updated_at = excluded.updated_at`,
			a.OrganisationID, a.Endpoint, a.TimeZone, a.Calendar, ts(a.CreatedAt), ts(a.UpdatedAt)); err != nil {
			return err
		}
		// One registration of an agency at a time: the retirement below reads
		// the agency's current keys.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM agencies WHERE organisation_id = $1 FOR UPDATE`, a.OrganisationID); err != nil {
			return err
		}
		for _, k := range keys {
			var org, jwk string
			err := tx.QueryRow(ctx, `SELECT organisation_id, jwk FROM agency_keys WHERE kid = $1`, k.KID).Scan(&org, &jwk)
			switch {
			case err == nil && org == a.OrganisationID && jwk == k.JWK:
				continue
			case err == nil:
				return wallet.Errorf(wallet.ECONFLICT, "%s: key %s is registered already with other material or for another agency", what, k.KID)
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE agency_keys SET retired_at = $1
				WHERE organisation_id = $2 AND use = $3 AND retired_at IS NULL`, ts(a.UpdatedAt), a.OrganisationID, k.Use); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO agency_keys (kid, organisation_id, use, jwk, created_at) VALUES ($1, $2, $3, $4, $5)`,
				k.KID, a.OrganisationID, k.Use, k.JWK, ts(k.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

const agencyColumns = `organisation_id, endpoint, time_zone, calendar, created_at, updated_at FROM agencies`

func scanAgency(row pgx.Row) (wallet.Agency, error) {
	var a wallet.Agency
	err := row.Scan(&a.OrganisationID, &a.Endpoint, &a.TimeZone, &a.Calendar, &a.CreatedAt, &a.UpdatedAt)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, err
}

// Agency returns one agency. ENOTFOUND.
func (s *Store) Agency(ctx context.Context, organisationID string) (wallet.Agency, error) {
	a, err := scanAgency(s.pool.QueryRow(ctx, `SELECT `+agencyColumns+` WHERE organisation_id = $1`, organisationID))
	if err != nil {
		return wallet.Agency{}, wrapErr(err, "agency")
	}
	return a, nil
}

// Agencies returns every agency, oldest first.
func (s *Store) Agencies(ctx context.Context) ([]wallet.Agency, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+agencyColumns+` ORDER BY created_at, seq`)
	return collect(rows, err, "list agencies", scanAgency)
}

const agencyKeyColumns = `kid, organisation_id, use, jwk, created_at, retired_at, compromised_at FROM agency_keys`

func scanAgencyKey(row pgx.Row) (wallet.AgencyKey, error) {
	var k wallet.AgencyKey
	err := row.Scan(&k.KID, &k.OrganisationID, &k.Use, &k.JWK, &k.CreatedAt, &k.RetiredAt, &k.CompromisedAt)
	k.CreatedAt, k.RetiredAt, k.CompromisedAt = k.CreatedAt.UTC(), utc(k.RetiredAt), utc(k.CompromisedAt)
	return k, err
}

// AgencyKeys returns the agency's keys, oldest first.
func (s *Store) AgencyKeys(ctx context.Context, organisationID string) ([]wallet.AgencyKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+agencyKeyColumns+` WHERE organisation_id = $1 ORDER BY seq`, organisationID)
	return collect(rows, err, "list agency keys", scanAgencyKey)
}

// AgencyKey returns the key with that kid. ENOTFOUND.
func (s *Store) AgencyKey(ctx context.Context, kid string) (wallet.AgencyKey, error) {
	k, err := scanAgencyKey(s.pool.QueryRow(ctx, `SELECT `+agencyKeyColumns+` WHERE kid = $1`, kid))
	if err != nil {
		return wallet.AgencyKey{}, wrapErr(err, "agency key")
	}
	return k, nil
}

// MarkAgencyKeyCompromised sets CompromisedAt, keeping the earliest. ENOTFOUND.
func (s *Store) MarkAgencyKeyCompromised(ctx context.Context, kid string, at time.Time) error {
	const what = "mark agency key compromised"
	n, err := s.exec(ctx, what, `UPDATE agency_keys SET compromised_at = LEAST(COALESCE(compromised_at, $1), $1) WHERE kid = $2`, ts(at), kid)
	if err != nil {
		return err
	}
	if n == 0 {
		return wallet.Errorf(wallet.ENOTFOUND, "%s: no such key", what)
	}
	return nil
}
