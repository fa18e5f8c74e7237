package api

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/duplicates"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// duplicateUploadPath is the one route whose body may exceed 64 KiB.
const duplicateUploadPath = "/v1/centre/duplicates"

// maxUploadBody bounds a duplicate upload's whole body: the scan and room
// for the form's fields and part headers.
const maxUploadBody = duplicates.MaxScan + 64<<10

// maxField bounds each text field of the upload form.
const maxField = 1 << 10

// invalidWithStatus is an invalid request answered with its own status
// (413, 415) and a message naming the limit.
type invalidWithStatus struct {
	status int
	msg    string
}

func (e invalidWithStatus) Error() string { return e.msg }

var (
	errScanTooLarge = invalidWithStatus{http.StatusRequestEntityTooLarge, "the scan is larger than 10 MiB"}
	errScanType     = invalidWithStatus{http.StatusUnsupportedMediaType, "the scan is not a PDF, JPEG or PNG (judged by its content)"}
	errNotMultipart = invalidWithStatus{http.StatusUnsupportedMediaType, "content type must be multipart/form-data"}
)

type duplicateTypeJSON struct {
	Code  string            `json:"code"`
	Title map[string]string `json:"title"`
}

// duplicateTypes lists the document types of which duplicates are made.
func (s *Server) duplicateTypes(c echo.Context) error {
	out := []duplicateTypeJSON{}
	for _, t := range locale.DuplicateTypes() {
		title := map[string]string{}
		for l, v := range t.Title {
			title[string(l)] = v
		}
		out = append(out, duplicateTypeJSON{Code: t.Code, Title: title})
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.JSON(http.StatusOK, map[string][]duplicateTypeJSON{"types": out})
}

// readUpload reads the multipart form of an upload: its text fields and
// the scan, within their limits.
func readUpload(c echo.Context) (duplicates.Upload, error) {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != "multipart/form-data" {
		return duplicates.Upload{}, errNotMultipart
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxUploadBody)
	mr, err := req.MultipartReader()
	if err != nil {
		return duplicates.Upload{}, wallet.Errorf(wallet.EINVALID, "malformed multipart body")
	}
	var (
		in      duplicates.Upload
		hasScan bool
	)
	fields := map[string]*string{"iin": (*string)(&in.IIN), "type": &in.Type, "number": &in.Number, "issued_on": &in.IssuedOn, "issued_by": &in.IssuedBy}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return duplicates.Upload{}, uploadReadError(err)
		}
		name := part.FormName()
		switch {
		case name == "scan":
			if hasScan {
				return duplicates.Upload{}, wallet.Errorf(wallet.EINVALID, "one scan per duplicate")
			}
			b, err := io.ReadAll(io.LimitReader(part, duplicates.MaxScan+1))
			if err != nil {
				return duplicates.Upload{}, uploadReadError(err)
			}
			if len(b) > duplicates.MaxScan {
				return duplicates.Upload{}, errScanTooLarge
			}
			in.Scan, hasScan = b, true
		case fields[name] != nil:
			b, err := io.ReadAll(io.LimitReader(part, maxField+1))
			if err != nil {
				return duplicates.Upload{}, uploadReadError(err)
			}
			if len(b) > maxField {
				return duplicates.Upload{}, wallet.Errorf(wallet.EINVALID, "field %s is too long", name)
			}
			*fields[name] = string(b)
		default:
			return duplicates.Upload{}, wallet.Errorf(wallet.EINVALID, "unknown form field %q", name)
		}
	}
	if !hasScan || len(in.Scan) == 0 {
		return duplicates.Upload{}, wallet.Errorf(wallet.EINVALID, "the file scan is required")
	}
	if _, ok := duplicates.ScanType(in.Scan); !ok {
		return duplicates.Upload{}, errScanType
	}
	return in, nil
}

func uploadReadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errScanTooLarge
	}
	return wallet.Errorf(wallet.EINVALID, "malformed multipart body")
}

type uploadResponse struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expires_at"`
}

// uploadDuplicate takes an operator's scan and sends the owner the consent
// code.
func (s *Server) uploadDuplicate(c echo.Context) error {
	in, err := readUpload(c)
	if err != nil {
		return err
	}
	d, err := s.Duplicates.Request(c.Request().Context(), acting(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, uploadResponse{ID: d.ID, Status: d.Status, ExpiresAt: d.ExpiresAt})
}

type confirmRequest struct {
	Code string `json:"code"`
}

type certifiedResponse struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	CertifiedAt *time.Time `json:"certified_at"`
	RetainUntil *time.Time `json:"retain_until"`
	JWS         string     `json:"jws"`
}

// confirmDuplicate checks the owner's code and certifies the duplicate.
func (s *Server) confirmDuplicate(c echo.Context) error {
	var req confirmRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	d, err := s.Duplicates.Confirm(c.Request().Context(), acting(c), c.Param("id"), req.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, certifiedResponse{ID: d.ID, Status: d.Status, CertifiedAt: d.CertifiedAt, RetainUntil: d.RetainUntil, JWS: d.JWS})
}

// duplicateJSON is a duplicate as its owner, its centre and state bodies
// see it (metadata; the JWS only where asked).
type duplicateJSON struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Number      string     `json:"number"`
	IssuedOn    string     `json:"issued_on"`
	IssuedBy    string     `json:"issued_by"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	CertifiedAt *time.Time `json:"certified_at"`
	RetainUntil *time.Time `json:"retain_until"`
	PurgedAt    *time.Time `json:"purged_at,omitempty"`
	SHA256      string     `json:"sha256"`
	ContentType string     `json:"content_type"`
	Size        int64      `json:"size"`
	Operator    partyJSON  `json:"operator"`
	Centre      partyJSON  `json:"centre"`
	JWS         string     `json:"jws,omitempty"`
}

type partyJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// duplicateOf renders d, naming its operator and centre.
func (s *Server) duplicateOf(c echo.Context, d wallet.Duplicate, withJWS bool) duplicateJSON {
	ctx := c.Request().Context()
	out := duplicateJSON{
		ID: d.ID, Type: d.Type, Number: d.Number, IssuedOn: d.IssuedOn, IssuedBy: d.IssuedBy, Status: d.Status,
		CreatedAt: d.CreatedAt, CertifiedAt: d.CertifiedAt, RetainUntil: d.RetainUntil, PurgedAt: d.PurgedAt,
		SHA256: d.SHA256, ContentType: d.ContentType, Size: d.Size,
		Operator: partyJSON{ID: d.OperatorID}, Centre: partyJSON{ID: d.CentreID},
	}
	if s.Staff != nil {
		if a, err := s.Staff.Store.StaffMember(ctx, d.OperatorID); err == nil {
			out.Operator.Name = a.Name
		}
	}
	if s.ClientName != nil {
		out.Centre.Name = s.ClientName(ctx, d.CentreID)
	}
	if withJWS {
		out.JWS = d.JWS
	}
	return out
}

// centreDuplicates lists the duplicates made at the operator's centre.
func (s *Server) centreDuplicates(c echo.Context) error {
	ds, err := s.Duplicates.OfCentre(c.Request().Context(), acting(c), wallet.IIN(c.QueryParam("iin")))
	if err != nil {
		return err
	}
	out := make([]duplicateJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, s.duplicateOf(c, d, false))
	}
	return c.JSON(http.StatusOK, map[string][]duplicateJSON{"duplicates": out})
}

// myDuplicates lists the citizen's own duplicates.
func (s *Server) myDuplicates(c echo.Context) error {
	ds, err := s.Duplicates.OfOwner(c.Request().Context(), citizenOf(c))
	if err != nil {
		return err
	}
	out := make([]duplicateJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, s.duplicateOf(c, d, false))
	}
	return c.JSON(http.StatusOK, map[string][]duplicateJSON{"duplicates": out})
}

// myDuplicate returns one of the citizen's own duplicates with its JWS.
func (s *Server) myDuplicate(c echo.Context) error {
	d, err := s.Duplicates.OwnersDuplicate(c.Request().Context(), citizenOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.duplicateOf(c, d, true))
}

// sendScan answers with the scan's exact bytes, never to be cached.
func sendScan(c echo.Context, b wallet.Blob) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, b.ContentType, b.Data)
}

// myDuplicateScan returns the citizen's own scan, byte for byte.
func (s *Server) myDuplicateScan(c echo.Context) error {
	_, b, err := s.Duplicates.OwnersScan(c.Request().Context(), citizenOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return sendScan(c, b)
}

// shareDuplicate refuses: duplicates are never shared with third parties.
func (s *Server) shareDuplicate(c echo.Context) error {
	return wallet.Errorf(wallet.EFORBIDDEN, "duplicates are never shared with third parties")
}

// callingClient returns the organisation admitted by organisationOnly.
func (s *Server) callingClient(c echo.Context) (wallet.Client, error) {
	id, _ := c.Get(ctxClient).(string)
	return s.Consents.Client(c.Request().Context(), id)
}

// govDuplicates lists a citizen's duplicates to a state body with a basis.
func (s *Server) govDuplicates(c echo.Context) error {
	body, err := s.callingClient(c)
	if err != nil {
		return err
	}
	ds, err := s.Duplicates.ForStateBody(c.Request().Context(), body, wallet.IIN(c.QueryParam("iin")), c.QueryParam("basis"))
	if err != nil {
		return err
	}
	out := make([]duplicateJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, s.duplicateOf(c, d, false))
	}
	return c.JSON(http.StatusOK, map[string][]duplicateJSON{"duplicates": out})
}

// govDuplicateScan releases a scan to a state body with a basis: a view in
// both histories.
func (s *Server) govDuplicateScan(c echo.Context) error {
	body, err := s.callingClient(c)
	if err != nil {
		return err
	}
	_, b, v, err := s.Duplicates.ScanForStateBody(c.Request().Context(), body, c.Param("id"), c.QueryParam("basis"))
	if err != nil {
		return err
	}
	if v.LogIndex >= 0 {
		c.Response().Header().Set("X-Qujat-Log-Index", strconv.FormatInt(v.LogIndex, 10))
	}
	return sendScan(c, b)
}
