package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// Views are written only by a log batch: a share redemption's by its
// RedeemShare op, the others with their leaves (append.go).

// insertViewSQL stores a view (viewArgs).
const insertViewSQL = `INSERT INTO views
	(id, document_id, document_type, owner_iin, viewer_kind, viewer_id, channel,
	 share_id, share_seq, consent_id, shared_by, at, log_index)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

// viewArgs are insertViewSQL's arguments for v; seq is the share's view
// count that v took, nil for a view that is not a share redemption.
func viewArgs(v wallet.View, seq *int) []any {
	return []any{v.ID, v.DocumentID, string(v.DocumentType), string(v.OwnerIIN), v.ViewerKind, v.ViewerID, v.Channel,
		nullString(v.ShareID), seq, v.ConsentID, string(v.SharedBy), ts(v.At), logIndex(v.LogIndex)}
}

const viewColumns = `id, document_id, document_type, owner_iin, viewer_kind, viewer_id, channel,
	share_id, consent_id, shared_by, at, log_index FROM views`

func scanView(row pgx.Row) (wallet.View, error) {
	var (
		v                    wallet.View
		typ, owner, sharedBy string
		shareID              *string
		index                *int64
	)
	err := row.Scan(&v.ID, &v.DocumentID, &typ, &owner, &v.ViewerKind, &v.ViewerID, &v.Channel,
		&shareID, &v.ConsentID, &sharedBy, &v.At, &index)
	v.DocumentType, v.OwnerIIN, v.SharedBy = wallet.DocumentType(typ), wallet.IIN(owner), wallet.IIN(sharedBy)
	if shareID != nil {
		v.ShareID = *shareID
	}
	v.At, v.LogIndex = v.At.UTC(), fromLogIndex(index)
	return v, err
}

// ViewsOfOwner returns views of the owner's documents, newest first.
func (s *Store) ViewsOfOwner(ctx context.Context, owner wallet.IIN) ([]wallet.View, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+viewColumns+` WHERE owner_iin = $1 ORDER BY at DESC, seq DESC`, string(owner))
	return collect(rows, err, "list views", scanView)
}

// ViewsByViewer returns what the viewer has viewed, newest first.
func (s *Store) ViewsByViewer(ctx context.Context, kind, id string) ([]wallet.View, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+viewColumns+` WHERE viewer_kind = $1 AND viewer_id = $2
		ORDER BY at DESC, seq DESC`, kind, id)
	return collect(rows, err, "list views", scanView)
}
