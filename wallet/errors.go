package wallet

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the stable codes of the HTTP API; package api maps
// each to one HTTP status. HTTP statuses never appear in the domain.
const (
	EINVALID      = "invalid_request"      // malformed or missing input
	EUNAUTHORIZED = "unauthorized"         // no, expired or invalid credentials
	EINVALIDCODE  = "invalid_code"         // a wrong OTP or short code
	EFORBIDDEN    = "forbidden"            // authenticated, but not allowed
	ENOTFOUND     = "not_found"            // no such object, or not visible to the caller
	ECONFLICT     = "conflict"             // state does not allow it
	EEXPIRED      = "expired"              // expired, used up or revoked
	ERATELIMITED  = "rate_limited"         // too many attempts
	EIDEMPOTENCY  = "idempotency_mismatch" // an Idempotency-Key reused with another request
	EUNAVAILABLE  = "unavailable"          // a dependency is down; nothing was changed
	EINTERNAL     = "internal"             // a bug
)

// Error is a domain error: a stable code and a message safe to show a client.
// Err, if set, is the underlying cause; it is logged, never shown.
type Error struct {
	Code    string
	Message string
	// RetryAfter is set on ERATELIMITED (and may be on EUNAVAILABLE).
	RetryAfter time.Duration
	// AttemptsLeft is set on EINVALIDCODE when the caller may try again.
	AttemptsLeft int
	Err          error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and message that keeps err as its cause.
func Wrap(code string, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil,
// and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err. Internal errors get a
// generic message so that nothing about internals leaks.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}

// AsError returns the first *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }
