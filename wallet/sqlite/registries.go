package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/qujat/qujat/wallet"
)

// CreateRegistry stores a new hosted registry. ECONFLICT if the code exists.
func (s *Store) CreateRegistry(ctx context.Context, r wallet.Registry) error {
	const what = "create registry"
	if err := requireID(r.Code, what); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO registries (code, name, organisation_id, document_type, created_at) VALUES (?, ?, ?, ?, ?)`,
			r.Code, r.Name, r.OrganisationID, string(r.DocumentType), micros(r.CreatedAt))
		return err
	})
}

const registryColumns = `code, name, organisation_id, document_type, created_at FROM registries`

func scanRegistry(sc scanner) (wallet.Registry, error) {
	var (
		r       wallet.Registry
		typ     string
		created int64
	)
	err := sc.Scan(&r.Code, &r.Name, &r.OrganisationID, &typ, &created)
	r.DocumentType, r.CreatedAt = wallet.DocumentType(typ), fromMicros(created)
	return r, err
}

// Registry returns one registry. ENOTFOUND.
func (s *Store) Registry(ctx context.Context, code string) (wallet.Registry, error) {
	r, err := scanRegistry(s.r.QueryRowContext(ctx, `SELECT `+registryColumns+` WHERE code = ?`, code))
	if err != nil {
		return wallet.Registry{}, wrapErr(err, "registry")
	}
	return r, nil
}

// Registries returns every registry, by code.
func (s *Store) Registries(ctx context.Context) ([]wallet.Registry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+registryColumns+` ORDER BY code`)
	return collect(rows, err, "list registries", scanRegistry)
}

const registryVersionColumns = `registry, number, version, status, fields, valid_until, reason, created_by, created_at,
	signed_by, signer_name, signed_at, content, jws, prev_hash, hash FROM registry_versions`

func scanRegistryVersion(sc scanner) (wallet.RegistryVersion, error) {
	var (
		v               wallet.RegistryVersion
		fields          string
		until, signedAt sql.NullInt64
		created         int64
	)
	err := sc.Scan(&v.Registry, &v.Number, &v.Version, &v.Status, &fields, &until, &v.Reason, &v.CreatedBy, &created,
		&v.SignedBy, &v.SignerName, &signedAt, &v.Content, &v.JWS, &v.PrevHash, &v.Hash)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(fields), &v.Fields); err != nil {
		return v, wallet.Wrap(wallet.EINTERNAL, err, "stored registry fields do not decode")
	}
	v.ValidUntil, v.SignedAt, v.CreatedAt = fromNullMicros(until), fromNullMicros(signedAt), fromMicros(created)
	return v, nil
}

// RegistryRecord returns a record with its versions, oldest first. ENOTFOUND.
func (s *Store) RegistryRecord(ctx context.Context, code, number string) (wallet.RegistryRecord, []wallet.RegistryVersion, error) {
	var (
		r       wallet.RegistryRecord
		created int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT registry, number, holder_kind, holder_id, holder_name, created_by, created_at
		FROM registry_records WHERE registry = ? AND number = ?`, code, number).
		Scan(&r.Registry, &r.Number, &r.HolderKind, &r.HolderID, &r.HolderName, &r.CreatedBy, &created)
	if err != nil {
		return wallet.RegistryRecord{}, nil, wrapErr(err, "registry record")
	}
	r.CreatedAt = fromMicros(created)
	rows, err := s.r.QueryContext(ctx, `SELECT `+registryVersionColumns+` WHERE registry = ? AND number = ? ORDER BY version`, code, number)
	versions, err := collect(rows, err, "registry versions", scanRegistryVersion)
	if err != nil {
		return wallet.RegistryRecord{}, nil, err
	}
	return r, versions, nil
}

// Extract returns one extract. ENOTFOUND.
func (s *Store) Extract(ctx context.Context, id string) (wallet.Extract, error) {
	var (
		e       wallet.Extract
		owner   string
		created int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT id, document_id, owner_iin, version, hash, lang, made_by, created_at FROM extracts WHERE id = ?`, id).
		Scan(&e.ID, &e.DocumentID, &owner, &e.Version, &e.Hash, &e.Lang, &e.MadeBy, &created)
	if err != nil {
		return wallet.Extract{}, wrapErr(err, "extract")
	}
	e.OwnerIIN, e.CreatedAt = wallet.IIN(owner), fromMicros(created)
	return e, nil
}

// appendRegistryVersionSQL inserts the next version of a record (see
// wallet.AppendRegistryVersion) or nothing.
const appendRegistryVersionSQL = `INSERT INTO registry_versions (registry, number, version, status, fields, valid_until, reason,
	created_by, created_at, signed_by, signer_name, signed_at, content, jws, prev_hash, hash)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16
WHERE EXISTS (SELECT 1 FROM registry_records WHERE registry = ?1 AND number = ?2)
AND coalesce((SELECT max(version) FROM registry_versions WHERE registry = ?1 AND number = ?2), 0) = ?3 - 1
AND NOT EXISTS (SELECT 1 FROM registry_versions WHERE registry = ?1 AND number = ?2 AND status IN ('draft', 'revoked'))
AND (?4 = 'draft' OR coalesce((SELECT hash FROM registry_versions WHERE registry = ?1 AND number = ?2 AND version = ?3 - 1), '') = ?15)`

// signRegistryVersionSQL publishes a draft (see wallet.SignRegistryVersion)
// or changes nothing.
const signRegistryVersionSQL = `UPDATE registry_versions SET status = ?4, signed_by = ?5, signer_name = ?6, signed_at = ?7,
	content = ?8, jws = ?9, prev_hash = ?10, hash = ?11
WHERE registry = ?1 AND number = ?2 AND version = ?3 AND status = 'draft'
AND coalesce((SELECT hash FROM registry_versions AS p WHERE p.registry = ?1 AND p.number = ?2 AND p.version = ?3 - 1), '') = ?10`

func (a *appendTx) createRegistryRecord(ctx context.Context, r wallet.RegistryRecord) error {
	const what = "create registry record"
	if r.Registry == "" || r.Number == "" {
		return wallet.Errorf(wallet.EINVALID, "%s: registry and number are required", what)
	}
	var n int
	if err := a.tx.QueryRowContext(ctx, `SELECT count(*) FROM registries WHERE code = ?`, r.Registry).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return wallet.Errorf(wallet.ENOTFOUND, "%s: no registry %q", what, r.Registry)
	}
	_, err := a.tx.ExecContext(ctx, `INSERT INTO registry_records (registry, number, holder_kind, holder_id, holder_name, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Registry, r.Number, r.HolderKind, r.HolderID, r.HolderName, r.CreatedBy, micros(r.CreatedAt))
	return err
}

func registryVersionArgs(v wallet.RegistryVersion, signedAt any, until any) ([]any, error) {
	fields := v.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINVALID, err, "registry fields")
	}
	var content any
	if v.Content != nil {
		content = v.Content
	}
	return []any{v.Registry, v.Number, v.Version, v.Status, string(b), until, v.Reason, v.CreatedBy, micros(v.CreatedAt),
		v.SignedBy, v.SignerName, signedAt, content, v.JWS, v.PrevHash, v.Hash}, nil
}

func (a *appendTx) appendRegistryVersion(ctx context.Context, v wallet.RegistryVersion) error {
	if err := checkRegistryVersion(v, "append registry version"); err != nil {
		return err
	}
	args, err := registryVersionArgs(v, nullMicros(v.SignedAt), nullMicros(v.ValidUntil))
	if err != nil {
		return err
	}
	res, err := a.tx.ExecContext(ctx, appendRegistryVersionSQL, args...)
	if err != nil {
		return err
	}
	return oneRow(res, wallet.Errorf(wallet.ECONFLICT, "append registry version: not the next version, a draft is pending, the record is revoked or the chain does not follow"))
}

func (a *appendTx) signRegistryVersion(ctx context.Context, v wallet.RegistryVersion) error {
	if err := checkRegistryVersion(v, "sign registry version"); err != nil {
		return err
	}
	res, err := a.tx.ExecContext(ctx, signRegistryVersionSQL, v.Registry, v.Number, v.Version, v.Status,
		v.SignedBy, v.SignerName, nullMicros(v.SignedAt), v.Content, v.JWS, v.PrevHash, v.Hash)
	if err != nil {
		return err
	}
	return oneRow(res, wallet.Errorf(wallet.ECONFLICT, "sign registry version: not a draft, or the chain does not follow"))
}

func checkRegistryVersion(v wallet.RegistryVersion, what string) error {
	return v.Check(what)
}

// oneRow refuses with refusal unless the statement changed one row.
func oneRow(res sql.Result, refusal error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return refusal
	}
	return nil
}

func (a *appendTx) createExtract(ctx context.Context, e wallet.Extract) error {
	if err := requireID(e.ID, "create extract"); err != nil {
		return err
	}
	_, err := a.tx.ExecContext(ctx, `INSERT INTO extracts (id, document_id, owner_iin, version, hash, lang, made_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.DocumentID, string(e.OwnerIIN), e.Version, e.Hash, e.Lang, e.MadeBy, micros(e.CreatedAt))
	return err
}
