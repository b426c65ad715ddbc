// Package app assembles the domain services over one database, one Redis
// and one vault, and ties them together with in-transaction hooks (opening
// the prepaid account when a visitor is approved, outbox events, the HTTP
// layer's idempotent responses). cmd/inbound and the end-to-end tests use
// it, so both run the same wiring.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/adjustment"
	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/internal/webhook"
	"github.com/inbound-gateway/inbound/kyc"
	"github.com/inbound-gateway/inbound/prepaid"
)

// Options are the settings the services need.
type Options struct {
	SanctionsDir         string
	FXRates              string
	QuoteTTL             time.Duration
	AccountValidity      time.Duration
	AllowPrivateWebhooks bool
	// SimulateFX moves the built-in rates a little over time (development).
	SimulateFX bool
	// AutoRelease is the default escrow auto-release delay.
	AutoRelease time.Duration
	// CardnetURL is the card-network simulator or connector to speak to.
	CardnetURL string
	// NetworkTimeout bounds one network call (default 10 s).
	NetworkTimeout time.Duration
	// AdjustmentCeiling bounds one adjustment (CNY; zero: the default).
	AdjustmentCeiling money.Amount
	// Registerer receives the network client's metrics (nil: none).
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Services are the assembled domain services.
type Services struct {
	Auth     *auth.Service
	Webhooks *webhook.Service
	KYC      *kyc.Service
	Accounts *prepaid.Store
	FX       *fx.Service
	Network  *gateway.Client
	Cards    *gateway.Binder
	Ledger   *ledger.Ledger
	// Adjustments are maker-checker ledger corrections.
	Adjustments *adjustment.Service
	Prepaid     *prepaid.Service
	Escrow      *escrow.Service

	// What the jobs need besides the services (Jobs).
	db     *db.DB
	vault  *vault.Vault
	quotes *fx.GormStore
}

// New builds the services.
func New(ctx context.Context, d *db.DB, v *vault.Vault, log *slog.Logger, o Options) (*Services, error) {
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().UTC() }
	}
	if o.AccountValidity <= 0 {
		o.AccountValidity = 2160 * time.Hour
	}
	s := &Services{
		Auth:     auth.NewService(auth.NewStore(d)),
		Webhooks: webhook.New(d, v, log, webhook.Options{AllowPrivate: o.AllowPrivateWebhooks, Now: o.Now}),
		Accounts: prepaid.NewStore(d),
		Ledger:   ledger.New(d),
		db:       d,
		vault:    v,
		quotes:   fx.NewGormStore(d),
	}

	sanctions, err := kyc.LoadSanctions(o.SanctionsDir)
	if err != nil {
		return nil, fmt.Errorf("sanctions list: %w", err)
	}
	hooks := kyc.Hooks{
		Approved: func(ctx context.Context, tx *db.Tx, vis kyc.Visitor) error {
			_, err := s.Accounts.OpenTx(tx, vis.ID, vis.PartnerID, o.Now(), o.AccountValidity)
			return err
		},
		Changed: func(ctx context.Context, tx *db.Tx, c kyc.Change) error {
			_, err := s.Webhooks.Emit(tx, c.Visitor.PartnerID, "visitor."+string(c.Visitor.Status), visitorEvent(c.Visitor))
			return err
		},
		// A visitor the re-screening job finds on a newly loaded list is
		// frozen pending review, and the audit log says the system did it.
		Rescreened: func(ctx context.Context, tx *db.Tx, c kyc.Change) error {
			if _, err := s.Accounts.FreezeTx(tx, c.Visitor.ID, s.Webhooks); err != nil && !errors.Is(err, prepaid.ErrNotFound) {
				return err
			}
			_, err := audit.Record(tx, audit.Entry{ActorID: kyc.ActorRescreen, ActorRole: audit.RoleSystem, Action: "visitor.rescreen",
				Target: c.Visitor.ID, Reason: c.Reason, After: audit.State(audit.Summary{Object: "visitor", ID: c.Visitor.ID,
					Status: string(c.Visitor.Status), Changed: []string{"kyc.status", "kyc.reasons", "account.status"}, ReviewID: c.ReviewID})})
			return err
		},
	}
	kycStore := kyc.NewStore(d, hooks)
	s.KYC = kyc.NewService(kycStore, sanctions, v, kyc.Options{Now: o.Now})

	src, err := fx.OpenSource(ctx, o.FXRates, fx.Options{Now: o.Now, Simulate: o.SimulateFX})
	if err != nil {
		return nil, fmt.Errorf("fx rates: %w", err)
	}
	cfg := fx.DefaultConfig()
	if o.QuoteTTL > 0 {
		cfg.TTL = o.QuoteTTL
	}
	s.FX, err = fx.NewService(src, s.quotes, cfg, o.Now)
	if err != nil {
		return nil, err
	}
	s.Adjustments, err = adjustment.New(d, s.Ledger, adjustment.Options{Staff: s.Auth, Accounts: s.Accounts,
		Ceiling: o.AdjustmentCeiling, ToCNY: midToCNY(src), Now: o.Now})
	if err != nil {
		return nil, err
	}

	if o.CardnetURL == "" {
		return nil, errors.New("app: no card network URL")
	}
	conn, err := gateway.NewHTTPConnector(o.CardnetURL, o.NetworkTimeout, nil)
	if err != nil {
		return nil, err
	}
	s.Network, err = gateway.NewClient(d, v, conn, gateway.ClientOptions{Now: o.Now, Logger: log, Registerer: o.Registerer})
	if err != nil {
		return nil, err
	}
	s.Cards = gateway.NewBinder(d, v, s.Network, s.Webhooks, gateway.BinderOptions{Now: o.Now, Logger: log,
		Promoter: verifiedTier{kycStore, s.Accounts}})

	eo := escrow.DefaultOptions()
	eo.Now = o.Now
	if o.AutoRelease > 0 {
		eo.AutoReleaseAfter = o.AutoRelease
		eo.MaxAutoReleaseAfter = max(eo.MaxAutoReleaseAfter, o.AutoRelease)
	}
	s.Escrow, err = escrow.New(d, s.Ledger, s.Accounts, s.Webhooks, eo)
	if err != nil {
		return nil, err
	}
	s.Prepaid, err = prepaid.NewService(prepaid.Deps{
		DB: d, Ledger: s.Ledger, Accounts: s.Accounts, Quotes: s.FX, QuoteUse: s.quotes, Rates: src,
		Network: s.Network, Cards: s.Cards, Events: s.Webhooks, Escrow: s.Escrow, Now: o.Now, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// midToCNY converts an amount to CNY at the current mid rate, rounded up
// to the fen (it is compared with a ceiling: rounding must not let an
// amount slip under it).
func midToCNY(src fx.Source) adjustment.ToCNY {
	return func(ctx context.Context, a money.Amount) (money.Amount, error) {
		t, err := src.Rates(ctx)
		if err != nil {
			return money.Amount{}, err
		}
		mid, err := t.Mid(a.Currency())
		if err != nil {
			return money.Amount{}, err
		}
		return money.FromDecimal(a.Decimal().Mul(mid).RoundUp(money.CNY.Digits()), money.CNY)
	}
}

// visitorEvent is the data of visitor.* events: the KYC outcome, no
// personal data beyond what the partner sent.
func visitorEvent(v kyc.Visitor) map[string]any {
	reasons := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		reasons[i] = string(r)
	}
	return map[string]any{"id": v.ID, "object": "visitor", "kyc": map[string]any{
		"status": string(v.Status), "tier": string(v.Tier), "reasons": reasons}}
}

// verifiedTier is the tier step of the card binding flow: when a card is
// verified, it lifts the visitor to the verified tier and the account to
// the verified limit profile (docs/API.md: approved passport, entry
// details, a verified card whose holder name matched), all in the
// binding's transaction.
type verifiedTier struct {
	kyc      *kyc.GormStore
	accounts *prepaid.Store
}

func (p verifiedTier) PromoteTx(tx *db.Tx, visitorID string, now time.Time) error {
	promoted, err := p.kyc.PromoteTx(tx, visitorID, now)
	if err != nil || !promoted {
		return err
	}
	if err := p.accounts.SetProfileTx(tx, visitorID, prepaid.Verified); err != nil && !errors.Is(err, prepaid.ErrNotFound) {
		return err
	}
	return nil
}

// EraseExpired runs the retention rule once at now: the personal data of
// visitors whose account closed more than retention ago, and of rejected
// visitors rejected that long ago, is erased (kyc.Service.EraseExpired).
// The ledger is not touched.
func (s *Services) EraseExpired(ctx context.Context, now time.Time, retention time.Duration) (int, error) {
	if retention <= 0 {
		retention = kyc.DefaultRetention
	}
	ids, err := s.Accounts.ClosedBefore(ctx, now.Add(-retention))
	if err != nil {
		return 0, err
	}
	return s.KYC.EraseExpired(ctx, ids, retention)
}
