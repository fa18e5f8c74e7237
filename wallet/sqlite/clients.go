package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/qujat/qujat/wallet"
)

// encodeTypes stores a list of document types as a JSON array.
func encodeTypes(ts []wallet.DocumentType) string {
	if len(ts) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ts) // strings always marshal
	return string(b)
}

// decodeTypes reads a stored list; an empty list is nil.
func decodeTypes(s string) ([]wallet.DocumentType, error) {
	var ts []wallet.DocumentType
	if err := json.Unmarshal([]byte(s), &ts); err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, nil
	}
	return ts, nil
}

// CreateClient stores a new client. ECONFLICT if the id exists.
func (s *Store) CreateClient(ctx context.Context, c wallet.Client) error {
	const what = "create client"
	if err := requireID(c.ID, what); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO clients
			(id, name, kind, document_types, secret_hash, created_at, disabled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.Kind, encodeTypes(c.DocumentTypes), c.SecretHash, micros(c.CreatedAt), nullMicros(c.DisabledAt))
		return err
	})
}

const clientColumns = `id, name, kind, document_types, secret_hash, created_at, disabled_at FROM clients`

func scanClient(sc scanner) (wallet.Client, error) {
	var (
		c        wallet.Client
		types    string
		created  int64
		disabled sql.NullInt64
	)
	if err := sc.Scan(&c.ID, &c.Name, &c.Kind, &types, &c.SecretHash, &created, &disabled); err != nil {
		return c, err
	}
	c.CreatedAt, c.DisabledAt = fromMicros(created), fromNullMicros(disabled)
	var err error
	c.DocumentTypes, err = decodeTypes(types)
	return c, err
}

// Client returns one client. ENOTFOUND.
func (s *Store) Client(ctx context.Context, id string) (wallet.Client, error) {
	c, err := scanClient(s.r.QueryRowContext(ctx, `SELECT `+clientColumns+` WHERE id = ?`, id))
	if err != nil {
		return wallet.Client{}, wrapErr(err, "client")
	}
	return c, nil
}

// Clients returns all clients, oldest first.
func (s *Store) Clients(ctx context.Context) ([]wallet.Client, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+clientColumns+` ORDER BY created_at, rowid`)
	return collect(rows, err, "list clients", scanClient)
}

// DisableClient sets DisabledAt if unset. ENOTFOUND.
func (s *Store) DisableClient(ctx context.Context, id string, at time.Time) error {
	const what = "disable client"
	return s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE clients SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?`, micros(at), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return wallet.Errorf(wallet.ENOTFOUND, "%s: no such client", what)
		}
		return nil
	})
}
