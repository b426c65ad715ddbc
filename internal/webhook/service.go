package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/vault"
)

const secretLabel = "webhook-secret"

// Options configure the service.
type Options struct {
	// AllowPrivate lets endpoints point at private and loopback addresses
	// (tests, on-premises receivers). Off by default: SSRF.
	AllowPrivate bool
	Timeout      time.Duration // per attempt, default 10 s
	Batch        int           // deliveries claimed per round, default 50
	Workers      int           // concurrent sends, default 8
	Now          func() time.Time
}

// Service manages endpoints, writes events and dispatches deliveries.
type Service struct {
	store    store
	vault    *vault.Vault
	opts     Options
	client   *http.Client
	resolver *net.Resolver
	log      *slog.Logger
}

// New builds the service.
func New(d *db.DB, v *vault.Vault, log *slog.Logger, o Options) *Service {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 50
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().UTC() }
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: dialControl(o.AllowPrivate)}
	client := &http.Client{
		Timeout:   o.Timeout,
		Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 60 * time.Second},
		// A redirect could lead anywhere: treat it as a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Service{store: store{db: d}, vault: v, opts: o, client: client, resolver: net.DefaultResolver, log: log}
}

// newSecret returns "whsec_" and 32 bytes from crypto/rand, base64url
// encoded. Not ids: a ULID's time part and monotonic counter are shared
// with every id made in the same millisecond, the endpoint's own id
// included, which left about 64 unknown bits.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// SecretPrefix starts every signing secret, so a leaked one is recognisable.
const SecretPrefix = "whsec_"

// CreatedEndpoint is a new endpoint with its signing secret, shown this
// once.
type CreatedEndpoint struct {
	Endpoint Endpoint
	Secret   string
}

// CreateEndpoint registers an endpoint and returns its signing secret, shown
// this once. then runs last in the transaction that creates it, with the
// secret (a caller storing its response there shows it on a replay too).
func (s *Service) CreateEndpoint(ctx context.Context, partnerID, rawURL string, events []string, description string, then ...db.Then[CreatedEndpoint]) (Endpoint, string, error) {
	if err := CheckURL(ctx, rawURL, s.opts.AllowPrivate, s.resolver); err != nil {
		return Endpoint{}, "", err
	}
	if err := ValidateEvents(events); err != nil {
		return Endpoint{}, "", err
	}
	secret := newSecret()
	e := Endpoint{ID: ids.New(ids.WebhookEndpoint), PartnerID: partnerID, URL: rawURL, Events: events,
		Description: description, Status: "enabled", CreatedAt: s.opts.Now()}
	withSecret := func(tx *db.Tx, e Endpoint) error {
		return db.RunThen(tx, CreatedEndpoint{Endpoint: e, Secret: secret}, then...)
	}
	if err := s.store.createEndpoint(ctx, e, s.vault.Seal(secretLabel+":"+e.ID, []byte(secret)), withSecret); err != nil {
		return Endpoint{}, "", err
	}
	return e, secret, nil
}

// Endpoint returns one of the partner's endpoints.
func (s *Service) Endpoint(ctx context.Context, partnerID, id string) (Endpoint, error) {
	return s.store.endpoint(ctx, partnerID, id)
}

// Endpoints lists the partner's endpoints, newest first.
func (s *Service) Endpoints(ctx context.Context, partnerID, after string, limit int) ([]Endpoint, bool, error) {
	return s.store.listEndpoints(ctx, partnerID, after, limit)
}

// DeleteEndpoint removes an endpoint; its pending deliveries stop.
func (s *Service) DeleteEndpoint(ctx context.Context, partnerID, id string, then ...db.Then[Endpoint]) (Endpoint, error) {
	return s.store.deleteEndpoint(ctx, partnerID, id, then)
}

// Emit writes an event of type typ about data into the outbox, inside the
// caller's transaction tx, and returns its id.
func (s *Service) Emit(tx *db.Tx, partnerID, typ string, data any) (string, error) {
	id := ids.New(ids.Event)
	now := s.opts.Now()
	body, err := marshalEvent(id, typ, now, data)
	if err != nil {
		return "", fmt.Errorf("webhook: event body: %w", err)
	}
	return id, emit(tx, id, partnerID, typ, body, now)
}

// fanOutBatch is how many events one fan-out transaction takes, and
// fanOutRounds how many such transactions one dispatch round runs at most.
const (
	fanOutBatch  = 500
	fanOutRounds = 20
)

// DispatchOnce creates the deliveries of the events written since the last
// round (for the endpoints enabled now), then claims due deliveries and
// sends them; it returns how many it attempted.
func (s *Service) DispatchOnce(ctx context.Context) (int, error) {
	n, _, err := s.dispatch(ctx)
	return n, err
}

// dispatch is DispatchOnce; more reports that events were left to fan out.
func (s *Service) dispatch(ctx context.Context) (n int, more bool, err error) {
	for range fanOutRounds {
		k, err := s.store.fanOut(ctx, s.opts.Now(), fanOutBatch)
		if err != nil {
			return 0, false, err
		}
		more = k == fanOutBatch
		if !more {
			break
		}
	}
	jobs, err := s.store.claim(ctx, s.opts.Now(), 2*s.opts.Timeout+time.Minute, s.opts.Batch)
	if err != nil || len(jobs) == 0 {
		return 0, more, err
	}
	sem := make(chan struct{}, s.opts.Workers)
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.send(ctx, j)
		})
	}
	wg.Wait()
	return len(jobs), more, nil
}

func (s *Service) send(ctx context.Context, j job) {
	start := s.opts.Now()
	code, errText := 0, ""
	secret, err := s.vault.Open(secretLabel+":"+j.endpointID, j.secretSealed)
	if err != nil {
		errText = "signing secret unavailable"
		var uk *vault.UnknownKeyError
		if errors.As(err, &uk) {
			s.log.ErrorContext(ctx, "webhook: signing secret sealed under a master key not in the keyring; add it back to INBOUND_MASTER_KEY_PREVIOUS",
				"endpoint", j.endpointID, "key_id", uk.KeyID)
		}
	} else {
		code, errText = s.post(ctx, j, string(secret))
	}
	took := s.opts.Now().Sub(start)
	if err := s.store.finish(context.WithoutCancel(ctx), j, s.opts.Now(), code, errText, took); err != nil {
		s.log.ErrorContext(ctx, "webhook: record attempt", "delivery", j.deliveryID, "err", err)
	}
}

func (s *Service) post(ctx context.Context, j job, secret string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, strings.NewReader(string(j.body)))
	if err != nil {
		return 0, "bad request: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Inbound-Webhooks/1")
	req.Header.Set("Inbound-Event-Id", j.eventID)
	req.Header.Set("Inbound-Signature", Sign(secret, s.opts.Now(), j.body))
	res, err := s.client.Do(req)
	if err != nil {
		return 0, truncate(err.Error(), 500)
	}
	defer res.Body.Close()
	return res.StatusCode, ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Run dispatches until ctx ends, every interval (and at once again when a
// round was full, or left events to fan out).
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	for {
		n, more, err := s.dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "webhook dispatcher", "err", err)
		}
		if (n == s.opts.Batch || more) && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
