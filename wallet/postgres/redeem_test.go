package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
	"github.com/qujat/qujat/wallet/wallettest"
)

// A redemption writes its view once, with its leaf's index: the row's only
// version is the first tuple of the table's first page. (It used to be
// inserted by the op and then marked with its index, an UPDATE of an
// indexed column that PostgreSQL cannot do in place: a second version of
// the row and of every index entry of it, per redemption.)
func TestRedeem_WritesTheViewOnce(t *testing.T) {
	ctx := context.Background()
	u := wallettest.PostgresSchemaURL(t)
	s := openStore(t, u)
	l, _ := wallettest.StartLog(t, s, s)
	rec := history.Recorder{Log: l}
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	const owner, viewer = wallet.IIN("880412310009"), "900101300022"
	sh := wallet.Share{ID: "shr_once", DocumentID: "doc_once", OwnerIIN: owner, CreatedBy: owner, MaxViews: 2,
		CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
	if _, err := rec.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateShare{Share: sh}}}); err != nil {
		t.Fatal(err)
	}
	v := wallet.View{ID: "vw_once", DocumentID: sh.DocumentID, DocumentType: wallet.IDCard, OwnerIIN: owner,
		ViewerKind: wallet.ViewerCitizen, ViewerID: viewer, Channel: wallet.ChannelQR, At: at.Add(time.Second), LogIndex: -1}
	idx, err := rec.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.RedeemShare{ShareID: sh.ID, View: v}}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ctid string
	var logIndex, seq int64
	if err := conn.QueryRow(ctx, `SELECT ctid::text, log_index, share_seq FROM views WHERE id = 'vw_once'`).Scan(&ctid, &logIndex, &seq); err != nil {
		t.Fatal(err)
	}
	if ctid != "(0,1)" || logIndex != idx[0] || seq != 1 {
		t.Fatalf("view at %s with log index %d, share_seq %d; want (0,1), %d, 1 (written once)", ctid, logIndex, seq, idx[0])
	}
}
