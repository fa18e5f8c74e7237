package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/internal/httpstatus"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/web"
)

// errorBody is the shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	AttemptsLeft *int   `json:"attempts_left,omitempty"`
}

// handleError is echo's error handler: every error, from a handler, a
// middleware or echo itself, leaves as API.md's error shape.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if s.Pages != nil && web.IsPage(c.Request()) {
		// Raised before a page's handler (body limit, routing): a page too.
		_ = s.Pages.RenderError(c, err)
		return
	}
	code, status, msg := wallet.EINTERNAL, http.StatusInternalServerError, "internal error"
	var attemptsLeft *int
	var he *echo.HTTPError
	var ie invalidWithStatus
	if errors.As(err, &ie) {
		// An invalid request answered with a status of its own (413, 415)
		// and a message saying which limit.
		code, status, msg = wallet.EINVALID, ie.status, ie.msg
	} else if errors.As(err, &he) && wallet.AsError(err) == nil {
		// Errors raised by echo itself (routing, body limit, ...).
		status = he.Code
		switch he.Code {
		case http.StatusNotFound:
			code, msg = wallet.ENOTFOUND, "no such resource"
		case http.StatusMethodNotAllowed:
			code, msg = wallet.ENOTFOUND, "method not allowed on this resource"
		case http.StatusRequestEntityTooLarge:
			code, msg = wallet.EINVALID, "request body too large (limit 64 KiB)"
		case http.StatusUnsupportedMediaType:
			code, msg = wallet.EINVALID, "content type must be application/json"
		case http.StatusUnauthorized:
			code, msg = wallet.EUNAUTHORIZED, "authentication required"
		case http.StatusBadRequest:
			code, msg = wallet.EINVALID, "bad request"
		default:
			if he.Code >= 500 {
				status = http.StatusInternalServerError
				code, msg = wallet.EINTERNAL, "internal error"
			} else {
				code, msg = wallet.EINVALID, http.StatusText(he.Code)
			}
		}
	} else {
		code = wallet.ErrorCode(err)
		msg = wallet.ErrorMessage(err)
		status = httpstatus.Of(code)
		if e := wallet.AsError(err); e != nil {
			if e.Code == wallet.ERATELIMITED && e.RetryAfter > 0 {
				secs := int(e.RetryAfter.Seconds() + 0.999)
				if secs < 1 {
					secs = 1
				}
				c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			}
			if e.Code == wallet.EINVALIDCODE && e.AttemptsLeft >= 0 {
				n := e.AttemptsLeft
				attemptsLeft = &n
			}
		}
	}
	if code == wallet.EINTERNAL {
		s.log.ErrorContext(c.Request().Context(), "internal error",
			slog.String("request_id", requestID(c)), slog.String("error", err.Error()))
	}
	body := errorBody{Error: errorDetail{Code: code, Message: msg, AttemptsLeft: attemptsLeft}}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}
