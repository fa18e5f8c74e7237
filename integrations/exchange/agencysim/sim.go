package agencysim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/calendar"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/wallet"
)

var cryptoSHA256 = crypto.SHA256

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Config of a simulator. Keys, Qujat and StateDir are required.
type Config struct {
	Keys     *Keys
	Qujat    string // the service's base URL (keys, inbound endpoint)
	StateDir string // receipts and progress, so that a restart goes on
	// Delay is the wait before each status and before the result.
	Delay time.Duration
	// RejectRate is the share of packages rejected (0..1), chosen by the
	// package id so that a redelivery gets the same answer.
	RejectRate float64
	// TamperResult changes a byte of each result's signature.
	TamperResult bool
	// Slow is how long each answer to a package waits.
	Slow time.Duration
	// DropAfter drops the connection of the first N packages after
	// processing them (receipt stored, none sent).
	DropAfter int
	Calendar  *calendar.Calendar
	Location  *time.Location
	Client    *http.Client
	Now       func() time.Time
	Log       *slog.Logger
}

// Sim is a running simulated agency.
type Sim struct {
	cfg     Config
	mu      sync.Mutex
	dropped int
	keys    map[string]centreKey // the centre's published keys by kid
	wake    chan struct{}
}

type centreKey struct {
	jwk           jose.JSONWebKey
	compromisedAt *time.Time
}

// Progress is what the simulator keeps of one package.
type Progress struct {
	PackageID    string    `json:"package_id"`
	CaseID       string    `json:"case_id"`
	Agency       string    `json:"agency"`
	Applicant    string    `json:"applicant"` // the citizen's IIN, whom the result is for
	ReplyKey     string    `json:"reply_key"`
	Receipt      string    `json:"receipt"`
	Accepted     bool      `json:"accepted"`
	ReceivedAt   time.Time `json:"received_at"`
	DayOfReceipt string    `json:"day_of_receipt"`
	Items        []string  `json:"items"`
	Step         int       `json:"step"` // messages the centre has accepted: 0..3
	// Pending is the next message exactly as first sent: a message sent
	// again is sent byte for byte (the centre answers it as before).
	Pending string `json:"pending,omitempty"`
	// Answers are the centre's answers (receipts or rejections) to the
	// messages sent, in order.
	Answers []string `json:"answers"`
	// Refused is the reason the centre gave for refusing a message, after
	// which nothing more is sent for the package.
	Refused string `json:"refused,omitempty"`
}

// New makes a simulator.
func New(cfg Config) (*Sim, error) {
	if cfg.Keys == nil || cfg.Qujat == "" || cfg.StateDir == "" {
		return nil, fmt.Errorf("agency-sim: keys, the service's URL and a state directory are required")
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "packages"), 0o700); err != nil {
		return nil, err
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Calendar == nil {
		c, err := calendar.Embedded().Get("kz")
		if err != nil {
			return nil, err
		}
		cfg.Calendar = c
	}
	if cfg.Location == nil {
		cfg.Location = cfg.Calendar.Location
	}
	cfg.Qujat = strings.TrimRight(cfg.Qujat, "/")
	return &Sim{cfg: cfg, keys: map[string]centreKey{}, wake: make(chan struct{}, 1)}, nil
}

// Handler serves POST /packages (the endpoint to register), GET
// /packages/{id} (the simulator's progress, for people and tests) and
// GET /healthz.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /packages", s.takePackage)
	mux.HandleFunc("GET /packages/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, err := s.load(r.PathValue("id"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

func (s *Sim) path(pkg string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, pkg)
	return filepath.Join(s.cfg.StateDir, "packages", safe+".json")
}

func (s *Sim) load(pkg string) (Progress, error) {
	var p Progress
	b, err := os.ReadFile(s.path(pkg))
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal(b, &p)
}

// save writes p durably (a temporary file renamed over the old).
func (s *Sim) save(p Progress) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path(p.PackageID) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, s.path(p.PackageID))
}

// centreKeys fetches the service's published exchange keys.
func (s *Sim) refreshKeys(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Qujat+"/.well-known/exchange-keys.json", nil)
	if err != nil {
		return err
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("exchange keys: %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return err
	}
	keys := map[string]centreKey{}
	for _, raw := range set.Keys {
		var j jose.JSONWebKey
		if err := j.UnmarshalJSON(raw); err != nil {
			continue
		}
		var extra struct {
			CompromisedAt *time.Time `json:"compromised_at"`
		}
		_ = json.Unmarshal(raw, &extra)
		keys[j.KeyID] = centreKey{jwk: j, compromisedAt: extra.CompromisedAt}
	}
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
	return nil
}

// centreKey returns the centre's key of that kid, fetching the keys again
// for a kid not seen yet.
func (s *Sim) centreKey(ctx context.Context, kid string) (centreKey, bool) {
	s.mu.Lock()
	k, ok := s.keys[kid]
	s.mu.Unlock()
	if ok {
		return k, true
	}
	if err := s.refreshKeys(ctx); err != nil {
		s.cfg.Log.Warn("agency-sim: cannot fetch the centre's keys", "err", err)
		return centreKey{}, false
	}
	s.mu.Lock()
	k, ok = s.keys[kid]
	s.mu.Unlock()
	return k, ok
}

// takePackage opens a package and answers with a signed receipt: the
// stored one for a package it has, else a new one (accepted, or rejected
// with reasons).
func (s *Sim) takePackage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, "cannot read", http.StatusBadRequest)
		return
	}
	jwe := strings.TrimSpace(string(body))
	now := s.cfg.Now().UTC()
	if !exchange.IsJWE(jwe) {
		s.takeNotice(w, r, jwe, now)
		return
	}
	opened, err := exchange.OpenPackage(jwe, func(kid string) (*ecdsa.PrivateKey, bool) {
		if kid != s.cfg.Keys.EncKID {
			return nil, false
		}
		return s.cfg.Keys.Enc, true
	}, func(kid string) (crypto.PublicKey, error) {
		k, ok := s.centreKey(ctx, kid)
		if !ok || k.jwk.Use != wallet.KeyUseSig {
			return nil, &exchange.Rejected{Reason: exchange.ReasonUnknownKey}
		}
		if k.compromisedAt != nil && !now.Before(*k.compromisedAt) {
			return nil, &exchange.Rejected{Reason: exchange.ReasonKeyCompromised}
		}
		return k.jwk.Key, nil
	})
	if err != nil {
		// Not a package one can even attribute: a signed rejection, not kept.
		s.answer(w, r, exchange.Receipt{Of: "package", Digest: exchange.Digest([]byte(jwe)), Status: exchange.StatusRejected,
			Reason: exchange.ReasonOf(err), ReceivedAt: now}, false)
		return
	}
	m := opened.Manifest
	if opKey, err := exchange.ParsePublicJWK(m.Operator.Key, wallet.KeyUseSig); err == nil {
		if at, ok := s.compromised()[opKey.KeyID]; ok && !now.Before(at) {
			s.answer(w, r, exchange.Receipt{Of: "package", ID: m.PackageID, CaseID: m.CaseID, Digest: exchange.Digest([]byte(jwe)),
				Status: exchange.StatusRejected, Reason: exchange.ReasonKeyCompromised, Issuer: m.Agency.ID, ReceivedAt: now}, false)
			return
		}
	}
	if p, err := s.load(m.PackageID); err == nil {
		s.slow()
		w.Header().Set("Content-Type", exchange.MediaType)
		status := http.StatusOK
		if !p.Accepted {
			status = http.StatusUnprocessableEntity
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, p.Receipt)
		return
	}
	day, err := s.cfg.Calendar.ReceiptDay(now, s.cfg.Location)
	dayS := ""
	if err == nil {
		dayS = day.String()
	}
	rec := exchange.Receipt{Of: "package", ID: m.PackageID, CaseID: m.CaseID, Digest: exchange.Digest([]byte(jwe)), Status: exchange.StatusAccepted,
		Issuer: m.Agency.ID, ReceivedAt: now, DayOfReceipt: dayS}
	for id, prob := range opened.ItemProblems {
		rec.Items = append(rec.Items, exchange.ItemReason{ID: id, Reason: prob})
	}
	if len(rec.Items) > 0 {
		rec.Status, rec.Reason = exchange.StatusRejected, "items"
	} else if s.rejects(m.PackageID) {
		rec.Status, rec.Reason = exchange.StatusRejected, "items"
		target := m.Items[len(m.Items)-1].ID
		rec.Items = []exchange.ItemReason{{ID: target, Reason: "illegible"}}
	}
	key := wallet.IssuerKey{KID: s.cfg.Keys.SigKID, Alg: wallet.AlgES256, Key: s.cfg.Keys.Sig}
	jws, err := exchange.SignReceipt(rec, key)
	if err != nil {
		http.Error(w, "cannot sign", http.StatusInternalServerError)
		return
	}
	items := make([]string, 0, len(m.Items))
	for _, it := range m.Items {
		items = append(items, it.ID)
	}
	p := Progress{PackageID: m.PackageID, CaseID: m.CaseID, Agency: m.Agency.ID, ReplyKey: m.ReplyKey, Receipt: jws,
		Applicant: m.Applicant.IIN,
		Accepted:  rec.Status == exchange.StatusAccepted, ReceivedAt: now, DayOfReceipt: dayS, Items: items}
	if err := s.save(p); err != nil {
		http.Error(w, "cannot keep", http.StatusServiceUnavailable)
		return
	}
	s.Wake()
	s.mu.Lock()
	drop := s.dropped < s.cfg.DropAfter
	if drop {
		s.dropped++
	}
	s.mu.Unlock()
	if drop {
		// Processed and kept, but the centre never hears: it must deliver
		// again and get this same receipt.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	s.slow()
	w.Header().Set("Content-Type", exchange.MediaType)
	status := http.StatusOK
	if !p.Accepted {
		status = http.StatusUnprocessableEntity
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, jws)
}

func (s *Sim) slow() {
	if s.cfg.Slow > 0 {
		time.Sleep(s.cfg.Slow)
	}
}

func (s *Sim) rejects(pkg string) bool {
	if s.cfg.RejectRate <= 0 {
		return false
	}
	h := sha256.Sum256([]byte(pkg))
	return float64(binary.BigEndian.Uint64(h[:8]))/float64(^uint64(0)) < s.cfg.RejectRate
}

func (s *Sim) answer(w http.ResponseWriter, r *http.Request, rec exchange.Receipt, ok bool) {
	key := wallet.IssuerKey{KID: s.cfg.Keys.SigKID, Alg: wallet.AlgES256, Key: s.cfg.Keys.Sig}
	jws, err := exchange.SignReceipt(rec, key)
	if err != nil {
		http.Error(w, "cannot sign", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", exchange.MediaType)
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusUnprocessableEntity)
	}
	_, _ = io.WriteString(w, jws)
}

// Wake makes Run look at the packages now.
func (s *Sim) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends the statuses and results that are due until ctx is done.
func (s *Sim) Run(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		s.Pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// Pass sends, for every accepted package, the next message that is due.
func (s *Sim) Pass(ctx context.Context) {
	entries, err := os.ReadDir(filepath.Join(s.cfg.StateDir, "packages"))
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p, err := s.load(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil || !p.Accepted || p.Refused != "" || p.Step >= 3 {
			continue
		}
		if s.cfg.Now().Before(p.ReceivedAt.Add(time.Duration(p.Step+1) * s.cfg.Delay)) {
			continue
		}
		if err := s.send(ctx, &p); err != nil {
			s.cfg.Log.Info("agency-sim: message not delivered, will retry", "package", p.PackageID, "step", p.Step, "err", err)
		}
	}
}

// send sends the package's next message and records the centre's answer.
func (s *Sim) send(ctx context.Context, p *Progress) error {
	steps := []struct{ typ, status, note string }{
		{exchange.MessageStatus, "registered", "registered by the agency"},
		{exchange.MessageStatus, "in_progress", "under review"},
		{exchange.MessageResult, "", ""},
	}
	st := steps[p.Step]
	// The message's time is fixed by the package, so that a message sent
	// again is the same message (the centre answers it as before).
	at := p.ReceivedAt.Add(time.Duration(p.Step+1) * s.cfg.Delay).UTC().Truncate(time.Millisecond)
	m := exchange.Message{Type: st.typ, MessageID: fmt.Sprintf("%s-%d", p.PackageID, p.Step+1), Issuer: p.Agency, CaseID: p.CaseID,
		PackageID: p.PackageID, Status: st.status, Note: st.note, At: at}
	body := p.Pending
	if body == "" {
		var err error
		if body, err = s.build(ctx, p, m, st.typ); err != nil {
			return err
		}
		p.Pending = body
		if err := s.save(*p); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Qujat+"/v1/exchange/inbound", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", exchange.MediaType)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnprocessableEntity {
		return fmt.Errorf("the centre answered %d", resp.StatusCode)
	}
	answer := string(bytes.TrimSpace(ans))
	rec, _, err := exchange.VerifyReceipt(answer, func(kid string) (crypto.PublicKey, error) {
		k, ok := s.centreKey(ctx, kid)
		if !ok || k.jwk.Use != wallet.KeyUseSig {
			return nil, &exchange.Rejected{Reason: exchange.ReasonUnknownKey}
		}
		return k.jwk.Key, nil
	})
	if err != nil {
		return fmt.Errorf("the centre's answer: %w", err)
	}
	// A rejection of a message the centre could not read names only its
	// digest.
	if (rec.ID != "" && rec.ID != m.MessageID) || rec.Digest != exchange.Digest([]byte(body)) {
		return fmt.Errorf("the centre's answer is for another message")
	}
	p.Answers = append(p.Answers, answer)
	if rec.Status == exchange.StatusRejected {
		p.Refused = rec.Reason
	} else {
		p.Step++
		p.Pending = ""
	}
	return s.save(*p)
}

// build signs (and for a result, encrypts to the centre) the message.
func (s *Sim) build(ctx context.Context, p *Progress, m exchange.Message, typ string) (string, error) {
	key := wallet.IssuerKey{KID: s.cfg.Keys.SigKID, Alg: wallet.AlgES256, Key: s.cfg.Keys.Sig}
	if typ != exchange.MessageResult {
		return exchange.SignMessage(m, key, nil)
	}
	doc := resultPDF(p)
	m.Result = &exchange.Result{Title: "Decision on case " + p.CaseID, DocumentType: "agency_decision", Number: p.PackageID,
		ContentType: "application/pdf", Content: doc, SHA256: exchange.Digest(doc)}
	sig, err := exchange.SignResult(exchange.ResultClaims{Issuer: p.Agency, CaseID: p.CaseID, Holder: p.Applicant,
		DocumentType: m.Result.DocumentType, Number: m.Result.Number, Title: m.Result.Title, ContentType: m.Result.ContentType,
		SHA256: m.Result.SHA256, Fields: map[string]string{"decision": "granted"}, IssuedAt: m.At.UTC().Truncate(time.Second)}, key)
	if err != nil {
		return "", err
	}
	m.Result.Signature = sig
	reply, ok := s.centreKey(ctx, p.ReplyKey)
	if !ok || reply.jwk.Use != wallet.KeyUseEnc {
		return "", fmt.Errorf("the centre's reply key %s is not published", p.ReplyKey)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	jws, err := exchange.Sign(b, key, exchange.TypMessage)
	if err != nil {
		return "", err
	}
	if s.cfg.TamperResult {
		jws = tamper(jws)
	}
	return exchange.Encrypt([]byte(jws), reply.jwk, "JWT")
}

// tamper changes one character of a JWS's signature.
func tamper(jws string) string {
	i := strings.LastIndexByte(jws, '.') + 5
	b := []byte(jws)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// resultPDF is a small valid PDF naming the case (the simulator's decision).
func resultPDF(p *Progress) []byte {
	text := fmt.Sprintf("Decision on case %s (package %s): granted.", p.CaseID, p.PackageID)
	stream := fmt.Sprintf("BT /F1 14 Tf 50 780 Td (%s) Tj ET", text)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// compromised reads the keys the centre reported compromised.
func (s *Sim) compromised() map[string]time.Time {
	out := map[string]time.Time{}
	b, err := os.ReadFile(filepath.Join(s.cfg.StateDir, "compromised.json"))
	if err == nil {
		_ = json.Unmarshal(b, &out)
	}
	return out
}

// takeNotice takes the centre's signed key notice: the kid is refused from
// its time on (kept in the state directory), and the notice receipted.
func (s *Sim) takeNotice(w http.ResponseWriter, r *http.Request, body string, now time.Time) {
	ctx := r.Context()
	_ = s.refreshKeys(ctx)
	m, _, _, err := exchange.ReadMessage(body, func(string) (*ecdsa.PrivateKey, bool) { return nil, false }, func(kid string) (crypto.PublicKey, error) {
		k, ok := s.centreKey(ctx, kid)
		if !ok || k.jwk.Use != wallet.KeyUseSig {
			return nil, &exchange.Rejected{Reason: exchange.ReasonUnknownKey}
		}
		if k.compromisedAt != nil && !now.Before(*k.compromisedAt) {
			return nil, &exchange.Rejected{Reason: exchange.ReasonKeyCompromised}
		}
		return k.jwk.Key, nil
	})
	rec := exchange.Receipt{Of: "message", ID: m.MessageID, Digest: exchange.Digest([]byte(body)), ReceivedAt: now}
	if err == nil && m.Type != exchange.MessageKeyCompromised {
		err = &exchange.Rejected{Reason: exchange.ReasonBadRequest, Detail: "only key notices are taken here besides packages"}
	}
	if err != nil {
		rec.Status, rec.Reason = exchange.StatusRejected, exchange.ReasonOf(err)
		s.answer(w, r, rec, false)
		return
	}
	s.mu.Lock()
	c := s.compromised()
	if old, ok := c[m.KID]; !ok || m.CompromisedAt.Before(old) {
		c[m.KID] = m.CompromisedAt.UTC()
	}
	b, _ := json.Marshal(c)
	err = os.WriteFile(filepath.Join(s.cfg.StateDir, "compromised.json"), b, 0o600)
	s.mu.Unlock()
	if err != nil {
		http.Error(w, "cannot keep", http.StatusServiceUnavailable)
		return
	}
	rec.Status = exchange.StatusAccepted
	s.answer(w, r, rec, true)
}
