package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/wallet"
)

// maxBody is the largest request body accepted (API.md: 64 KiB).
const maxBody = 64 << 10

// BindJSON is bindJSON, for an HTTP baseline that must bind requests
// exactly as the API does (qujat bench's http-echo-post).
func BindJSON(c echo.Context, v any) error { return bindJSON(c, v) }

// bindJSON decodes the request body into v strictly: the content type must be
// JSON, the body one JSON object with no unknown fields, where field names
// must match exactly (encoding/json alone would accept "IIN" for "iin").
func bindJSON(c echo.Context, v any) error {
	req := c.Request()
	ct := req.Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he
		}
		return wallet.Errorf(wallet.EINVALID, "could not read the request body")
	}
	if len(body) > maxBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return wallet.Errorf(wallet.EINVALID, "body must be a JSON object")
	}
	allowed := jsonFieldNames(reflect.TypeOf(v))
	for k := range raw {
		if _, ok := allowed[k]; !ok {
			return wallet.Errorf(wallet.EINVALID, "unknown field %q", k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return wallet.Errorf(wallet.EINVALID, "field %q has the wrong type", te.Field)
		}
		return wallet.Errorf(wallet.EINVALID, "malformed JSON body")
	}
	return nil
}

// bindOptionalJSON is bindJSON for endpoints whose body may be empty.
func bindOptionalJSON(c echo.Context, v any) error {
	if c.Request().ContentLength == 0 && c.Request().Header.Get(echo.HeaderContentType) == "" {
		return nil
	}
	return bindJSON(c, v)
}

// fieldNames caches jsonFieldNames by type: request types are few and fixed,
// and their names are read on every request.
var fieldNames sync.Map // reflect.Type → map[string]struct{}, read only

// jsonFieldNames returns the JSON names of t's fields (through pointers).
// The map is shared: callers only read it.
func jsonFieldNames(t reflect.Type) map[string]struct{} {
	if names, ok := fieldNames.Load(t); ok {
		return names.(map[string]struct{})
	}
	names, _ := fieldNames.LoadOrStore(t, readFieldNames(t))
	return names.(map[string]struct{})
}

func readFieldNames(t reflect.Type) map[string]struct{} {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	names := map[string]struct{}{}
	if t.Kind() != reflect.Struct {
		return names
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = struct{}{}
	}
	return names
}
