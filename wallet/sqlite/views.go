package sqlite

import (
	"context"
	"database/sql"

	"github.com/qujat/qujat/wallet"
)

// insertView stores v; shareSeq is the share's view count that v took, or 0
// for a view that is not a share redemption.
func insertView(ctx context.Context, tx *sql.Tx, v wallet.View, shareSeq int) error {
	var seq any
	if shareSeq > 0 {
		seq = shareSeq
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO views
		(id, document_id, document_type, owner_iin, viewer_kind, viewer_id, channel,
		 share_id, share_seq, consent_id, shared_by, at, log_index)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.DocumentID, string(v.DocumentType), string(v.OwnerIIN), v.ViewerKind, v.ViewerID, v.Channel,
		nullString(v.ShareID), seq, v.ConsentID, string(v.SharedBy), micros(v.At), logIndex(v.LogIndex))
	return err
}

const viewColumns = `id, document_id, document_type, owner_iin, viewer_kind, viewer_id, channel,
	share_id, consent_id, shared_by, at, log_index FROM views`

func scanView(sc scanner) (wallet.View, error) {
	var r struct { // the scan's targets, in one allocation (see scanner)
		v                    wallet.View
		typ, owner, sharedBy string
		shareID              sql.NullString
		at                   int64
		index                sql.NullInt64
	}
	v := &r.v
	err := sc.Scan(&v.ID, &v.DocumentID, &r.typ, &r.owner, &v.ViewerKind, &v.ViewerID, &v.Channel,
		&r.shareID, &v.ConsentID, &r.sharedBy, &r.at, &r.index)
	v.DocumentType, v.OwnerIIN, v.SharedBy = wallet.DocumentType(r.typ), wallet.IIN(r.owner), wallet.IIN(r.sharedBy)
	v.ShareID, v.At, v.LogIndex = r.shareID.String, fromMicros(r.at), fromLogIndex(r.index)
	return *v, err
}

// ViewsOfOwner returns views of the owner's documents, newest first.
func (s *Store) ViewsOfOwner(ctx context.Context, owner wallet.IIN) ([]wallet.View, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+viewColumns+` WHERE owner_iin = ? ORDER BY at DESC, rowid DESC`, string(owner))
	return collect(rows, err, "list views", scanView)
}

// ViewsByViewer returns what the viewer has viewed, newest first.
func (s *Store) ViewsByViewer(ctx context.Context, kind, id string) ([]wallet.View, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+viewColumns+` WHERE viewer_kind = ? AND viewer_id = ?
		ORDER BY at DESC, rowid DESC`, kind, id)
	return collect(rows, err, "list views", scanView)
}
