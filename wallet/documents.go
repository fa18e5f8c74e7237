package wallet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultSourceTimeout is how long Refresh waits for one source.
const DefaultSourceTimeout = 3 * time.Second

var documentTitles = map[DocumentType]string{
	IDCard:              "Identity card",
	Passport:            "Passport",
	DrivingLicence:      "Driving licence",
	VehicleRegistration: "Vehicle registration certificate",
	BirthCertificate:    "Birth certificate",
	MarriageCertificate: "Marriage certificate",
	Diploma:             "Diploma",
	Licence:             "Licence",
	ServiceResult:       "Result of a public service",
}

// Title returns the human title of a document type ("Identity card"), or
// the type itself for an unknown type.
func (t DocumentType) Title() string {
	if s, ok := documentTitles[t]; ok {
		return s
	}
	return string(t)
}

// DocumentContent is what a document says: the part that is signed and
// hash-chained. Its canonical JSON (Canonical) is the Version.Content.
type DocumentContent struct {
	Type       DocumentType      `json:"type"`
	Title      string            `json:"title"`
	SubjectIIN IIN               `json:"subject_iin"`
	Issuer     string            `json:"issuer"`
	Number     string            `json:"number"`
	Fields     map[string]string `json:"fields"`
	IssuedAt   time.Time         `json:"issued_at"`
	ValidUntil *time.Time        `json:"valid_until"` // null: no end of validity
	Revoked    bool              `json:"revoked"`
	Source     string            `json:"source"`
}

// ContentFromRecord maps a source record to document content. Times are
// brought to UTC whole seconds, so that a source that answers the same thing
// in another zone does not produce a new version. EINVALID if the record
// has an unknown type, no number, no issuer or an invalid subject.
func ContentFromRecord(r Record) (DocumentContent, error) {
	if !r.Type.Valid() {
		return DocumentContent{}, Errorf(EINVALID, "unknown document type %q", r.Type)
	}
	if strings.TrimSpace(r.Number) == "" {
		return DocumentContent{}, Errorf(EINVALID, "%s record has no number", r.Type)
	}
	if strings.TrimSpace(r.Issuer) == "" {
		return DocumentContent{}, Errorf(EINVALID, "%s record %s has no issuer", r.Type, r.Number)
	}
	if _, err := ParseIIN(string(r.Subject)); err != nil {
		return DocumentContent{}, Errorf(EINVALID, "%s record %s has an invalid subject", r.Type, r.Number)
	}
	c := DocumentContent{
		Type:       r.Type,
		Title:      r.Type.Title(),
		SubjectIIN: r.Subject,
		Issuer:     r.Issuer,
		Number:     r.Number,
		Fields:     make(map[string]string, len(r.Fields)),
		IssuedAt:   canonicalTime(r.IssuedAt),
		Revoked:    r.Revoked,
		Source:     r.Source,
	}
	for k, v := range r.Fields {
		c.Fields[k] = v
	}
	if r.ValidUntil != nil {
		t := canonicalTime(*r.ValidUntil)
		c.ValidUntil = &t
	}
	return c, nil
}

func canonicalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// Canonical returns the canonical JSON of c: struct fields in declaration
// order, map keys sorted (encoding/json sorts them), no insignificant space,
// times in UTC RFC 3339, nil fields as {} and no end of validity as null.
// Equal content gives equal bytes, which is how Refresh sees a change.
func (c DocumentContent) Canonical() ([]byte, error) {
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	c.IssuedAt = canonicalTime(c.IssuedAt)
	if c.ValidUntil != nil {
		t := canonicalTime(*c.ValidUntil)
		c.ValidUntil = &t
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, Wrap(EINTERNAL, err, "cannot encode document content")
	}
	return b, nil
}

// ParseContent decodes canonical content bytes. EINTERNAL if they do not
// decode: stored content is written by this package only.
func ParseContent(b []byte) (DocumentContent, error) {
	var c DocumentContent
	if err := json.Unmarshal(b, &c); err != nil {
		return DocumentContent{}, Wrap(EINTERNAL, err, "stored document content does not decode")
	}
	return c, nil
}

// ID returns the document id of c (see DocumentID).
func (c DocumentContent) ID() string { return DocumentID(c.SubjectIIN, c.Type, c.Number) }

// Status returns the status of c at now: revoked if the record says so,
// expired once now is past its end of validity, valid otherwise.
func (c DocumentContent) Status(now time.Time) string {
	switch {
	case c.Revoked:
		return StatusRevoked
	case c.ValidUntil != nil && c.ValidUntil.Before(now):
		return StatusExpired
	default:
		return StatusValid
	}
}

// DocumentID returns the stable, opaque id of a subject's document: "doc_"
// and the first 20 lowercase base32 characters (100 bits) of SHA-256 over subject,
// type and number separated by 0x00. The same registry document always
// gets the same id; nothing about it can be read back from the id.
func DocumentID(subject IIN, t DocumentType, number string) string {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write([]byte(t))
	h.Write([]byte{0})
	h.Write([]byte(number))
	return "doc_" + idEncoding.EncodeToString(h.Sum(nil))[:20]
}

// Document is a document as the API shows it: its content, its status at the
// time of reading, its latest version and when its source last answered.
type Document struct {
	ID         string            `json:"id"`
	Type       DocumentType      `json:"type"`
	Title      string            `json:"title"`
	SubjectIIN IIN               `json:"subject_iin"`
	Issuer     string            `json:"issuer"`
	Number     string            `json:"number"`
	Fields     map[string]string `json:"fields"`
	// FieldLabels name the fields in the reader's language (set by the
	// API; Title is then in that language too).
	FieldLabels map[string]string `json:"field_labels,omitempty"`
	Status      string            `json:"status"`
	IssuedAt    time.Time         `json:"issued_at"`
	ValidUntil  *time.Time        `json:"valid_until"`
	Version     int               `json:"version"`
	UpdatedAt   time.Time         `json:"updated_at"` // when the latest version was made
	FetchedAt   time.Time         `json:"fetched_at"` // when its source last answered
	Source      string            `json:"source"`
	JWS         string            `json:"jws"`
}

// DocumentView builds the Document of a stored document at now. EINTERNAL
// if its content does not decode.
func DocumentView(d StoredDocument, now time.Time) (Document, error) {
	c, err := ParseContent(d.Latest.Content)
	if err != nil {
		return Document{}, err
	}
	return Document{
		ID:         d.ID,
		Type:       c.Type,
		Title:      c.Title,
		SubjectIIN: c.SubjectIIN,
		Issuer:     c.Issuer,
		Number:     c.Number,
		Fields:     c.Fields,
		Status:     c.Status(now),
		IssuedAt:   c.IssuedAt,
		ValidUntil: c.ValidUntil,
		Version:    d.Latest.Version,
		UpdatedAt:  d.Latest.CreatedAt,
		FetchedAt:  d.FetchedAt,
		Source:     d.Source,
		JWS:        d.Latest.JWS,
	}, nil
}

// DocumentService assembles, signs and keeps citizens' documents. It does
// not decide who may read whose documents: callers authorize first.
type DocumentService struct {
	Store DocumentStore
	// Changes commits each new version with its leaf in the history log,
	// which anchors the head of the document's hash chain.
	Changes Committer
	Sources []Source
	Keys    KeyRing
	Now     func() time.Time
	// SourceTimeout bounds each source's answer; DefaultSourceTimeout if 0.
	SourceTimeout time.Duration
}

// RefreshResult is the outcome of a Refresh.
type RefreshResult struct {
	// Documents are all the subject's documents after the refresh, those of
	// failed sources with their last good version (see FetchedAt).
	Documents []Document
	// Changed lists the ids of documents that got a new version, in order.
	Changed []string
	// FailedSources names the sources that did not answer in time, failed,
	// or answered something unusable; nothing of theirs was changed.
	FailedSources []string
}

func (s *DocumentService) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// sourceAnswer is one source's usable answer: its documents' content.
type sourceAnswer struct {
	name     string
	contents []DocumentContent
	err      error
}

// Refresh asks every source for the subject's records at once, each within
// SourceTimeout, and stores a new signed version of every document whose
// content changed. A source that is slow, fails or answers something
// unusable (a record of another subject, an unknown type, an issuer without
// a key) is listed in FailedSources and its documents keep their last good
// version. Sources are not retried here: a source client retries as it sees
// fit within the timeout. Should two sources answer the same document, the
// one listed first in Sources wins. EINVALID for an invalid subject; store
// errors (EUNAVAILABLE, ...) as they are.
func (s *DocumentService) Refresh(ctx context.Context, subject IIN) (RefreshResult, error) {
	if _, err := ParseIIN(string(subject)); err != nil {
		return RefreshResult{}, err
	}
	now := s.now()
	answers := s.ask(ctx, subject)

	stored, err := s.Store.Documents(ctx, subject)
	if err != nil {
		return RefreshResult{}, err
	}
	latest := make(map[string]StoredDocument, len(stored))
	for _, d := range stored {
		latest[d.ID] = d
	}

	var res RefreshResult
	seen := map[string]bool{}
	for _, a := range answers {
		if a.err != nil {
			res.FailedSources = append(res.FailedSources, a.name)
			continue
		}
		for _, c := range a.contents {
			id := c.ID()
			if seen[id] {
				continue
			}
			seen[id] = true
			changed, err := s.store(ctx, c, a.name, latest, now)
			if err != nil {
				return RefreshResult{}, err
			}
			if changed {
				res.Changed = append(res.Changed, id)
			}
		}
		if err := s.Store.MarkFetched(ctx, subject, a.name, now); err != nil {
			return RefreshResult{}, err
		}
	}
	res.Documents, err = s.Documents(ctx, subject)
	if err != nil {
		return RefreshResult{}, err
	}
	return res, nil
}

// ask asks every source in parallel and returns their answers in the order
// of Sources. A source that ignores its context's deadline is abandoned
// when the deadline passes; its late answer is dropped.
func (s *DocumentService) ask(ctx context.Context, subject IIN) []sourceAnswer {
	timeout := s.SourceTimeout
	if timeout <= 0 {
		timeout = DefaultSourceTimeout
	}
	answers := make([]sourceAnswer, len(s.Sources))
	var wg sync.WaitGroup
	for i, src := range s.Sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = s.askOne(ctx, src, subject, timeout)
		}()
	}
	wg.Wait()
	return answers
}

func (s *DocumentService) askOne(ctx context.Context, src Source, subject IIN, timeout time.Duration) sourceAnswer {
	name := src.Name()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type reply struct {
		recs []Record
		err  error
	}
	ch := make(chan reply, 1) // buffered: a late source never blocks on send
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- reply{err: Errorf(EINTERNAL, "source %s panicked: %v", name, p)}
			}
		}()
		recs, err := src.Records(ctx, subject)
		ch <- reply{recs, err}
	}()
	var r reply
	select {
	case r = <-ch:
	case <-ctx.Done():
		return sourceAnswer{name: name, err: Wrap(EUNAVAILABLE, ctx.Err(), "source "+name+" did not answer in time")}
	}
	if r.err != nil {
		return sourceAnswer{name: name, err: r.err}
	}
	a := sourceAnswer{name: name}
	for _, rec := range r.recs {
		if rec.Subject != subject {
			return sourceAnswer{name: name, err: Errorf(EUNAVAILABLE, "source %s answered a record of another subject", name)}
		}
		if rec.Source == "" {
			rec.Source = name
		}
		c, err := ContentFromRecord(rec)
		if err != nil {
			return sourceAnswer{name: name, err: Wrap(EUNAVAILABLE, err, "source "+name+" answered an unusable record")}
		}
		if _, err := s.Keys.Signer(c.Issuer); err != nil {
			return sourceAnswer{name: name, err: Wrap(EUNAVAILABLE, err, "source "+name+" named an issuer without a key")}
		}
		a.contents = append(a.contents, c)
	}
	return a
}

// store appends a signed version of c unless the latest stored version has
// the same content. latest holds the subject's documents as last read and is
// updated. On ECONFLICT (a concurrent refresh appended first) it reloads the
// document and tries once more.
func (s *DocumentService) store(ctx context.Context, c DocumentContent, source string, latest map[string]StoredDocument, now time.Time) (bool, error) {
	content, err := c.Canonical()
	if err != nil {
		return false, err
	}
	id := c.ID()
	for attempt := 0; ; attempt++ {
		next, prev := 1, ""
		if cur, ok := latest[id]; ok {
			if bytes.Equal(cur.Latest.Content, content) {
				return false, nil
			}
			next, prev = cur.Latest.Version+1, cur.Latest.Hash
		}
		key, err := s.Keys.Signer(c.Issuer)
		if err != nil {
			return false, err
		}
		jws, err := SignDocument(key, c, next, now)
		if err != nil {
			return false, err
		}
		v := Version{
			DocumentID: id,
			Version:    next,
			Content:    content,
			JWS:        jws,
			PrevHash:   prev,
			Hash:       VersionHash(prev, content, jws),
			CreatedAt:  now,
		}
		d := StoredDocument{ID: id, SubjectIIN: c.SubjectIIN, Type: c.Type, Source: source, FetchedAt: now, Latest: v}
		_, err = s.Changes.Commit(ctx, Change{Ops: []Op{AppendVersion{Document: d, Version: v}}})
		if err == nil {
			latest[id] = d
			return true, nil
		}
		if !IsCode(err, ECONFLICT) || attempt > 0 {
			return false, err
		}
		cur, err := s.Store.Document(ctx, id)
		switch {
		case err == nil:
			latest[id] = cur
		case IsCode(err, ENOTFOUND):
			delete(latest, id)
		default:
			return false, err
		}
	}
}

// Documents returns the subject's stored documents, their status computed
// now, ordered by type (in DocumentTypes order) then id. Store errors as
// they are; EINTERNAL if stored content does not decode.
func (s *DocumentService) Documents(ctx context.Context, subject IIN) ([]Document, error) {
	stored, err := s.Store.Documents(ctx, subject)
	if err != nil {
		return nil, err
	}
	now := s.now()
	docs := make([]Document, 0, len(stored))
	for _, d := range stored {
		v, err := DocumentView(d, now)
		if err != nil {
			return nil, err
		}
		docs = append(docs, v)
	}
	sort.SliceStable(docs, func(i, j int) bool {
		a, b := typeRank(docs[i].Type), typeRank(docs[j].Type)
		if a != b {
			return a < b
		}
		return docs[i].ID < docs[j].ID
	})
	return docs, nil
}

func typeRank(t DocumentType) int {
	for i, k := range DocumentTypes {
		if k == t {
			return i
		}
	}
	return len(DocumentTypes)
}

// Document returns one stored document with its status computed now.
// ENOTFOUND if there is none.
func (s *DocumentService) Document(ctx context.Context, id string) (Document, error) {
	d, err := s.Store.Document(ctx, id)
	if err != nil {
		return Document{}, err
	}
	return DocumentView(d, s.now())
}

// Versions returns every version of a document, oldest first. ENOTFOUND if
// there is no such document. Callers that want to check the hash chain use
// VerifyChain.
func (s *DocumentService) Versions(ctx context.Context, id string) ([]Version, error) {
	return s.Store.Versions(ctx, id)
}

// Status returns the current status of a stored document, as a Verifier
// wants it. ENOTFOUND if there is no such document.
func (s *DocumentService) Status(ctx context.Context, id string) (string, error) {
	d, err := s.Document(ctx, id)
	if err != nil {
		return "", err
	}
	return d.Status, nil
}

// CurrentVersion returns the number of the latest version of a document, as
// a Verifier wants it. ENOTFOUND if there is no such document.
func (s *DocumentService) CurrentVersion(ctx context.Context, id string) (int, error) {
	d, err := s.Store.Document(ctx, id)
	if err != nil {
		return 0, err
	}
	return d.Latest.Version, nil
}

// Assembled returns the subject's documents, assembling them from the
// sources first if none has ever been stored (a citizen who never signed
// in). Errors are those of Documents and Refresh.
func (s *DocumentService) Assembled(ctx context.Context, subject IIN) ([]Document, error) {
	docs, err := s.Documents(ctx, subject)
	if err != nil {
		return nil, err
	}
	// A hosted registry's record is stored when it is published, and an
	// agency's result when it arrives, before the holder may ever have
	// signed in: neither counts as assembled.
	for _, d := range docs {
		if !strings.HasPrefix(d.Source, HostedSourcePrefix) && !strings.HasPrefix(d.Source, ResultSourcePrefix) {
			return docs, nil
		}
	}
	res, err := s.Refresh(ctx, subject)
	if err != nil {
		return nil, err
	}
	return res.Documents, nil
}

// HostedSourcePrefix begins the source of every hosted registry's document
// ("registry:{code}"): such documents are stored when an official
// publishes them, not fetched by Refresh.
const HostedSourcePrefix = "registry:"

// AssembledDocuments is the subject's documents as DocumentService.Assembled
// gives them, for services that take a Documents(ctx, subject) source (the
// consent service releases documents of citizens who may never have signed
// in).
type AssembledDocuments struct{ Service *DocumentService }

// Documents returns the subject's documents, assembling them first if none
// is stored. Errors are those of Assembled.
func (a AssembledDocuments) Documents(ctx context.Context, subject IIN) ([]Document, error) {
	return a.Service.Assembled(ctx, subject)
}
