package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// CreateStaff stores a new staff member. ECONFLICT if the id exists or the
// IIN belongs to an active staff member; ENOTFOUND if the organisation does
// not exist.
func (s *Store) CreateStaff(ctx context.Context, m wallet.StaffMember) error {
	const what = "create staff"
	if err := requireID(m.ID, what); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO staff
		(id, organisation_id, iin, name, role, key_id, created_at, disabled_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		m.ID, m.OrganisationID, string(m.IIN), m.Name, m.Role, m.KeyID, ts(m.CreatedAt), tsp(m.DisabledAt))
	return wrapErr(err, what)
}

const staffColumns = `id, organisation_id, iin, name, role, key_id, created_at, disabled_at FROM staff`

func scanStaff(row pgx.Row) (wallet.StaffMember, error) {
	var (
		m   wallet.StaffMember
		iin string
	)
	err := row.Scan(&m.ID, &m.OrganisationID, &iin, &m.Name, &m.Role, &m.KeyID, &m.CreatedAt, &m.DisabledAt)
	m.IIN, m.CreatedAt, m.DisabledAt = wallet.IIN(iin), m.CreatedAt.UTC(), utc(m.DisabledAt)
	return m, err
}

// StaffMember returns one staff member. ENOTFOUND.
func (s *Store) StaffMember(ctx context.Context, id string) (wallet.StaffMember, error) {
	m, err := scanStaff(s.pool.QueryRow(ctx, `SELECT `+staffColumns+` WHERE id = $1`, id))
	if err != nil {
		return wallet.StaffMember{}, wrapErr(err, "staff member")
	}
	return m, nil
}

// ActiveStaffByIIN returns the active staff member with that IIN. ENOTFOUND.
func (s *Store) ActiveStaffByIIN(ctx context.Context, iin wallet.IIN) (wallet.StaffMember, error) {
	m, err := scanStaff(s.pool.QueryRow(ctx, `SELECT `+staffColumns+` WHERE iin = $1 AND disabled_at IS NULL`, string(iin)))
	if err != nil {
		return wallet.StaffMember{}, wrapErr(err, "staff member")
	}
	return m, nil
}

// Staff returns every staff member, oldest first.
func (s *Store) Staff(ctx context.Context) ([]wallet.StaffMember, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+staffColumns+` ORDER BY created_at, seq`)
	return collect(rows, err, "list staff", scanStaff)
}

// DisableStaff sets DisabledAt if unset. ENOTFOUND.
func (s *Store) DisableStaff(ctx context.Context, id string, at time.Time) error {
	const what = "disable staff"
	n, err := s.exec(ctx, what, `UPDATE staff SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2`, ts(at), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return wallet.Errorf(wallet.ENOTFOUND, "%s: no such staff member", what)
	}
	return nil
}
