package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/qujat/qujat/wallet"
)

// AppendVersion appends v to document d, creating the document when
// v.Version is 1. ECONFLICT if v.Version is not the next version number or
// the document belongs to another subject; EINVALID for a version below 1 or
// a v.DocumentID other than d.ID.
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
	return s.write(ctx, what, func(tx *sql.Tx) error {
		if v.Version == 1 {
			fetched := d.FetchedAt
			if fetched.IsZero() {
				fetched = v.CreatedAt
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO documents (id, subject_iin, type, source, fetched_at, latest_version)
				VALUES (?, ?, ?, ?, ?, 1)`, d.ID, string(d.SubjectIIN), string(d.Type), d.Source, micros(fetched))
			if err != nil {
				return err // ECONFLICT if the document exists
			}
		} else {
			var fetched any
			if !d.FetchedAt.IsZero() {
				fetched = micros(d.FetchedAt)
			}
			res, err := tx.ExecContext(ctx, `UPDATE documents SET latest_version = ?, fetched_at = COALESCE(?, fetched_at)
				WHERE id = ? AND subject_iin = ? AND latest_version = ?`,
				v.Version, fetched, d.ID, string(d.SubjectIIN), v.Version-1)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return wallet.Errorf(wallet.ECONFLICT, "%s: version %d is not the next version of the subject's document", what, v.Version)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO document_versions (document_id, version, content, jws, prev_hash, hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, v.Version, nonNilBytes(v.Content), v.JWS, v.PrevHash, v.Hash, micros(v.CreatedAt))
		return err
	})
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// MarkFetched records that source answered for subject at t, for every
// document of that subject from that source.
func (s *Store) MarkFetched(ctx context.Context, subject wallet.IIN, source string, t time.Time) error {
	return s.write(ctx, "mark documents fetched", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE documents SET fetched_at = ? WHERE subject_iin = ? AND source = ?`,
			micros(t), string(subject), source)
		return err
	})
}

const documentColumns = `d.id, d.subject_iin, d.type, d.source, d.fetched_at,
	v.version, v.content, v.jws, v.prev_hash, v.hash, v.created_at
	FROM documents d JOIN document_versions v ON v.document_id = d.id AND v.version = d.latest_version`

func scanDocument(sc scanner) (wallet.StoredDocument, error) {
	var (
		d                  wallet.StoredDocument
		subject, typ       string
		fetched, createdAt int64
	)
	err := sc.Scan(&d.ID, &subject, &typ, &d.Source, &fetched,
		&d.Latest.Version, &d.Latest.Content, &d.Latest.JWS, &d.Latest.PrevHash, &d.Latest.Hash, &createdAt)
	d.SubjectIIN, d.Type, d.FetchedAt = wallet.IIN(subject), wallet.DocumentType(typ), fromMicros(fetched)
	d.Latest.DocumentID, d.Latest.CreatedAt = d.ID, fromMicros(createdAt)
	return d, err
}

// Documents returns the subject's documents with their latest versions,
// ordered by type then id.
func (s *Store) Documents(ctx context.Context, subject wallet.IIN) ([]wallet.StoredDocument, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+documentColumns+` WHERE d.subject_iin = ? ORDER BY d.type, d.id`, string(subject))
	return collect(rows, err, "list documents", scanDocument)
}

// Document returns one document with its latest version. ENOTFOUND.
func (s *Store) Document(ctx context.Context, id string) (wallet.StoredDocument, error) {
	d, err := scanDocument(s.r.QueryRowContext(ctx, `SELECT `+documentColumns+` WHERE d.id = ?`, id))
	if err != nil {
		return wallet.StoredDocument{}, wrapErr(err, "document")
	}
	return d, nil
}

// Versions returns all versions of a document, oldest first. ENOTFOUND if
// the document does not exist.
func (s *Store) Versions(ctx context.Context, id string) ([]wallet.Version, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT document_id, version, content, jws, prev_hash, hash, created_at
		FROM document_versions WHERE document_id = ? ORDER BY version`, id)
	vs, err := collect(rows, err, "document versions", func(sc scanner) (wallet.Version, error) {
		var (
			v         wallet.Version
			createdAt int64
		)
		err := sc.Scan(&v.DocumentID, &v.Version, &v.Content, &v.JWS, &v.PrevHash, &v.Hash, &createdAt)
		v.CreatedAt = fromMicros(createdAt)
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
