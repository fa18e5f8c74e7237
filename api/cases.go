package api

import (
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/cases"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/wallet"
)

// Routes whose bodies may exceed 64 KiB: a case's document upload and the
// exchange's inbound messages (each has its own limit).
const (
	caseDocumentPath = "/v1/centre/cases/:id/documents"
	inboundPath      = "/v1/exchange/inbound"
	maxCaseUpload    = cases.MaxDocument + 64<<10
)

var errDocumentTooLarge = invalidWithStatus{http.StatusRequestEntityTooLarge, "the file is larger than 10 MiB"}

type openCaseRequest struct {
	IIN         string            `json:"iin"`
	Service     string            `json:"service"`
	Agency      string            `json:"agency"`
	Application map[string]string `json:"application"`
}

type caseEventJSON struct {
	Seq    int       `json:"seq"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Note   string    `json:"note,omitempty"`
}

type caseItemJSON struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Title       string `json:"title"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	DuplicateID string `json:"duplicate_id,omitempty"`
	Signature   string `json:"signature"`
}

var (
	errAttachmentType = invalidWithStatus{http.StatusUnsupportedMediaType, "content type must be application/json (a duplicate) or multipart/form-data (a scan)"}
	errInboundType    = invalidWithStatus{http.StatusUnsupportedMediaType, "content type must be " + exchange.MediaType}
)

type caseJSON struct {
	ID           string            `json:"id"`
	IIN          string            `json:"iin"`
	Service      string            `json:"service"`
	Agency       string            `json:"agency"`
	Application  map[string]string `json:"application"`
	Status       string            `json:"status"`
	Items        []caseItemJSON    `json:"documents"`
	PackageID    string            `json:"package_id,omitempty"`
	SentAt       *time.Time        `json:"sent_at"`
	DayOfSending string            `json:"day_of_sending,omitempty"`
	DeliveredAt  *time.Time        `json:"delivered_at"`
	DayOfReceipt string            `json:"day_of_receipt,omitempty"`
	Receipt      *struct {
		JWS string `json:"jws"`
	} `json:"receipt"`
	Rejection *struct {
		Reason string                  `json:"reason"`
		Items  []wallet.CaseItemReason `json:"items"`
	} `json:"rejection"`
	Events   []caseEventJSON `json:"events"`
	Result   *caseResultJSON `json:"result"`
	IssuedAt *time.Time      `json:"issued_at,omitempty"`
	// RetainUntil: once issued, the case's packages, messages and result
	// are kept at least until then.
	RetainUntil *time.Time `json:"retain_until,omitempty"`
	// Delivery: attempts made and the last failure, while queued.
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
}

type caseResultJSON struct {
	DocumentID  string    `json:"document_id"`
	Title       string    `json:"title"`
	ContentType string    `json:"content_type"`
	SHA256      string    `json:"sha256"`
	JWS         string    `json:"jws"`
	ReceivedAt  time.Time `json:"received_at"`
	// WalletDocument is the citizen's document of the result (GET
	// /v1/documents/{id}); Record, when the result is a hosted registry's
	// record, names it and its published page.
	WalletDocument string          `json:"wallet_document,omitempty"`
	Record         *caseRecordJSON `json:"record,omitempty"`
}

type caseRecordJSON struct {
	Registry string `json:"registry"`
	Number   string `json:"number"`
	Page     string `json:"page"`
}

func caseOf(c wallet.Case) caseJSON {
	out := caseJSON{ID: c.ID, IIN: string(c.OwnerIIN), Service: c.Service, Agency: c.AgencyID, Application: c.Application, Status: c.Status,
		PackageID: c.PackageID, SentAt: c.SentAt, DayOfSending: c.DayOfSending, DeliveredAt: c.DeliveredAt, DayOfReceipt: c.DayOfReceipt,
		IssuedAt: c.IssuedAt, RetainUntil: c.RetainUntil, Attempts: c.Attempts, LastError: c.LastError, Items: []caseItemJSON{}, Events: eventsOf(c)}
	for _, it := range c.Items {
		out.Items = append(out.Items, caseItemJSON{ID: it.ID, Kind: it.Kind, Title: it.Title, ContentType: it.ContentType, Size: it.Size,
			SHA256: it.SHA256, DuplicateID: it.DuplicateID, Signature: it.Signature})
	}
	if c.ReceiptJWS != "" {
		out.Receipt = &struct {
			JWS string `json:"jws"`
		}{c.ReceiptJWS}
	}
	if c.Status == wallet.CaseRejected {
		items := c.RejectedItems
		if items == nil {
			items = []wallet.CaseItemReason{}
		}
		out.Rejection = &struct {
			Reason string                  `json:"reason"`
			Items  []wallet.CaseItemReason `json:"items"`
		}{c.RejectionReason, items}
	}
	out.Result = resultOf(c.Result)
	return out
}

// resultOf is a case's result as both the operator and the citizen see it.
func resultOf(r *wallet.CaseResult) *caseResultJSON {
	if r == nil {
		return nil
	}
	out := &caseResultJSON{DocumentID: r.DocumentID, Title: r.Title, ContentType: r.ContentType, SHA256: r.SHA256, JWS: r.JWS,
		ReceivedAt: r.ReceivedAt, WalletDocument: r.WalletDocument}
	if r.Registry != "" {
		out.Record = &caseRecordJSON{Registry: r.Registry, Number: r.Record, Page: registries.RecordPath(r.Registry, r.Record)}
	}
	return out
}

func eventsOf(c wallet.Case) []caseEventJSON {
	out := []caseEventJSON{}
	for _, e := range c.Events {
		out = append(out, caseEventJSON{Seq: e.Seq, Status: e.Status, At: e.At, Note: e.Note})
	}
	return out
}

// openCase opens a draft case (operators of a service centre).
func (s *Server) openCase(c echo.Context) error {
	var req openCaseRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	cs, err := s.Cases.Open(c.Request().Context(), acting(c), cases.Opening{IIN: wallet.IIN(req.IIN), Service: req.Service, Agency: req.Agency, Application: req.Application})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"id": cs.ID, "status": cs.Status})
}

// attachCaseDocument attaches a scan (multipart file and title) or one of
// the citizen's duplicates (JSON {"duplicate_id"}).
func (s *Server) attachCaseDocument(c echo.Context) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil {
		return errAttachmentType
	}
	var a cases.Attachment
	switch mt {
	case echo.MIMEApplicationJSON:
		req.Body = http.MaxBytesReader(c.Response(), req.Body, 64<<10)
		var in struct {
			DuplicateID string `json:"duplicate_id"`
			Title       string `json:"title"`
		}
		if err := bindJSON(c, &in); err != nil {
			return err
		}
		if in.DuplicateID == "" {
			return wallet.Errorf(wallet.EINVALID, "duplicate_id is required")
		}
		a = cases.Attachment{DuplicateID: in.DuplicateID, Title: in.Title}
	case "multipart/form-data":
		req.Body = http.MaxBytesReader(c.Response(), req.Body, maxCaseUpload)
		mr, err := req.MultipartReader()
		if err != nil {
			return wallet.Errorf(wallet.EINVALID, "malformed multipart body")
		}
		hasFile := false
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return uploadReadError(err)
			}
			switch part.FormName() {
			case "file":
				if hasFile {
					return wallet.Errorf(wallet.EINVALID, "one file per document")
				}
				b, err := io.ReadAll(io.LimitReader(part, cases.MaxDocument+1))
				if err != nil {
					return uploadReadError(err)
				}
				if len(b) > cases.MaxDocument {
					return errDocumentTooLarge
				}
				a.Bytes, hasFile = b, true
			case "title":
				b, err := io.ReadAll(io.LimitReader(part, maxField+1))
				if err != nil {
					return uploadReadError(err)
				}
				if len(b) > maxField {
					return wallet.Errorf(wallet.EINVALID, "title is too long")
				}
				a.Title = string(b)
			default:
				return wallet.Errorf(wallet.EINVALID, "unknown form field %q", part.FormName())
			}
		}
		if !hasFile {
			return wallet.Errorf(wallet.EINVALID, "the file is required")
		}
	default:
		return errAttachmentType
	}
	item, err := s.Cases.Attach(req.Context(), acting(c), c.Param("id"), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"id": item.ID, "sha256": item.SHA256, "content_type": item.ContentType})
}

// sendCase seals and queues the case's package.
func (s *Server) sendCase(c echo.Context) error {
	cs, err := s.Cases.Send(c.Request().Context(), acting(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"id": cs.ID, "status": cs.Status, "package_id": cs.PackageID})
}

// getCase shows a case to its centre's operators.
func (s *Server) getCase(c echo.Context) error {
	cs, err := s.Cases.Get(c.Request().Context(), acting(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, caseOf(cs))
}

// issueCase records that the result was handed over.
func (s *Server) issueCase(c echo.Context) error {
	cs, err := s.Cases.Issue(c.Request().Context(), acting(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"id": cs.ID, "status": cs.Status})
}

type myCaseJSON struct {
	ID      string `json:"id"`
	Service string `json:"service"`
	Agency  struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"agency"`
	Status       string          `json:"status"`
	SentAt       *time.Time      `json:"sent_at"`
	DayOfReceipt string          `json:"day_of_receipt,omitempty"`
	Events       []caseEventJSON `json:"events"`
	Result       *caseResultJSON `json:"result"`
}

// myCases lists the citizen's cases with their events.
func (s *Server) myCases(c echo.Context) error {
	list, err := s.Cases.OfCitizen(c.Request().Context(), citizenOf(c))
	if err != nil {
		return err
	}
	out := []myCaseJSON{}
	for _, cs := range list {
		j := myCaseJSON{ID: cs.ID, Service: cs.Service, Status: cs.Status, SentAt: cs.SentAt, DayOfReceipt: cs.DayOfReceipt, Events: eventsOf(cs)}
		j.Agency.ID = cs.AgencyID
		if s.ClientName != nil {
			j.Agency.Name = s.ClientName(c.Request().Context(), cs.AgencyID)
		}
		j.Result = resultOf(cs.Result)
		out = append(out, j)
	}
	return c.JSON(http.StatusOK, map[string][]myCaseJSON{"cases": out})
}

// exchangeInbound takes an agency's signed message: 200 with the centre's
// signed receipt, or 422 with its signed rejection (application/jose).
func (s *Server) exchangeInbound(c echo.Context) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || (mt != exchange.MediaType && mt != "application/jwt" && mt != "text/plain") {
		return errInboundType
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, cases.MaxInbound+1))
	if err != nil {
		return wallet.Errorf(wallet.EINVALID, "cannot read the body")
	}
	if len(b) > cases.MaxInbound {
		return invalidWithStatus{http.StatusRequestEntityTooLarge, "the message is too large"}
	}
	ans, err := s.Cases.Inbound(req.Context(), strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !ans.Accepted {
		status = http.StatusUnprocessableEntity
	}
	return c.Blob(status, exchange.MediaType, []byte(ans.JWS))
}

// exchangeKeys publishes the centres' exchange keys.
func (s *Server) exchangeKeys(c echo.Context) error {
	keys, err := s.Cases.PublishedKeys(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=60")
	return c.JSON(http.StatusOK, map[string][]exchange.PublishedKey{"keys": keys})
}

// myCaseResult returns the agency's result document byte for byte.
func (s *Server) myCaseResult(c echo.Context) error {
	b, err := s.Cases.ResultOf(c.Request().Context(), citizenOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return sendScan(c, b)
}

// caseEvidence gives an operator of the case's centre everything kept of
// it with every signature checked again.
func (s *Server) caseEvidence(c echo.Context) error {
	ev, err := s.Cases.EvidenceFor(c.Request().Context(), acting(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, ev)
}
