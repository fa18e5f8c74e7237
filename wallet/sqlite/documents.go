package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/qujat/qujat/wallet"
)

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
	v.version, v.content, v.jws, v.prev_hash, v.hash, v.created_at, v.log_index
	FROM documents d JOIN document_versions v ON v.document_id = d.id AND v.version = d.latest_version`

func scanDocument(sc scanner) (wallet.StoredDocument, error) {
	var r struct { // the scan's targets, in one allocation (see scanner)
		d                  wallet.StoredDocument
		subject, typ       string
		fetched, createdAt int64
		index              sql.NullInt64
	}
	d := &r.d
	err := sc.Scan(&d.ID, &r.subject, &r.typ, &d.Source, &r.fetched,
		&d.Latest.Version, &d.Latest.Content, &d.Latest.JWS, &d.Latest.PrevHash, &d.Latest.Hash, &r.createdAt, &r.index)
	d.Latest.LogIndex = fromLogIndex(r.index)
	d.SubjectIIN, d.Type, d.FetchedAt = wallet.IIN(r.subject), wallet.DocumentType(r.typ), fromMicros(r.fetched)
	d.Latest.DocumentID, d.Latest.CreatedAt = d.ID, fromMicros(r.createdAt)
	return *d, err
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+versionColumns+` WHERE document_id = ? ORDER BY version`, id)
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

func scanVersion(sc scanner) (wallet.Version, error) {
	var (
		v         wallet.Version
		createdAt int64
		index     sql.NullInt64
	)
	err := sc.Scan(&v.DocumentID, &v.Version, &v.Content, &v.JWS, &v.PrevHash, &v.Hash, &createdAt, &index)
	v.CreatedAt, v.LogIndex = fromMicros(createdAt), fromLogIndex(index)
	return v, err
}
