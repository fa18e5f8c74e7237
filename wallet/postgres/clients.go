package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// CreateClient stores a new client. ECONFLICT if the id exists.
func (s *Store) CreateClient(ctx context.Context, c wallet.Client) error {
	const what = "create client"
	if err := requireID(c.ID, what); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO clients
		(id, name, kind, document_types, secret_hash, created_at, disabled_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID, c.Name, c.Kind, encodeTypes(c.DocumentTypes), c.SecretHash, ts(c.CreatedAt), tsp(c.DisabledAt))
	return wrapErr(err, what)
}

const clientColumns = `id, name, kind, document_types, secret_hash, created_at, disabled_at FROM clients`

func scanClient(row pgx.Row) (wallet.Client, error) {
	var (
		c     wallet.Client
		types []string
	)
	err := row.Scan(&c.ID, &c.Name, &c.Kind, &types, &c.SecretHash, &c.CreatedAt, &c.DisabledAt)
	c.DocumentTypes, c.CreatedAt, c.DisabledAt = decodeTypes(types), c.CreatedAt.UTC(), utc(c.DisabledAt)
	return c, err
}

// Client returns one client. ENOTFOUND.
func (s *Store) Client(ctx context.Context, id string) (wallet.Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` WHERE id = $1`, id))
	if err != nil {
		return wallet.Client{}, wrapErr(err, "client")
	}
	return c, nil
}

// Clients returns all clients, oldest first.
func (s *Store) Clients(ctx context.Context) ([]wallet.Client, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clientColumns+` ORDER BY created_at, seq`)
	return collect(rows, err, "list clients", scanClient)
}

// DisableClient sets DisabledAt if unset. ENOTFOUND.
func (s *Store) DisableClient(ctx context.Context, id string, at time.Time) error {
	const what = "disable client"
	n, err := s.exec(ctx, what, `UPDATE clients SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2`, ts(at), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return wallet.Errorf(wallet.ENOTFOUND, "%s: no such client", what)
	}
	return nil
}
