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
	lang, err := answerLanguage(c)
	if err != nil {
		return err
	}
	caller := citizenOf(c)
	if ward == caller {
		return wallet.Errorf(wallet.ENOTFOUND, "no such ward")
	}
	docs, err := s.reads().WardDocuments(c.Request().Context(), caller, ward)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, documentsResponse{Documents: displayForms(lang, nonNil(docs))})
}

// reads is the domain service of document reads by citizens and guardians.
func (s *Server) reads() wallet.DocumentReads {
	return wallet.DocumentReads{Documents: s.Documents, Guardianship: s.guardianship(), Changes: s.Changes, Rand: s.Rand}
}
