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
	"github.com/qujat/qujat/calendar"
	"github.com/qujat/qujat/cases"
	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/duplicates"
	"github.com/qujat/qujat/extracts"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/notify"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/registries"
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

// LagTolerantReads are the reads that a streaming replica may serve, a
// moment behind the primary: the published reads (a document's or a
// duplicate's status for /v1/verify, the staff behind the published keys)
// and the history log's public reads (checkpoints, leaves, proofs).
// wallet/postgres.Replica is one; so is every Store.
type LagTolerantReads interface {
	wallet.PublishedReads
	historylog.LogReader
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

	// Push delivers notifications, by device platform; nil: webhooks are
	// posted (notify.Webhook) and FCM is not offered.
	Push map[string]notify.Driver
	// DevNotifications, if set (development only), keeps every
	// notification delivered, readable at /v1/dev/notifications; http and
	// loopback webhook URLs are accepted then.
	DevNotifications *notify.DevOutbox
	// NotifyPoll is how often the notification worker looks for new
	// history (notify.DefaultPoll if zero).
	NotifyPoll time.Duration
	// NotifyBatch bounds what one notification pass fans out and delivers
	// (notify's defaults if zero).
	NotifyBatch int

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

	// Replica, if set, serves the LagTolerantReads and nothing else
	// (wallet/postgres.Replica); everything that judges reads Store. Nil:
	// Store serves them too.
	Replica LagTolerantReads
	// OptionalReadyChecks are shown by /readyz without making the service
	// unready (api.Deps.OptionalReady): the replica's state.
	OptionalReadyChecks map[string]func(context.Context) string
	// ExchangeKeys are the centres' keys for the exchange with agencies
	// and Calendars the production calendars; with both, cases are served.
	ExchangeKeys *exchange.CentreKeys
	Calendars    *calendar.Set
	// CaseDeliveryPoll is how often queued packages are looked for
	// (cases.DefaultPoll if zero); CaseBackoff replaces the delivery
	// backoff (tests).
	CaseDeliveryPoll time.Duration
	CaseBackoff      func(n int) time.Duration
	// CaseLease is how long a delivery is one instance's alone
	// (cases.DefaultLease if zero): a killed instance's deliveries wait
	// that long before another takes them.
	CaseLease time.Duration
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
	Registries *registries.Service
	// Cases carries applications to agencies; Deliverer sends their
	// packages (Build starts it). Nil without exchange keys.
	Cases     *cases.Service
	Deliverer *cases.Deliverer
	// Messages delivers the durable outbox; Build starts it.
	Messages *outbox.Worker
	// Notifications fans the history out to citizens' devices and delivers
	// it; Build starts it.
	Notifications *notify.Worker
	Devices       *notify.Devices

	stopMessages context.CancelFunc
	messagesDone chan struct{}
	notifyDone   chan struct{}
	purgerDone   chan struct{}
	casesDone    chan struct{}
}

// Close stops the outbox worker (a message it was sending is recorded
// first) and the duplicates' purger, then the history log after the changes already queued are
// committed. It does not close the adapters: their opener does.
func (s *Service) Close() error {
	s.stopMessages()
	<-s.messagesDone
	<-s.notifyDone
	<-s.purgerDone
	if s.casesDone != nil {
		<-s.casesDone
	}
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

	// The reads that tolerate lag go to the replica if there is one; every
	// other read, and every write, to the Store (the primary).
	var lagTolerant LagTolerantReads = p.Store
	var logReads historylog.LogReader
	if p.Replica != nil {
		lagTolerant, logReads = p.Replica, p.Replica
	}
	hlog, err := historylog.New(historylog.Config{Store: p.Store, Reads: logReads, Keys: p.LogKeys, MaxBatch: p.LogMaxBatch})
	if err != nil {
		return nil, err
	}
	// Every state change with history commits through changes: the state,
	// its events and views, and their leaves, in one transaction.
	changes := history.Recorder{Log: hlog}

	hasher := wallet.NewHasher(p.Pepper)
	guardianship := wallet.Guardianship{Directory: p.Directory, Now: p.Now}
	documents := &wallet.DocumentService{Store: p.Store, Changes: changes, Sources: p.Sources, Keys: p.Keys, Now: p.Now}
	// A public verifier's status read tolerates lag: a revocation reaches
	// it within the replica's lag (at most its MaxLag).
	published := wallet.PublishedDocuments{Reads: lagTolerant, Now: p.Now}
	verifier := &wallet.Verifier{Keys: p.Keys, Status: published.Status, CurrentVersion: published.CurrentVersion, Now: p.Now,
		Compromised: compromisedKeys(p.Store)}
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
		Store: p.Store, Published: lagTolerant, Keys: p.StaffKeys, Directory: p.Directory, OTP: otpSvc, Outbox: queue, Tokens: tokens,
		Now: p.Now, Rand: p.Rand, Language: language,
	}
	retention := p.DuplicateRetention
	dups := &duplicates.Service{
		Store: p.Store, Published: lagTolerant, Changes: changes, Staff: staffSvc, Directory: p.Directory, OTP: otpSvc, Outbox: queue,
		Now: p.Now, Rand: p.Rand, Retention: retention, Language: language,
	}
	hosted := &registries.Service{Store: p.Store, Changes: changes, Staff: staffSvc, Directory: p.Directory, Now: p.Now, Rand: p.Rand,
		PublicURL: publicURL}
	prints := &extracts.Service{Store: p.Store, Changes: changes, Documents: documents, Registries: hosted, Directory: p.Directory,
		Now: p.Now, Rand: p.Rand, PublicURL: publicURL}
	var (
		caseSvc   *cases.Service
		deliverer *cases.Deliverer
	)
	if p.ExchangeKeys != nil && p.Calendars != nil {
		caseSvc = &cases.Service{Store: p.Store, Changes: changes, Staff: staffSvc, Keys: p.ExchangeKeys, Calendars: p.Calendars,
			Directory: p.Directory, Now: p.Now, Rand: p.Rand}
		deliverer = &cases.Deliverer{Cases: caseSvc, Poll: p.CaseDeliveryPoll, Backoff: p.CaseBackoff, Lease: p.CaseLease, Log: p.Logger}
		caseSvc.Kick = deliverer.Kick
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
	clientName := func(ctx context.Context, id string) string {
		c, err := consents.Client(ctx, id)
		if err != nil {
			return ""
		}
		return c.Name
	}
	// Notifications: the history rows are their outbox (package notify).
	dev := p.DevNotifications != nil
	drivers := map[string]notify.Driver{}
	for platform, d := range p.Push {
		drivers[platform] = d
	}
	if p.Push == nil {
		drivers[wallet.PlatformWebhook] = &notify.Webhook{AllowPrivate: dev, Now: p.Now}
	}
	platforms := make([]string, 0, len(drivers))
	for platform, d := range drivers {
		platforms = append(platforms, platform)
		if dev && d != notify.Driver(p.DevNotifications) {
			drivers[platform] = p.DevNotifications.Recording(d)
		}
	}
	devices := &notify.Devices{Store: p.Store, Seal: sealer, Now: p.Now, Rand: p.Rand, Platforms: platforms, AllowHTTP: dev}
	notifications := &notify.Worker{
		Fanout: &notify.Fanout{Store: p.Store, Directory: p.Directory, ClientName: clientName, Seal: sealer,
			Now: p.Now, Rand: p.Rand, Log: p.Logger, Batch: p.NotifyBatch},
		Store: p.Store, Drivers: drivers, Seal: sealer, Now: p.Now, Log: p.Logger, Poll: p.NotifyPoll, Batch: p.NotifyBatch,
	}
	if dev && p.DevNotifications != nil {
		// /v1/dev/notifications shows what a request just caused.
		p.DevNotifications.DeliverFirst(notifications.Flush)
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
		Devices:          devices,

		DevNotifications: p.DevNotifications,
		ReadyChecks:      ready,
		OptionalReady:    p.OptionalReadyChecks,
		Metrics:          p.Metrics,
		MetricsToken:     p.MetricsToken,
		TrustedProxies:   p.TrustedProxies,
		Pages:            pages,
		Staff:            staffSvc,
		Duplicates:       dups,
		Registries:       hosted,
		Extracts:         prints,
		Cases:            caseSvc,
	})
	messages.GaveUp = consents.DeliveryFailed
	if p.Outbox != nil {
		// /v1/dev/sms shows what a request just queued.
		p.Outbox.DeliverFirst(messages.Flush)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	purgerDone := make(chan struct{})
	go func() {
		defer close(done)
		messages.Run(ctx)
	}()
	notifyDone := make(chan struct{})
	go func() {
		defer close(notifyDone)
		notifications.Run(ctx)
	}()
	// Duplicates whose retention ended lose their scans.
	go func() {
		defer close(purgerDone)
		dups.RunPurger(ctx, p.Logger)
	}()
	var casesDone chan struct{}
	if deliverer != nil {
		casesDone = make(chan struct{})
		go func() {
			defer close(casesDone)
			deliverer.Run(ctx)
		}()
	}
	return &Service{Server: server, Log: hlog, Changes: changes, Documents: documents, Sharing: shares,
		Consents: consents, OTP: otpSvc, SignIn: signIn, Tokens: tokens, Staff: staffSvc, Duplicates: dups, Registries: hosted,
		Cases: caseSvc, Deliverer: deliverer, casesDone: casesDone,
		Messages: messages, Notifications: notifications, Devices: devices,
		stopMessages: stop, messagesDone: done, notifyDone: notifyDone, purgerDone: purgerDone}, nil
}

// compromisedKeys reads when a kid was declared compromised.
func compromisedKeys(st wallet.KeyCompromiseStore) func(ctx context.Context, kid string) (*time.Time, error) {
	return func(ctx context.Context, kid string) (*time.Time, error) {
		list, err := st.KeyCompromises(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range list {
			if k.KID == kid {
				at := k.At
				return &at, nil
			}
		}
		return nil, nil
	}
}
