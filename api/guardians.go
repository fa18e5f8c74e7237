package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/wallet"
)

func (s *Server) guardianship() wallet.Guardianship {
	return wallet.Guardianship{Directory: s.Directory, Now: s.Now}
}

// mayActFor returns nil if caller may act for subject (see wallet.Guardianship).
func (s *Server) mayActFor(c echo.Context, caller, subject wallet.IIN) error {
	return s.guardianship().MayActFor(c.Request().Context(), caller, subject)
}

func (s *Server) isGuardianOf(c echo.Context, guardian, ward wallet.IIN) error {
	return s.guardianship().IsGuardianOf(c.Request().Context(), guardian, ward)
}

type wardItem struct {
	IIN       string `json:"iin"`
	Name      string `json:"name"`
	BirthDate string `json:"birth_date"`
}

// listWards lists the minors the caller represents today.
func (s *Server) listWards(c echo.Context) error {
	ctx := c.Request().Context()
	me, err := s.Directory.Citizen(ctx, citizenOf(c))
	if err != nil {
		return err
	}
	out := []wardItem{}
	for _, w := range me.GuardianOf {
		if s.isGuardianOf(c, me.IIN, w) != nil {
			continue
		}
		cz, err := s.Directory.Citizen(ctx, w)
		if err != nil {
			return err
		}
		out = append(out, wardItem{string(cz.IIN), cz.Name, cz.BirthDate.Format(time.DateOnly)})
	}
	return c.JSON(http.StatusOK, map[string]any{"wards": out})
}

// wardDocuments lists a ward's documents for their guardian.
func (s *Server) wardDocuments(c echo.Context) error {
	ward, err := wallet.ParseIIN(c.Param("iin"))
	if err != nil {
		return err
	}
	caller := citizenOf(c)
	if ward == caller {
		return wallet.Errorf(wallet.ENOTFOUND, "no such ward")
	}
	if err := s.isGuardianOf(c, caller, ward); err != nil {
		return err
	}
	docs, err := s.documentsOf(c, ward)
	if err != nil {
		return err
	}
	if err := s.recordGuardianViews(c, caller, docs); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, documentsResponse{Documents: docs})
}

// recordGuardianViews records, before anything is released, one view per
// document in the ward's history, naming the guardian.
func (s *Server) recordGuardianViews(c echo.Context, guardian wallet.IIN, docs []wallet.Document) error {
	ctx := c.Request().Context()
	now := s.Now().UTC()
	for _, d := range docs {
		id, err := wallet.NewID(s.Rand, "vw_")
		if err != nil {
			return wallet.Wrap(wallet.EINTERNAL, err, "could not create id")
		}
		v := wallet.View{
			ID: id, DocumentID: d.ID, DocumentType: d.Type, OwnerIIN: d.SubjectIIN,
			ViewerKind: wallet.ViewerGuardian, ViewerID: string(guardian),
			Channel: wallet.ChannelGuardian, At: now, LogIndex: -1,
		}
		if err := s.Views.RecordView(ctx, v); err != nil {
			return err
		}
	}
	return nil
}
