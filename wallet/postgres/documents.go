package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// Documents and their versions are written only by a log batch's
// AppendVersion op (ops.go); MarkFetched, which has no history, is the
// one write outside it.

// MarkFetched records that source answered for subject at t, for every
// document of that subject from that source.
func (s *Store) MarkFetched(ctx context.Context, subject wallet.IIN, source string, t time.Time) error {
	_, err := s.exec(ctx, "mark documents fetched", `UPDATE documents SET fetched_at = $1 WHERE subject_iin = $2 AND source = $3`,
		ts(t), string(subject), source)
	return err
}

const documentColumns = `d.id, d.subject_iin, d.type, d.source, d.fetched_at,
	v.version, v.content, v.jws, v.prev_hash, v.hash, v.created_at, v.log_index
	FROM documents d JOIN document_versions v ON v.document_id = d.id AND v.version = d.latest_version`

func scanDocument(row pgx.Row) (wallet.StoredDocument, error) {
	var (
		d            wallet.StoredDocument
		subject, typ string
		index        *int64
	)
	err := row.Scan(&d.ID, &subject, &typ, &d.Source, &d.FetchedAt,
		&d.Latest.Version, &d.Latest.Content, &d.Latest.JWS, &d.Latest.PrevHash, &d.Latest.Hash, &d.Latest.CreatedAt, &index)
	d.Latest.LogIndex = fromLogIndex(index)
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
	rows, err := s.pool.Query(ctx, `SELECT `+versionColumns+` WHERE document_id = $1 ORDER BY version`, id)
	vs, err := collect(rows, err, "document versions", scanVersion)
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

const versionColumns = `document_id, version, content, jws, prev_hash, hash, created_at, log_index FROM document_versions`

func scanVersion(row pgx.Row) (wallet.Version, error) {
	var (
		v     wallet.Version
		index *int64
	)
	err := row.Scan(&v.DocumentID, &v.Version, &v.Content, &v.JWS, &v.PrevHash, &v.Hash, &v.CreatedAt, &index)
	v.CreatedAt, v.LogIndex = v.CreatedAt.UTC(), fromLogIndex(index)
	return v, err
}
