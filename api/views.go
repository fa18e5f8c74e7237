package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/wallet"
)

type party struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

type viewItem struct {
	ID           string              `json:"id"`
	DocumentID   string              `json:"document_id"`
	DocumentType wallet.DocumentType `json:"document_type"`
	Viewer       *party              `json:"viewer,omitempty"`
	Owner        *party              `json:"owner,omitempty"`
	SharedBy     *party              `json:"shared_by,omitempty"`
	Channel      string              `json:"channel"`
	At           time.Time           `json:"at"`
	LogIndex     *int64              `json:"log_index,omitempty"`
}

// eitherParty admits a citizen's or an organisation's access token.
func (s *Server) eitherParty(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, ok := bearer(c)
		if !ok {
			return wallet.Errorf(wallet.EUNAUTHORIZED, "missing bearer token")
		}
		if claims, err := s.Tokens.Parse(tok, AudienceCitizen); err == nil {
			iin, err := s.activeCitizen(c, claims)
			if err != nil {
				return err
			}
			c.Set(ctxCitizen, iin)
			return next(c)
		}
		claims, err := s.Tokens.Parse(tok, AudienceOrganisation)
		if err != nil {
			return err
		}
		if err := s.activeOrganisation(c, claims.Subject); err != nil {
			return err
		}
		c.Set(ctxClient, claims.Subject)
		return next(c)
	}
}

// listViews is the history of views in either account: ?as=owner (who saw my
// documents) or ?as=viewer (what I have viewed). Organisations see what
// they received (as=viewer).
func (s *Server) listViews(c echo.Context) error {
	ctx := c.Request().Context()
	as := c.QueryParam("as")
	if as == "" {
		as = "owner"
		if clientOf(c) != "" {
			as = "viewer"
		}
	}
	var views []wallet.View
	var err error
	switch {
	case as == "owner" && citizenOf(c) != "":
		views, err = s.Views.ViewsOfOwner(ctx, citizenOf(c))
	case as == "viewer" && citizenOf(c) != "":
		views, err = s.viewsByCitizen(ctx, citizenOf(c))
	case as == "viewer" && clientOf(c) != "":
		views, err = s.Views.ViewsByViewer(ctx, wallet.ViewerOrganisation, clientOf(c))
	case as == "owner" || as == "viewer":
		return wallet.Errorf(wallet.EFORBIDDEN, "organisations have no documents of their own; use as=viewer")
	default:
		return wallet.Errorf(wallet.EINVALID, "as must be owner or viewer")
	}
	if err != nil {
		return err
	}
	names := newNameCache(s)
	out := make([]viewItem, 0, len(views))
	for _, v := range views {
		it := viewItem{ID: v.ID, DocumentID: v.DocumentID, DocumentType: v.DocumentType, Channel: v.Channel, At: v.At.UTC()}
		if v.LogIndex >= 0 {
			li := v.LogIndex
			it.LogIndex = &li
		}
		if as == "owner" {
			it.Viewer = names.party(ctx, v.ViewerKind, v.ViewerID)
		} else {
			it.Owner = names.party(ctx, wallet.ViewerCitizen, string(v.OwnerIIN))
		}
		if v.SharedBy != "" {
			it.SharedBy = names.party(ctx, wallet.ViewerGuardian, string(v.SharedBy))
		}
		out = append(out, it)
	}
	return c.JSON(http.StatusOK, map[string]any{"views": out})
}

// viewsByCitizen is what a citizen viewed, as a third party or as a guardian.
func (s *Server) viewsByCitizen(ctx context.Context, iin wallet.IIN) ([]wallet.View, error) {
	a, err := s.Views.ViewsByViewer(ctx, wallet.ViewerCitizen, string(iin))
	if err != nil {
		return nil, err
	}
	b, err := s.Views.ViewsByViewer(ctx, wallet.ViewerGuardian, string(iin))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return a, nil
	}
	// Merge, newest first.
	out := make([]wallet.View, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j >= len(b) || (i < len(a) && !a[i].At.Before(b[j].At)) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out, nil
}

// nameCache resolves the names of the parties of a history page once each.
type nameCache struct {
	s     *Server
	names map[string]string
}

func newNameCache(s *Server) *nameCache { return &nameCache{s: s, names: map[string]string{}} }

func (n *nameCache) party(ctx context.Context, kind, id string) *party {
	key := kind + ":" + id
	name, ok := n.names[key]
	if !ok {
		switch kind {
		case wallet.ViewerOrganisation:
			if n.s.ClientName != nil {
				name = n.s.ClientName(ctx, id)
			}
		case wallet.ActorStaff:
			if n.s.Staff != nil {
				if m, err := n.s.Staff.Store.StaffMember(ctx, id); err == nil {
					name = m.Name
				}
			}
		default:
			if cz, err := n.s.Directory.Citizen(ctx, wallet.IIN(id)); err == nil {
				name = cz.Name
			}
		}
		n.names[key] = name
	}
	return &party{Kind: kind, ID: id, Name: name}
}

// EventStore is read for GET /v1/me/history.
type eventItem struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Actor    *party            `json:"actor,omitempty"`
	ObjectID string            `json:"object_id,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
	At       time.Time         `json:"at"`
	LogIndex *int64            `json:"log_index,omitempty"`
}

// history lists the caller's history events other than views: shares opened
// and revoked, codes voided after wrong guesses, consent decisions.
func (s *Server) history(c echo.Context) error {
	ctx := c.Request().Context()
	evs, err := s.Events.Events(ctx, citizenOf(c))
	if err != nil {
		return err
	}
	names := newNameCache(s)
	out := make([]eventItem, 0, len(evs))
	for _, e := range evs {
		it := eventItem{ID: e.ID, Kind: e.Kind, ObjectID: e.ObjectID, Details: e.Details, At: e.At.UTC()}
		if e.ActorKind != "" && e.ActorKind != "system" && e.ActorID != "" {
			it.Actor = names.party(ctx, e.ActorKind, e.ActorID)
		}
		if e.LogIndex >= 0 {
			li := e.LogIndex
			it.LogIndex = &li
		}
		out = append(out, it)
	}
	return c.JSON(http.StatusOK, map[string]any{"events": out})
}
