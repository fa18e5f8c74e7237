package sources

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/qujat/qujat/wallet"
)

// SimOptions configures the simulator. The zero value of every fault serves
// the demo faithfully; Secret is required (with none, every request is
// refused). Faults are keyed by source name; the directory endpoints
// (/v1/citizens/...) belong to the population registry.
type SimOptions struct {
	// Secret is the shared HMAC secret with which clients sign requests.
	Secret string
	// Latency is added before answering, per source.
	Latency SourceDurations
	// FailRate is the share of requests answered 500, per source.
	FailRate SourceRates
	// Fail answers every request of these sources 500.
	Fail SourceSet
	// Garbage answers these sources' requests 200 with malformed JSON.
	Garbage SourceSet
	// Now is the clock against which request dates are checked
	// (default time.Now).
	Now func() time.Time
	// Random returns a number in [0, 1) to decide failures (default
	// math/rand/v2's Float64).
	Random func() float64
}

type simulator struct {
	demo *Demo
	opts SimOptions
	mux  *http.ServeMux
}

// NewSimulator returns a handler serving the demo over the source registry
// protocol (PROTOCOL.md), checking request signatures and injecting the
// faults of opts.
func NewSimulator(demo *Demo, opts SimOptions) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Random == nil {
		opts.Random = rand.Float64
	}
	s := &simulator{demo: demo, opts: opts, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/sources/{source}/subjects/{iin}/records", s.records)
	s.mux.HandleFunc("GET /v1/citizens/{iin}", s.citizen)
	s.mux.HandleFunc("GET /v1/citizens/{iin}/guardians", s.guardians)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, wallet.ENOTFOUND, "no such endpoint")
	})
	return s
}

func (s *simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := VerifyRequest(r, s.opts.Secret, s.opts.Now()); err != nil {
		writeError(w, http.StatusUnauthorized, wallet.EUNAUTHORIZED, wallet.ErrorMessage(err))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// fault applies the faults configured for source and reports whether it
// has answered already.
func (s *simulator) fault(w http.ResponseWriter, r *http.Request, source string) bool {
	if d := s.opts.Latency[source]; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true // the client has gone; nobody reads an answer
		}
	}
	if s.opts.Fail[source] || (s.opts.FailRate[source] > 0 && s.opts.Random() < s.opts.FailRate[source]) {
		writeError(w, http.StatusInternalServerError, wallet.EINTERNAL, "simulated failure of "+source)
		return true
	}
	if s.opts.Garbage[source] {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"records": [{"type": "id_card", "subject": 7, "fields": {`))
		return true
	}
	return false
}

func (s *simulator) records(w http.ResponseWriter, r *http.Request) {
	source := r.PathValue("source")
	src, ok := s.demo.Source(source)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_source", "no source "+source)
		return
	}
	if s.fault(w, r, source) {
		return
	}
	iin, err := wallet.ParseIIN(r.PathValue("iin"))
	if err != nil {
		writeError(w, http.StatusBadRequest, wallet.EINVALID, wallet.ErrorMessage(err))
		return
	}
	rs, err := src.Records(r.Context(), iin)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, wallet.EUNAVAILABLE, wallet.ErrorMessage(err))
		return
	}
	writeJSON(w, http.StatusOK, recordsResponse{Records: rs})
}

func (s *simulator) citizen(w http.ResponseWriter, r *http.Request) {
	if s.fault(w, r, Population) {
		return
	}
	c, err := s.demo.Citizen(r.Context(), wallet.IIN(r.PathValue("iin")))
	if err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *simulator) guardians(w http.ResponseWriter, r *http.Request) {
	if s.fault(w, r, Population) {
		return
	}
	gs, err := s.demo.Guardians(r.Context(), wallet.IIN(r.PathValue("iin")))
	if err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, guardiansResponse{Guardians: gs})
}

// Wire shapes of the protocol.
type (
	recordsResponse struct {
		Records []wallet.Record `json:"records"`
	}
	guardiansResponse struct {
		Guardians []wallet.IIN `json:"guardians"`
	}
	errorResponse struct {
		Error errorBody `json:"error"`
	}
	errorBody struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
)

func writeDomainError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch wallet.ErrorCode(err) {
	case wallet.EINVALID:
		status = http.StatusBadRequest
	case wallet.ENOTFOUND:
		status = http.StatusNotFound
	case wallet.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	}
	writeError(w, status, wallet.ErrorCode(err), wallet.ErrorMessage(err))
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorResponse{Error: errorBody{Code: code, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
