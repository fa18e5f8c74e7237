package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/qujat/qujat/wallet"
)

// RegisterAgency creates or updates the agency and adds its keys (see
// wallet.AgencyStore). ENOTFOUND, ECONFLICT.
func (s *Store) RegisterAgency(ctx context.Context, a wallet.Agency, keys []wallet.AgencyKey) error {
	const what = "register agency"
	if err := requireID(a.OrganisationID, what); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO agencies (organisation_id, endpoint, time_zone, calendar, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (organisation_id) DO UPDATE SET endpoint = excluded.endpoint,
				time_zone = excluded.time_zone, calendar = excluded.calendar, updated_at = excluded.updated_at`,
			a.OrganisationID, a.Endpoint, a.TimeZone, a.Calendar, micros(a.CreatedAt), micros(a.UpdatedAt)); err != nil {
			return err
		}
		for _, k := range keys {
			var org, jwk string
			err := tx.QueryRowContext(ctx, `SELECT organisation_id, jwk FROM agency_keys WHERE kid = ?`, k.KID).Scan(&org, &jwk)
			switch {
			case err == nil && org == a.OrganisationID && jwk == k.JWK:
				continue
			case err == nil:
				return wallet.Errorf(wallet.ECONFLICT, "%s: key %s is registered already with other material or for another agency", what, k.KID)
			case err != sql.ErrNoRows:
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE agency_keys SET retired_at = ?
				WHERE organisation_id = ? AND use = ? AND retired_at IS NULL`, micros(a.UpdatedAt), a.OrganisationID, k.Use); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO agency_keys (kid, organisation_id, use, jwk, created_at) VALUES (?, ?, ?, ?, ?)`,
				k.KID, a.OrganisationID, k.Use, k.JWK, micros(k.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

const agencyColumns = `organisation_id, endpoint, time_zone, calendar, created_at, updated_at FROM agencies`

func scanAgency(sc scanner) (wallet.Agency, error) {
	var (
		a                wallet.Agency
		created, updated int64
	)
	if err := sc.Scan(&a.OrganisationID, &a.Endpoint, &a.TimeZone, &a.Calendar, &created, &updated); err != nil {
		return a, err
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, nil
}

// Agency returns one agency. ENOTFOUND.
func (s *Store) Agency(ctx context.Context, organisationID string) (wallet.Agency, error) {
	a, err := scanAgency(s.r.QueryRowContext(ctx, `SELECT `+agencyColumns+` WHERE organisation_id = ?`, organisationID))
	if err != nil {
		return wallet.Agency{}, wrapErr(err, "agency")
	}
	return a, nil
}

// Agencies returns every agency, oldest first.
func (s *Store) Agencies(ctx context.Context) ([]wallet.Agency, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+agencyColumns+` ORDER BY created_at, rowid`)
	return collect(rows, err, "list agencies", scanAgency)
}

const agencyKeyColumns = `kid, organisation_id, use, jwk, created_at, retired_at, compromised_at FROM agency_keys`

func scanAgencyKey(sc scanner) (wallet.AgencyKey, error) {
	var (
		k                    wallet.AgencyKey
		created              int64
		retired, compromised sql.NullInt64
	)
	if err := sc.Scan(&k.KID, &k.OrganisationID, &k.Use, &k.JWK, &created, &retired, &compromised); err != nil {
		return k, err
	}
	k.CreatedAt, k.RetiredAt, k.CompromisedAt = fromMicros(created), fromNullMicros(retired), fromNullMicros(compromised)
	return k, nil
}

// AgencyKeys returns the agency's keys, oldest first.
func (s *Store) AgencyKeys(ctx context.Context, organisationID string) ([]wallet.AgencyKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+agencyKeyColumns+` WHERE organisation_id = ? ORDER BY rowid`, organisationID)
	return collect(rows, err, "list agency keys", scanAgencyKey)
}

// AgencyKey returns the key with that kid. ENOTFOUND.
func (s *Store) AgencyKey(ctx context.Context, kid string) (wallet.AgencyKey, error) {
	k, err := scanAgencyKey(s.r.QueryRowContext(ctx, `SELECT `+agencyKeyColumns+` WHERE kid = ?`, kid))
	if err != nil {
		return wallet.AgencyKey{}, wrapErr(err, "agency key")
	}
	return k, nil
}

// MarkAgencyKeyCompromised sets CompromisedAt, keeping the earliest. ENOTFOUND.
func (s *Store) MarkAgencyKeyCompromised(ctx context.Context, kid string, at time.Time) error {
	const what = "mark agency key compromised"
	return s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE agency_keys SET compromised_at = MIN(COALESCE(compromised_at, ?), ?) WHERE kid = ?`, micros(at), micros(at), kid)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return wallet.Errorf(wallet.ENOTFOUND, "%s: no such key", what)
		}
		return nil
	})
}
