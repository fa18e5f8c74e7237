// Package httpstatus is the one table from the domain's error codes to
// HTTP statuses, shared by the JSON API and the web pages.
package httpstatus

import (
	"net/http"

	"github.com/qujat/qujat/wallet"
)

var statusOf = map[string]int{
	wallet.EINVALID:      http.StatusBadRequest,
	wallet.EUNAUTHORIZED: http.StatusUnauthorized,
	wallet.EINVALIDCODE:  http.StatusUnauthorized,
	wallet.EFORBIDDEN:    http.StatusForbidden,
	wallet.ENOTFOUND:     http.StatusNotFound,
	wallet.ECONFLICT:     http.StatusConflict,
	wallet.EEXPIRED:      http.StatusGone,
	wallet.ERATELIMITED:  http.StatusTooManyRequests,
	wallet.EIDEMPOTENCY:  http.StatusUnprocessableEntity,
	wallet.EUNAVAILABLE:  http.StatusServiceUnavailable,
	wallet.EINTERNAL:     http.StatusInternalServerError,
}

// Of returns the HTTP status of an error code; 500 for a code it does not
// know.
func Of(code string) int {
	if st, ok := statusOf[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}
