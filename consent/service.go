package consent

import (
	"context"
	"crypto/rand"
	"io"
	"time"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/wallet"
)

// Store is what the service keeps durably: organisation clients, consent
// requests, the views that releases record and the citizens' history events.
// wallet.Store satisfies it.
type Store interface {
	wallet.ClientStore
	wallet.ConsentStore
	wallet.ViewStore
}

// DocumentSource returns a citizen's documents as they are now
// (wallet.DocumentService satisfies it).
type DocumentSource interface {
	// Documents returns the subject's documents. Store errors as they are.
	Documents(ctx context.Context, subject wallet.IIN) ([]wallet.Document, error)
}

// Default limits; a zero field of Limits means its default.
const (
	DefaultPerClientPerHour = 100
	DefaultPerIINPerHour    = 6
	// DefaultPerClientPerIINPerHour is how many requests one organisation
	// may send one citizen per hour: its share of DefaultPerIINPerHour.
	DefaultPerClientPerIINPerHour = 3
	DefaultRequestTTL             = 10 * time.Minute
	DefaultValidFor               = 24 * time.Hour
	DefaultMaxValidFor            = 90 * 24 * time.Hour
	// MinValidFor is the shortest grant a request may ask for.
	MinValidFor = time.Minute
)

// Limits bound what organisations may ask. Zero fields take the Default…
// values.
type Limits struct {
	// PerClientPerHour is how many requests one client may make per hour.
	PerClientPerHour int
	// PerIINPerHour is how many requests one citizen may receive per hour,
	// from all clients together: a citizen's phone is not a billboard.
	PerIINPerHour int
	// PerClientPerIINPerHour is how many of those one client may send, so
	// that one organisation cannot use up what the others may ask.
	PerClientPerIINPerHour int
	// RequestTTL is how long a pending request waits for a decision.
	RequestTTL time.Duration
	// DefaultValidFor is the grant's validity when a request names none.
	DefaultValidFor time.Duration
	// MaxValidFor is the longest validity a request may ask for.
	MaxValidFor time.Duration
}

// rateWindow is the fixed window of the rate-limit counters.
const rateWindow = time.Hour

// Service runs the consent flow. Store, Directory, OTP, Outbox, Codes, Documents
// and Hasher are required; Now defaults to time.Now, Rand to crypto/rand and
// Limits to the defaults. A Service is safe for concurrent use.
type Service struct {
	Store Store
	// Changes commits every consent created, decided and released
	// together with its history event or views and their log leaves.
	Changes   wallet.Committer
	Directory wallet.Directory       // registered name and phone of citizens
	OTP       *otp.Service           // codes of otp requests
	Outbox    *outbox.Queue          // builds the requests' SMS, queued with them
	Codes     wallet.ShortLivedStore // rate-limit counters, consent → challenge
	Documents DocumentSource
	Hasher    *wallet.Hasher
	Now       func() time.Time
	Rand      io.Reader
	Limits    Limits
	// Language tells the language of a citizen's SMS (their preference);
	// Kazakh for everyone if nil.
	Language locale.OfCitizen
}

// Actor kinds of the events this service appends (ViewerCitizen and
// ViewerOrganisation are shared with views).
const actorSystem = "system"

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

func (s *Service) perClient() int {
	if s.Limits.PerClientPerHour > 0 {
		return s.Limits.PerClientPerHour
	}
	return DefaultPerClientPerHour
}

func (s *Service) perIIN() int {
	if s.Limits.PerIINPerHour > 0 {
		return s.Limits.PerIINPerHour
	}
	return DefaultPerIINPerHour
}

func (s *Service) perClientPerIIN() int {
	if s.Limits.PerClientPerIINPerHour > 0 {
		return s.Limits.PerClientPerIINPerHour
	}
	return DefaultPerClientPerIINPerHour
}

func (s *Service) requestTTL() time.Duration {
	if s.Limits.RequestTTL > 0 {
		return s.Limits.RequestTTL
	}
	return DefaultRequestTTL
}

func (s *Service) defaultValidFor() time.Duration {
	if s.Limits.DefaultValidFor > 0 {
		return s.Limits.DefaultValidFor
	}
	return DefaultValidFor
}

func (s *Service) maxValidFor() time.Duration {
	if s.Limits.MaxValidFor > 0 {
		return s.Limits.MaxValidFor
	}
	return DefaultMaxValidFor
}

// event returns the history event of kind about consent c, with a fresh id,
// ready for a Change.
func (s *Service) event(kind string, c wallet.Consent, actorKind, actorID string, details map[string]string, at time.Time) (wallet.Event, error) {
	id, err := wallet.NewTimeID(s.rand(), at, "evt_")
	if err != nil {
		return wallet.Event{}, err
	}
	return wallet.Event{
		ID:         id,
		Kind:       kind,
		SubjectIIN: c.SubjectIIN,
		ActorKind:  actorKind,
		ActorID:    actorID,
		ObjectID:   c.ID,
		Details:    details,
		At:         at,
		LogIndex:   -1,
	}, nil
}
