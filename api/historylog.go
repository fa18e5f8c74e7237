package api

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
)

// logCheckpoint serves the latest signed checkpoint (C2SP tlog-checkpoint).
func (s *Server) logCheckpoint(c echo.Context) error {
	cp, err := s.HistoryLog.Checkpoint(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", cp)
}

// logKey publishes the note verifier key of the checkpoints.
func (s *Server) logKey(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{
		"origin": s.HistoryLog.Origin(), "verifier_key": s.HistoryLog.VerifierKey(),
	})
}

func int64Param(v, name string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, wallet.Errorf(wallet.EINVALID, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// logLeaf shows a leaf to a party of its event (its owner, its viewer, the
// organisation), 404 to anyone else.
func (s *Server) logLeaf(c echo.Context) error {
	index, err := int64Param(c.Param("index"), "index")
	if err != nil {
		return err
	}
	var subject string
	if iin := citizenOf(c); iin != "" {
		subject = history.CitizenSubject(iin)
	} else {
		subject = history.OrganisationSubject(clientOf(c))
	}
	leaf, raw, err := s.HistoryLog.Leaf(c.Request().Context(), index)
	if err != nil {
		if wallet.IsCode(err, wallet.ENOTFOUND) || wallet.IsCode(err, wallet.EINVALID) {
			return wallet.Errorf(wallet.ENOTFOUND, "no such leaf")
		}
		return err
	}
	if !leaf.HasParty(s.HistoryLog.Pseudonym(subject)) {
		return wallet.Errorf(wallet.ENOTFOUND, "no such leaf")
	}
	return c.JSON(http.StatusOK, map[string]any{"index": index, "leaf": base64.StdEncoding.EncodeToString(raw)})
}

// logInclusion proves that leaf index is in the tree of size.
func (s *Server) logInclusion(c echo.Context) error {
	index, err := int64Param(c.QueryParam("index"), "index")
	if err != nil {
		return err
	}
	size, err := int64Param(c.QueryParam("size"), "size")
	if err != nil {
		return err
	}
	p, err := s.HistoryLog.InclusionProof(c.Request().Context(), index, size)
	if err != nil {
		return err
	}
	proof := make([]string, len(p.Proof))
	for i, h := range p.Proof {
		proof[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return c.JSON(http.StatusOK, map[string]any{
		"index": p.Index, "size": p.Size, "leaf_hash": base64.StdEncoding.EncodeToString(p.LeafHash[:]), "proof": proof,
	})
}

// logConsistency proves that the tree of size from is a prefix of the tree of size to.
func (s *Server) logConsistency(c echo.Context) error {
	from, err := int64Param(c.QueryParam("from"), "from")
	if err != nil {
		return err
	}
	to, err := int64Param(c.QueryParam("to"), "to")
	if err != nil {
		return err
	}
	p, err := s.HistoryLog.ConsistencyProof(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	proof := make([]string, len(p))
	for i, h := range p {
		proof[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return c.JSON(http.StatusOK, map[string]any{"from": from, "to": to, "proof": proof})
}
