package consent

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/qujat/qujat/wallet"
)

// Client kinds.
const (
	KindBank    = "bank"
	KindInsurer = "insurer"
	KindGov     = "gov"
	// KindServiceCentre is a public service centre: its operators (staff)
	// make electronic duplicates of paper documents. It asks for no
	// citizen's documents itself, so it is admitted for no document types.
	KindServiceCentre = "service_centre"
)

// inPersonOnly reports whether an organisation of the kind may have a
// document of type t only when the citizen presents it (a QR code or a short
// code redeemed at the counter), never by remote consent. Banks get identity
// documents this way only: the rules of the digital-documents service say a
// financial organisation identifies its customer in person. Other types, and
// other kinds of organisation, keep remote consent.
func inPersonOnly(kind string, t wallet.DocumentType) bool {
	return kind == KindBank && (t == wallet.IDCard || t == wallet.Passport)
}

// MaxClientName is the longest client name, in characters.
const MaxClientName = 200

// clientSecretBytes is the entropy of a client secret: 256 bits.
const clientSecretBytes = 32

// CreateClient registers an organisation's system admitted to the integration
// API for the given document types, and returns it with its secret. The
// secret is shown this once: only its peppered hash is stored. The returned
// client has no SecretHash.
//
// EINVALID for an empty or over-long name, a kind other than bank, insurer,
// gov or service_centre, no types (a service centre has none), an unknown
// or repeated type; store errors (EUNAVAILABLE)
// as they are.
func (s *Service) CreateClient(ctx context.Context, name, kind string, types []wallet.DocumentType) (wallet.Client, string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return wallet.Client{}, "", wallet.Errorf(wallet.EINVALID, "client name is required")
	case utf8.RuneCountInString(name) > MaxClientName || !utf8.ValidString(name):
		return wallet.Client{}, "", wallet.Errorf(wallet.EINVALID, "client name must be at most %d characters of UTF-8", MaxClientName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return wallet.Client{}, "", wallet.Errorf(wallet.EINVALID, "client name must not contain control characters")
	}
	switch kind {
	case KindBank, KindInsurer, KindGov:
		if err := checkTypes(types); err != nil {
			return wallet.Client{}, "", err
		}
	case KindServiceCentre:
		if len(types) > 0 {
			return wallet.Client{}, "", wallet.Errorf(wallet.EINVALID, "a service centre is admitted for no document types")
		}
	default:
		return wallet.Client{}, "", wallet.Errorf(wallet.EINVALID, "client kind must be bank, insurer, gov or service_centre")
	}
	id, err := wallet.NewID(s.rand(), "cli_")
	if err != nil {
		return wallet.Client{}, "", err
	}
	secret, err := wallet.RandomToken(s.rand(), clientSecretBytes)
	if err != nil {
		return wallet.Client{}, "", err
	}
	c := wallet.Client{
		ID:            id,
		Name:          name,
		Kind:          kind,
		DocumentTypes: append([]wallet.DocumentType(nil), types...),
		SecretHash:    s.Hasher.Hash(wallet.SecretClientSecret, secret),
		CreatedAt:     s.now(),
	}
	if err := s.Store.CreateClient(ctx, c); err != nil {
		return wallet.Client{}, "", err
	}
	c.SecretHash = ""
	return c, secret, nil
}

// unauthorized is the one answer to every failed authentication, so that it
// does not tell an unknown id from a wrong secret or a disabled client.
func unauthorized() *wallet.Error {
	return wallet.Errorf(wallet.EUNAUTHORIZED, "invalid client credentials")
}

// Authenticate checks a client's credentials and returns the client (without
// SecretHash). EUNAUTHORIZED, with the same message, for an unknown id, a
// wrong secret or a disabled client; the secret is compared in constant time
// and hashed even for an unknown id. EUNAVAILABLE if the store cannot be
// reached.
func (s *Service) Authenticate(ctx context.Context, clientID, secret string) (wallet.Client, error) {
	hash := s.Hasher.Hash(wallet.SecretClientSecret, secret)
	if clientID == "" || secret == "" {
		return wallet.Client{}, unauthorized()
	}
	c, err := s.Store.Client(ctx, clientID)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		// Compare anyway, so that an unknown id costs what a known one does.
		s.Hasher.Equal(hash, hash)
		return wallet.Client{}, unauthorized()
	case err != nil:
		return wallet.Client{}, err
	}
	ok := s.Hasher.Equal(hash, c.SecretHash)
	if !ok || c.DisabledAt != nil {
		return wallet.Client{}, unauthorized()
	}
	c.SecretHash = ""
	return c, nil
}

// Client returns one client (without SecretHash), disabled or not, for
// showing its name. ENOTFOUND; EUNAVAILABLE.
func (s *Service) Client(ctx context.Context, id string) (wallet.Client, error) {
	c, err := s.Store.Client(ctx, id)
	if err != nil {
		return wallet.Client{}, err
	}
	c.SecretHash = ""
	return c, nil
}

// Clients returns every client, oldest first, without SecretHash.
// EUNAVAILABLE if the store cannot be reached.
func (s *Service) Clients(ctx context.Context) ([]wallet.Client, error) {
	cs, err := s.Store.Clients(ctx)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		cs[i].SecretHash = ""
	}
	return cs, nil
}

// DisableClient disables a client for good: it can no longer authenticate,
// and its tokens, requests and grants stop working (every organisation call
// checks the client). Disabling a disabled client is not an error.
// ENOTFOUND; EUNAVAILABLE.
func (s *Service) DisableClient(ctx context.Context, id string) error {
	return s.Store.DisableClient(ctx, id, s.now())
}

// ActiveClient checks that the client calling the integration API exists
// and is not disabled (the API asks it on every organisation call, so that
// a token issued before the client was disabled stops working at once).
// EUNAUTHORIZED otherwise; EUNAVAILABLE.
func (s *Service) ActiveClient(ctx context.Context, id string) error {
	_, err := s.activeClient(ctx, id)
	return err
}

// activeClient returns the client calling the integration API, which must
// exist and not be disabled: a token issued before the client was disabled
// must not keep working. EUNAUTHORIZED otherwise.
func (s *Service) activeClient(ctx context.Context, id string) (wallet.Client, error) {
	if id == "" {
		return wallet.Client{}, unauthorized()
	}
	c, err := s.Store.Client(ctx, id)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return wallet.Client{}, unauthorized()
	case err != nil:
		return wallet.Client{}, err
	case c.DisabledAt != nil:
		return wallet.Client{}, unauthorized()
	}
	return c, nil
}

// checkTypes checks a list of document types is non-empty, known and
// without repeats. EINVALID naming the first offending type.
func checkTypes(types []wallet.DocumentType) error {
	if len(types) == 0 {
		return wallet.Errorf(wallet.EINVALID, "at least one document type is required")
	}
	seen := make(map[wallet.DocumentType]bool, len(types))
	for _, t := range types {
		if !t.Valid() {
			return wallet.Errorf(wallet.EINVALID, "unknown document type %q", t)
		}
		if seen[t] {
			return wallet.Errorf(wallet.EINVALID, "document type %q is listed twice", t)
		}
		seen[t] = true
	}
	return nil
}
