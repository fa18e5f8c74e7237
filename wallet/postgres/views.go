package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// Views are written only by a log batch: a share redemption's by its
// RedeemShare op, the others with their leaves (append.go).

// insertViewsSQL stores views, their columns sent as arrays
// (viewRows.args), in the arrays' order.
const insertViewsSQL = `INSERT INTO views
	(id, document_id, document_type, owner_iin, viewer_kind, viewer_id, channel,
	 share_id, share_seq, consent_id, shared_by, at, log_index)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	 $8::text[], $9::integer[], $10::text[], $11::text[], $12::timestamptz[], $13::bigint[])`

// viewRows are the columns of views to be inserted with insertViewsSQL.
type viewRows struct {
	id, documentID, documentType, owner, viewerKind, viewerID, channel []string
	shareID                                                            []*string
	shareSeq                                                           []*int
	consentID, sharedBy                                                []string
	at                                                                 []time.Time
	logIndex                                                           []*int64
}

// add adds v; seq is the share's view count that v took, nil for a view
// that is not a share redemption.
func (c *viewRows) add(v wallet.View, seq *int) {
	c.id, c.documentID, c.documentType = append(c.id, v.ID), append(c.documentID, v.DocumentID), append(c.documentType, string(v.DocumentType))
	c.owner, c.viewerKind, c.viewerID = append(c.owner, string(v.OwnerIIN)), append(c.viewerKind, v.ViewerKind), append(c.viewerID, v.ViewerID)
	c.channel, c.shareID, c.shareSeq = append(c.channel, v.Channel), append(c.shareID, nullString(v.ShareID)), append(c.shareSeq, seq)
	c.consentID, c.sharedBy = append(c.consentID, v.ConsentID), append(c.sharedBy, string(v.SharedBy))
	c.at, c.logIndex = append(c.at, ts(v.At)), append(c.logIndex, logIndex(v.LogIndex))
}

// args are insertViewsSQL's arguments.
func (c *viewRows) args() []any {
	return []any{c.id, c.documentID, c.documentType, c.owner, c.viewerKind, c.viewerID, c.channel,
		c.shareID, c.shareSeq, c.consentID, c.sharedBy, c.at, c.logIndex}
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
