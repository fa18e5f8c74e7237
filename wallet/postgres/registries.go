package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// CreateRegistry stores a new hosted registry. ECONFLICT if the code exists.
func (s *Store) CreateRegistry(ctx context.Context, r wallet.Registry) error {
	const what = "create registry"
	if err := requireID(r.Code, what); err != nil {
		return err
	}
	_, err := s.exec(ctx, what, `INSERT INTO registries (code, name, organisation_id, document_type, created_at) VALUES ($1, $2, $3, $4, $5)`,
		r.Code, r.Name, r.OrganisationID, string(r.DocumentType), ts(r.CreatedAt))
	return err
}

const registryColumns = `code, name, organisation_id, document_type, created_at FROM registries`

func scanRegistry(row pgx.Row) (wallet.Registry, error) {
	var (
		r   wallet.Registry
		typ string
	)
	err := row.Scan(&r.Code, &r.Name, &r.OrganisationID, &typ, &r.CreatedAt)
	r.DocumentType, r.CreatedAt = wallet.DocumentType(typ), r.CreatedAt.UTC()
	return r, err
}

// Registry returns one registry. ENOTFOUND.
func (s *Store) Registry(ctx context.Context, code string) (wallet.Registry, error) {
	r, err := scanRegistry(s.pool.QueryRow(ctx, `SELECT `+registryColumns+` WHERE code = $1`, code))
	if err != nil {
		return wallet.Registry{}, wrapErr(err, "registry")
	}
	return r, nil
}

// Registries returns every registry, by code.
func (s *Store) Registries(ctx context.Context) ([]wallet.Registry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+registryColumns+` ORDER BY code`)
	return collect(rows, err, "list registries", scanRegistry)
}

const registryVersionColumns = `registry, number, version, status, fields, valid_until, reason, created_by, created_at,
	signed_by, signer_name, signed_at, content, jws, prev_hash, hash FROM registry_versions`

func scanRegistryVersion(row pgx.Row) (wallet.RegistryVersion, error) {
	var (
		v      wallet.RegistryVersion
		fields string
	)
	err := row.Scan(&v.Registry, &v.Number, &v.Version, &v.Status, &fields, &v.ValidUntil, &v.Reason, &v.CreatedBy, &v.CreatedAt,
		&v.SignedBy, &v.SignerName, &v.SignedAt, &v.Content, &v.JWS, &v.PrevHash, &v.Hash)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(fields), &v.Fields); err != nil {
		return v, wallet.Wrap(wallet.EINTERNAL, err, "stored registry fields do not decode")
	}
	v.ValidUntil, v.SignedAt, v.CreatedAt = utc(v.ValidUntil), utc(v.SignedAt), v.CreatedAt.UTC()
	return v, nil
}

// RegistryRecord returns a record with its versions, oldest first. ENOTFOUND.
func (s *Store) RegistryRecord(ctx context.Context, code, number string) (wallet.RegistryRecord, []wallet.RegistryVersion, error) {
	var r wallet.RegistryRecord
	err := s.pool.QueryRow(ctx, `SELECT registry, number, holder_kind, holder_id, holder_name, created_by, created_at
		FROM registry_records WHERE registry = $1 AND number = $2`, code, number).
		Scan(&r.Registry, &r.Number, &r.HolderKind, &r.HolderID, &r.HolderName, &r.CreatedBy, &r.CreatedAt)
	if err != nil {
		return wallet.RegistryRecord{}, nil, wrapErr(err, "registry record")
	}
	r.CreatedAt = r.CreatedAt.UTC()
	rows, err := s.pool.Query(ctx, `SELECT `+registryVersionColumns+` WHERE registry = $1 AND number = $2 ORDER BY version`, code, number)
	versions, err := collect(rows, err, "registry versions", scanRegistryVersion)
	if err != nil {
		return wallet.RegistryRecord{}, nil, err
	}
	return r, versions, nil
}

// Extract returns one extract. ENOTFOUND.
func (s *Store) Extract(ctx context.Context, id string) (wallet.Extract, error) {
	var (
		e     wallet.Extract
		owner string
	)
	err := s.pool.QueryRow(ctx, `SELECT id, document_id, owner_iin, version, hash, lang, made_by, created_at FROM extracts WHERE id = $1`, id).
		Scan(&e.ID, &e.DocumentID, &owner, &e.Version, &e.Hash, &e.Lang, &e.MadeBy, &e.CreatedAt)
	if err != nil {
		return wallet.Extract{}, wrapErr(err, "extract")
	}
	e.OwnerIIN, e.CreatedAt = wallet.IIN(owner), e.CreatedAt.UTC()
	return e, nil
}

// createRegistryRecordSQL inserts a record of an existing registry and
// returns whether it did and whether the registry exists.
const createRegistryRecordSQL = `WITH i AS (
	INSERT INTO registry_records (registry, number, holder_kind, holder_id, holder_name, created_by, created_at)
	SELECT $1, $2, $3, $4, $5, $6, $7::timestamptz WHERE EXISTS (SELECT 1 FROM registries WHERE code = $1)
	ON CONFLICT DO NOTHING RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM i), EXISTS (SELECT 1 FROM registries WHERE code = $1)`

func (r *applyRun) createRegistryRecord(i, k int, rec wallet.RegistryRecord) {
	const what = "create registry record"
	if rec.Registry == "" || rec.Number == "" {
		r.refuse(i, k, wallet.Errorf(wallet.EINVALID, "%s: registry and number are required", what))
		return
	}
	if rec.HolderKind != wallet.HolderCitizen && rec.HolderKind != wallet.HolderBusiness {
		r.refuse(i, k, wallet.Errorf(wallet.EINVALID, "%s: bad holder kind %q", what, rec.HolderKind))
		return
	}
	r.queue(i, k, createRegistryRecordSQL, []any{rec.Registry, rec.Number, rec.HolderKind, rec.HolderID, rec.HolderName, rec.CreatedBy, ts(rec.CreatedAt)},
		func(br pgx.BatchResults) (error, error) {
			var done, registry bool
			if err := br.QueryRow().Scan(&done, &registry); err != nil {
				return nil, err
			}
			switch {
			case done:
				return nil, nil
			case !registry:
				return wallet.Errorf(wallet.ENOTFOUND, "%s: no registry %q", what, rec.Registry), nil
			}
			return wallet.Errorf(wallet.ECONFLICT, "%s: the number exists", what), nil
		})
}

// appendRegistryVersionSQL inserts the next version of a record (see
// wallet.AppendRegistryVersion) or nothing.
const appendRegistryVersionSQL = `INSERT INTO registry_versions (registry, number, version, status, fields, valid_until, reason,
	created_by, created_at, signed_by, signer_name, signed_at, content, jws, prev_hash, hash)
SELECT $1::text, $2::text, $3::integer, $4::text, $5::text, $6::timestamptz, $7::text, $8::text, $9::timestamptz,
	$10::text, $11::text, $12::timestamptz, $13::bytea, $14::text, $15::text, $16::text
WHERE EXISTS (SELECT 1 FROM registry_records WHERE registry = $1 AND number = $2)
AND coalesce((SELECT max(version) FROM registry_versions WHERE registry = $1 AND number = $2), 0) = $3 - 1
AND NOT EXISTS (SELECT 1 FROM registry_versions WHERE registry = $1 AND number = $2 AND status IN ('draft', 'revoked'))
AND ($4 = 'draft' OR coalesce((SELECT hash FROM registry_versions WHERE registry = $1 AND number = $2 AND version = $3 - 1), '') = $15)
ON CONFLICT DO NOTHING`

func (r *applyRun) appendRegistryVersion(i, k int, v wallet.RegistryVersion) {
	const what = "append registry version"
	if err := v.Check(what); err != nil {
		r.refuse(i, k, err)
		return
	}
	fields := v.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		r.refuse(i, k, wallet.Wrap(wallet.EINVALID, err, what))
		return
	}
	var content []byte
	if v.Content != nil {
		content = v.Content
	}
	r.queue(i, k, appendRegistryVersionSQL, []any{v.Registry, v.Number, v.Version, v.Status, string(b), tsp(v.ValidUntil), v.Reason,
		v.CreatedBy, ts(v.CreatedAt), v.SignedBy, v.SignerName, tsp(v.SignedAt), content, v.JWS, v.PrevHash, v.Hash},
		execOne(func() error {
			return wallet.Errorf(wallet.ECONFLICT, "%s: not the next version, a draft is pending, the record is revoked or the chain does not follow", what)
		}))
}

// signRegistryVersionSQL publishes a draft (see wallet.SignRegistryVersion)
// or changes nothing.
const signRegistryVersionSQL = `UPDATE registry_versions SET status = $4, signed_by = $5, signer_name = $6, signed_at = $7,
	content = $8, jws = $9, prev_hash = $10, hash = $11
WHERE registry = $1 AND number = $2 AND version = $3 AND status = 'draft'
AND coalesce((SELECT p.hash FROM registry_versions AS p WHERE p.registry = $1 AND p.number = $2 AND p.version = $3 - 1), '') = $10`

func (r *applyRun) signRegistryVersion(i, k int, v wallet.RegistryVersion) {
	const what = "sign registry version"
	if err := v.Check(what); err != nil {
		r.refuse(i, k, err)
		return
	}
	r.queue(i, k, signRegistryVersionSQL, []any{v.Registry, v.Number, v.Version, v.Status, v.SignedBy, v.SignerName, tsp(v.SignedAt),
		v.Content, v.JWS, v.PrevHash, v.Hash},
		execOne(func() error {
			return wallet.Errorf(wallet.ECONFLICT, "%s: not a draft, or the chain does not follow", what)
		}))
}

const createExtractSQL = `INSERT INTO extracts (id, document_id, owner_iin, version, hash, lang, made_by, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`

func (r *applyRun) createExtract(i, k int, e wallet.Extract) {
	const what = "create extract"
	if err := requireID(e.ID, what); err != nil {
		r.refuse(i, k, err)
		return
	}
	if err := int4(what, e.Version); err != nil {
		r.refuse(i, k, err)
		return
	}
	r.queue(i, k, createExtractSQL, []any{e.ID, e.DocumentID, string(e.OwnerIIN), e.Version, e.Hash, e.Lang, e.MadeBy, ts(e.CreatedAt)},
		execOne(func() error { return wallet.Errorf(wallet.ECONFLICT, "%s: already exists", what) }))
}
