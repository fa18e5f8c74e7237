package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// AppendVersion appends v to document d, creating the document when
// v.Version is 1. ECONFLICT if v.Version is not the next version number or
// the document belongs to another subject; EINVALID for a version below 1 or
// a v.DocumentID other than d.ID.
//
// The guard is a compare-and-swap on documents.latest_version: concurrent
// appends of the same version queue on the row lock and all but the first
// find the version moved on.
func (s *Store) AppendVersion(ctx context.Context, d wallet.StoredDocument, v wallet.Version) error {
	const what = "append document version"
	if err := requireID(d.ID, what); err != nil {
		return err
	}
	if v.Version < 1 {
		return wallet.Errorf(wallet.EINVALID, "%s: version %d is below 1", what, v.Version)
	}
	if v.DocumentID != "" && v.DocumentID != d.ID {
		return wallet.Errorf(wallet.EINVALID, "%s: version of document %q given for %q", what, v.DocumentID, d.ID)
	}
	return s.write(ctx, what, func(tx pgx.Tx) error {
		if v.Version == 1 {
			fetched := d.FetchedAt
			if fetched.IsZero() {
				fetched = v.CreatedAt
			}
			_, err := tx.Exec(ctx, `INSERT INTO documents (id, subject_iin, type, source, fetched_at, latest_version)
				VALUES ($1, $2, $3, $4, $5, 1)`, d.ID, string(d.SubjectIIN), string(d.Type), d.Source, ts(fetched))
			if err != nil {
				return err // ECONFLICT if the document exists
			}
		} else {
			var fetched *time.Time
			if !d.FetchedAt.IsZero() {
				fetched = tsp(&d.FetchedAt)
			}
			tag, err := tx.Exec(ctx, `UPDATE documents SET latest_version = $1, fetched_at = COALESCE($2, fetched_at)
				WHERE id = $3 AND subject_iin = $4 AND latest_version = $5`,
				v.Version, fetched, d.ID, string(d.SubjectIIN), v.Version-1)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return wallet.Errorf(wallet.ECONFLICT, "%s: version %d is not the next version of the subject's document", what, v.Version)
			}
		}
		content := v.Content
		if content == nil {
			content = []byte{}
		}
		_, err := tx.Exec(ctx, `INSERT INTO document_versions (document_id, version, content, jws, prev_hash, hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, d.ID, v.Version, content, v.JWS, v.PrevHash, v.Hash, ts(v.CreatedAt))
		return err
	})
}

// MarkFetched records that source answered for subject at t, for every
// document of that subject from that source.
func (s *Store) MarkFetched(ctx context.Context, subject wallet.IIN, source string, t time.Time) error {
	_, err := s.exec(ctx, "mark documents fetched", `UPDATE documents SET fetched_at = $1 WHERE subject_iin = $2 AND source = $3`,
		ts(t), string(subject), source)
	return err
}

const documentColumns = `d.id, d.subject_iin, d.type, d.source, d.fetched_at,
	v.version, v.content, v.jws, v.prev_hash, v.hash, v.created_at
	FROM documents d JOIN document_versions v ON v.document_id = d.id AND v.version = d.latest_version`

func scanDocument(row pgx.Row) (wallet.StoredDocument, error) {
	var (
		d            wallet.StoredDocument
		subject, typ string
	)
	err := row.Scan(&d.ID, &subject, &typ, &d.Source, &d.FetchedAt,
		&d.Latest.Version, &d.Latest.Content, &d.Latest.JWS, &d.Latest.PrevHash, &d.Latest.Hash, &d.Latest.CreatedAt)
	d.SubjectIIN, d.Type, d.FetchedAt = wallet.IIN(subject), wallet.DocumentType(typ), d.FetchedAt.UTC()
	d.Latest.DocumentID, d.Latest.CreatedAt = d.ID, d.Latest.CreatedAt.UTC()
	return d, err
}

// Documents returns the subject's documents with their latest versions,
// ordered by type then id (bytewise, as in SQLite, whatever the database's
// collation).
func (s *Store) Documents(ctx context.Context, subject wallet.IIN) ([]wallet.StoredDocument, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+documentColumns+` WHERE d.subject_iin = $1
		ORDER BY d.type COLLATE "C", d.id COLLATE "C"`, string(subject))
	return collect(rows, err, "list documents", scanDocument)
}

// Document returns one document with its latest version. ENOTFOUND.
func (s *Store) Document(ctx context.Context, id string) (wallet.StoredDocument, error) {
	d, err := scanDocument(s.pool.QueryRow(ctx, `SELECT `+documentColumns+` WHERE d.id = $1`, id))
	if err != nil {
		return wallet.StoredDocument{}, wrapErr(err, "document")
	}
	return d, nil
}

// Versions returns all versions of a document, oldest first. ENOTFOUND if
// the document does not exist.
func (s *Store) Versions(ctx context.Context, id string) ([]wallet.Version, error) {
	rows, err := s.pool.Query(ctx, `SELECT document_id, version, content, jws, prev_hash, hash, created_at
		FROM document_versions WHERE document_id = $1 ORDER BY version`, id)
	vs, err := collect(rows, err, "document versions", func(row pgx.Row) (wallet.Version, error) {
		var v wallet.Version
		err := row.Scan(&v.DocumentID, &v.Version, &v.Content, &v.JWS, &v.PrevHash, &v.Hash, &v.CreatedAt)
		v.CreatedAt = v.CreatedAt.UTC()
		return v, err
	})
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		// A document is created with its first version, so no versions
		// means no document.
		return nil, wallet.Errorf(wallet.ENOTFOUND, "document versions: not found")
	}
	return vs, nil
}
