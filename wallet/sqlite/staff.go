package sqlite

import (
	"context"
	"database/sql"
	"time"

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
	return s.write(ctx, what, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO staff
			(id, organisation_id, iin, name, role, key_id, created_at, disabled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.OrganisationID, string(m.IIN), m.Name, m.Role, m.KeyID, micros(m.CreatedAt), nullMicros(m.DisabledAt))
		return err
	})
}

const staffColumns = `id, organisation_id, iin, name, role, key_id, created_at, disabled_at FROM staff`

func scanStaff(sc scanner) (wallet.StaffMember, error) {
	var (
		m        wallet.StaffMember
		iin      string
		created  int64
		disabled sql.NullInt64
	)
	if err := sc.Scan(&m.ID, &m.OrganisationID, &iin, &m.Name, &m.Role, &m.KeyID, &created, &disabled); err != nil {
		return m, err
	}
	m.IIN, m.CreatedAt, m.DisabledAt = wallet.IIN(iin), fromMicros(created), fromNullMicros(disabled)
	return m, nil
}

// StaffMember returns one staff member. ENOTFOUND.
func (s *Store) StaffMember(ctx context.Context, id string) (wallet.StaffMember, error) {
	m, err := scanStaff(s.r.QueryRowContext(ctx, `SELECT `+staffColumns+` WHERE id = ?`, id))
	if err != nil {
		return wallet.StaffMember{}, wrapErr(err, "staff member")
	}
	return m, nil
}

// ActiveStaffByIIN returns the active staff member with that IIN. ENOTFOUND.
func (s *Store) ActiveStaffByIIN(ctx context.Context, iin wallet.IIN) (wallet.StaffMember, error) {
	m, err := scanStaff(s.r.QueryRowContext(ctx, `SELECT `+staffColumns+` WHERE iin = ? AND disabled_at IS NULL`, string(iin)))
	if err != nil {
		return wallet.StaffMember{}, wrapErr(err, "staff member")
	}
	return m, nil
}

// Staff returns every staff member, oldest first.
func (s *Store) Staff(ctx context.Context) ([]wallet.StaffMember, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+staffColumns+` ORDER BY created_at, rowid`)
	return collect(rows, err, "list staff", scanStaff)
}

// DisableStaff sets DisabledAt if unset. ENOTFOUND.
func (s *Store) DisableStaff(ctx context.Context, id string, at time.Time) error {
	const what = "disable staff"
	return s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE staff SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?`, micros(at), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return wallet.Errorf(wallet.ENOTFOUND, "%s: no such staff member", what)
		}
		return nil
	})
}
