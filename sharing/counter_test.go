package sharing_test

import (
	"testing"

	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/wallet"
)

// An organisation at its counter redeems what the citizen presents: the
// view names the organisation, for the owner and in the organisation's own
// history, and a retry with the same key answers the same view.
func TestRedeem_OrganisationAtTheCounterIsTheViewer(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 2)
		bank := sharing.Viewer{Organisation: "cli_bank", IP: "192.0.2.20"}
		r, err := e.svc.RedeemTokenOnce(ctx, bank, o.Token, "key-1")
		noErr(t, err)
		if r.View.ViewerKind != wallet.ViewerOrganisation || r.View.ViewerID != "cli_bank" || r.Document.ID != doc.ID {
			t.Fatalf("view = %+v", r.View)
		}
		again, err := e.svc.RedeemTokenOnce(ctx, bank, o.Token, "key-1")
		noErr(t, err)
		if again.View.ID != r.View.ID || !again.Replayed {
			t.Fatalf("retry = %+v, want the same view replayed", again.View)
		}
		byCode, err := e.svc.RedeemCode(ctx, bank, doc.SubjectIIN, o.ShortCode)
		noErr(t, err)
		if byCode.View.ViewerKind != wallet.ViewerOrganisation || byCode.View.Channel != wallet.ChannelShortCode {
			t.Fatalf("code view = %+v", byCode.View)
		}
		owners := e.viewsOfOwner(t, doc.SubjectIIN)
		if len(owners) != 2 || owners[0].ViewerID != "cli_bank" || owners[1].ViewerID != "cli_bank" {
			t.Fatalf("owner's history = %+v", owners)
		}
		got, err := e.store.ViewsByViewer(ctx, wallet.ViewerOrganisation, "cli_bank")
		noErr(t, err)
		if len(got) != 2 {
			t.Fatalf("organisation's history = %+v", got)
		}
	})
}

func TestRedeem_ViewerIsACitizenOrAnOrganisation(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 0)
		both := sharing.Viewer{IIN: newIIN(t), Organisation: "cli_bank"}
		_, err := e.svc.RedeemToken(ctx, both, o.Token)
		wantCode(t, err, wallet.EINVALID)
		_, err = e.svc.RedeemCode(ctx, sharing.Viewer{}, doc.SubjectIIN, o.ShortCode)
		wantCode(t, err, wallet.EINVALID)
		// Nothing was spent.
		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
	})
}
