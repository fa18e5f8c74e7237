// Package service builds Qujat's object graph from its parts: the history
// log on the durable store, the Recorder through which every state change
// commits with its history, the domain services (documents, sharing,
// sign-in, consent, guardians) and the HTTP API on top. It is the one place
// where the graph is wired: the binary (cmd/qujat) opens the adapters its
// configuration names and calls Build; the tests call Build with the
// embedded adapters and a test clock.
package service

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qujat/qujat/api"
	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/duplicates"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
	"github.com/qujat/qujat/web"
)

// Store is the durable store: the wallet's tables and the history log's,
// in one database, so that a state change and its leaves commit together,
// and the rows an audit checks against the leaves. wallet/sqlite and
// wallet/postgres are both.
type Store interface {
	wallet.Store
	history.AuditStore
}

// Parts are what the graph is built from: adapters already opened, keys
// already loaded, and the settings the services need.
type Parts struct {
	Logger *slog.Logger
	// Now is the clock of every service; time.Now if nil.
	Now func() time.Time
	// Rand is the random source of every service; crypto/rand if nil.
	Rand io.Reader

	Store     Store
	Short     wallet.ShortLivedStore
	Directory wallet.Directory
	Sources   []wallet.Source
	// DevCitizens lists the demo registry's citizens (development only).
	DevCitizens func() []wallet.Citizen
	// NoCitizenLimits turns the API's per-citizen limits off (development
	// only: load generation).
	NoCitizenLimits bool

	Keys      wallet.KeyRing // issuer keys
	StaffKeys staff.Keys     // staff members' signing keys (nil: staff cannot be registered)
	// DuplicateRetention, if positive, replaces the three calendar years a
	// certified duplicate is kept (QUJAT_DUPLICATE_RETENTION).
	DuplicateRetention time.Duration
	LogKeys            historylog.Keys // the history log's keys
	Pepper             []byte          // the secrets' hashing pepper
	TokenKey           ed25519.PrivateKey
	TokenIssuer        string
	SealKey            []byte // seals share tokens for QR images

	// SMS delivers text messages (the outbox worker's sender); Outbox, if
	// set, is the development outbox (the same sender, readable at
	// /v1/dev/sms).
	SMS              outbox.Sender
	Outbox           *sms.Outbox
	SMSInboundSecret []byte

	PublicURL string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is read
	// (api.Deps.TrustedProxies).
	TrustedProxies []*net.IPNet
	ReadyChecks    map[string]func(context.Context) error
	Metrics        *prometheus.Registry
	// MetricsToken is the bearer secret of /metrics on the public listener
	// (api.Deps.MetricsToken); empty, /metrics is not served there.
	MetricsToken string
	// LogMaxBatch bounds a history log batch (historylog.Config.MaxBatch).
	LogMaxBatch int
}

// Service is the built graph.
type Service struct {
	Server     *api.Server
	Log        *historylog.Log
	Changes    wallet.Committer
	Documents  *wallet.DocumentService
	Sharing    *sharing.Service
	Consents   *consent.Service
	OTP        *otp.Service
	SignIn     *signin.Service
	Tokens     *api.TokenIssuer
	Staff      *staff.Service
	Duplicates *duplicates.Service
	// Messages delivers the durable outbox; Build starts it.
	Messages *outbox.Worker

	stopMessages context.CancelFunc
	messagesDone chan struct{}
	purgerDone   chan struct{}
}

// Close stops the outbox worker (a message it was sending is recorded
// first) and the duplicates' purger, then the history log after the changes already queued are
// committed. It does not close the adapters: their opener does.
func (s *Service) Close() error {
	s.stopMessages()
	<-s.messagesDone
	<-s.purgerDone
	return s.Log.Close()
}

// Build wires the graph. EINVALID if a required part is missing.
func Build(p Parts) (*Service, error) {
	if p.Store == nil || p.Short == nil || p.Directory == nil || p.Keys == nil || p.SMS == nil {
		return nil, wallet.Errorf(wallet.EINVALID, "service: the store, the short-lived store, the directory, the keys and an SMS sender are required")
	}
	if len(p.Pepper) == 0 || len(p.TokenKey) == 0 || len(p.SealKey) == 0 {
		return nil, wallet.Errorf(wallet.EINVALID, "service: the pepper, the token key and the seal key are required")
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Rand == nil {
		p.Rand = rand.Reader
	}
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	publicURL := strings.TrimSuffix(p.PublicURL, "/")

	hlog, err := historylog.New(historylog.Config{Store: p.Store, Keys: p.LogKeys, MaxBatch: p.LogMaxBatch})
	if err != nil {
		return nil, err
	}
	// Every state change with history commits through changes: the state,
	// its events and views, and their leaves, in one transaction.
	changes := history.Recorder{Log: hlog}

	hasher := wallet.NewHasher(p.Pepper)
	guardianship := wallet.Guardianship{Directory: p.Directory, Now: p.Now}
	documents := &wallet.DocumentService{Store: p.Store, Changes: changes, Sources: p.Sources, Keys: p.Keys, Now: p.Now}
	verifier := &wallet.Verifier{Keys: p.Keys, Status: documents.Status, CurrentVersion: documents.CurrentVersion, Now: p.Now}
	otpSvc := otp.NewService(p.Short, hasher)
	otpSvc.Now = p.Now
	// Messages are written by the requests that send them and delivered
	// by the worker.
	sealer := outbox.NewSealer(hasher)
	messages := &outbox.Worker{Store: p.Store, Sender: p.SMS, Seal: sealer, Now: p.Now, Log: p.Logger}
	queue := &outbox.Queue{Store: p.Store, Seal: sealer, Now: p.Now, Rand: p.Rand, Kick: messages.Kick}
	tokens := &api.TokenIssuer{Key: p.TokenKey, Issuer: p.TokenIssuer, Now: p.Now}
	// Each citizen's SMS are in the language they chose (Kazakh unless
	// they chose another).
	language := locale.Stored(p.Store)
	signIn := &signin.Service{Directory: p.Directory, OTP: otpSvc, Outbox: queue, Sessions: p.Store, Hasher: hasher, Access: tokens, Now: p.Now, Rand: p.Rand, Revoked: p.Short, Language: language}
	staffSvc := &staff.Service{
		Store: p.Store, Keys: p.StaffKeys, Directory: p.Directory, OTP: otpSvc, Outbox: queue, Tokens: tokens,
		Now: p.Now, Rand: p.Rand, Language: language,
	}
	retention := p.DuplicateRetention
	dups := &duplicates.Service{
		Store: p.Store, Changes: changes, Staff: staffSvc, Directory: p.Directory, OTP: otpSvc, Outbox: queue,
		Now: p.Now, Rand: p.Rand, Retention: retention, Language: language,
	}
	shares := &sharing.Service{
		Store: p.Store, Changes: changes, Codes: p.Short, Hasher: hasher, Documents: documents, Now: p.Now, Rand: p.Rand,
		PublicURL: publicURL, SealKey: p.SealKey, Authorize: guardianship.AuthorizeShare,
	}
	consents := &consent.Service{
		Store: p.Store, Changes: changes, Directory: p.Directory, OTP: otpSvc, Outbox: queue, Codes: p.Short,
		Documents: wallet.AssembledDocuments{Service: documents}, Hasher: hasher, Now: p.Now, Rand: p.Rand,
		Language: language,
	}
	ready := p.ReadyChecks
	if ready == nil {
		ready = map[string]func(context.Context) error{"database": p.Store.Ping, "short_lived": p.Short.Ping}
	}
	pages := &web.Pages{
		SignIn: signIn, Sharing: shares, Documents: documents, Verifier: verifier,
		Sessions: p.Short, Hasher: hasher, PublicURL: publicURL, Logger: p.Logger, Rand: p.Rand,
	}
	server := api.New(api.Deps{
		Logger:      p.Logger,
		Now:         p.Now,
		Tokens:      tokens,
		Directory:   p.Directory,
		SignIn:      signIn,
		Rand:        p.Rand,
		Documents:   documents,
		Verifier:    verifier,
		Keys:        p.Keys,
		Views:       p.Store,
		Changes:     changes,
		Events:      p.Store,
		HistoryLog:  hlog,
		Counters:    p.Short,
		Sharing:     shares,
		PublicURL:   publicURL,
		Consents:    consents,
		Preferences: p.Store,
		ClientName: func(ctx context.Context, id string) string {
			c, err := consents.Client(ctx, id)
			if err != nil {
				return ""
			}
			return c.Name
		},
		SMSInboundSecret: p.SMSInboundSecret,
		DevCitizens:      p.DevCitizens,
		NoCitizenLimits:  p.NoCitizenLimits,
		DevOutbox:        p.Outbox,
		DevFlush:         messages.Flush,
		ReadyChecks:      ready,
		Metrics:          p.Metrics,
		MetricsToken:     p.MetricsToken,
		TrustedProxies:   p.TrustedProxies,
		Pages:            pages,
		Staff:            staffSvc,
		Duplicates:       dups,
	})
	messages.GaveUp = consents.DeliveryFailed
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	purgerDone := make(chan struct{})
	go func() {
		defer close(done)
		messages.Run(ctx)
	}()
	// Duplicates whose retention ended lose their scans.
	go func() {
		defer close(purgerDone)
		dups.RunPurger(ctx, p.Logger)
	}()
	return &Service{Server: server, Log: hlog, Changes: changes, Documents: documents, Sharing: shares,
		Consents: consents, OTP: otpSvc, SignIn: signIn, Tokens: tokens, Staff: staffSvc, Duplicates: dups, Messages: messages,
		stopMessages: stop, messagesDone: done, purgerDone: purgerDone}, nil
}
