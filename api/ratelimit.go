package api

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/wallet"
)

// Per-address limit on asking for sign-in codes: each request may send an
// SMS, so one address must not be able to make the service send many (the
// per-phone limit of the OTP service bounds what one phone receives).
const (
	signInRequestsPerAddress = 60
	signInAddressWindow      = 10 * time.Minute
)

// limitByAddress counts one request of kind from the caller's address and
// refuses it with ERATELIMITED once max were made in window. If the counter
// store cannot be reached it fails closed (EUNAVAILABLE).
func (s *Server) limitByAddress(kind string, max int64, window time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if s.Counters == nil {
				return next(c)
			}
			n, ttl, err := s.Counters.Incr(c.Request().Context(), "rl:"+kind+":"+c.RealIP(), window)
			if err != nil {
				return err
			}
			if n > max {
				return &wallet.Error{Code: wallet.ERATELIMITED, Message: "too many requests from this address; try later", RetryAfter: ttl}
			}
			return next(c)
		}
	}
}

// Per-citizen limits on the operations that make work for the service on a
// signed-in citizen's word alone: opening a share (a row, a code and a
// history event each), drawing a share's QR image (CPU for each PNG) and
// refreshing documents (a call to every source). Each is a fixed window
// counted per citizen, whatever the address or session.
const (
	sharesOpenedPerCitizen = 30
	sharesOpenedWindow     = 10 * time.Minute

	qrImagesPerCitizen = 60
	qrImagesWindow     = 10 * time.Minute

	refreshesPerCitizen = 10
	refreshesWindow     = 10 * time.Minute
)

// limitByCitizen counts one request of kind from the signed-in citizen
// (under rl:citizen:<kind>:<IIN>) and refuses it with ERATELIMITED once max
// were made in window. It runs after citizenOnly. If the counter store
// cannot be reached it fails closed (EUNAVAILABLE).
func (s *Server) limitByCitizen(kind string, max int64, window time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			iin := citizenOf(c)
			if s.Counters == nil || iin == "" || s.NoCitizenLimits {
				return next(c)
			}
			n, ttl, err := s.Counters.Incr(c.Request().Context(), "rl:citizen:"+kind+":"+string(iin), window)
			if err != nil {
				return err
			}
			if n > max {
				return &wallet.Error{Code: wallet.ERATELIMITED, Message: "too many requests from this citizen; try later", RetryAfter: ttl}
			}
			return next(c)
		}
	}
}
