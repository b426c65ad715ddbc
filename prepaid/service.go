package prepaid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
)

// Errors of loads and unloads. The suggested HTTP mapping is on each; the
// account errors (ErrFrozen 403 account_frozen, ErrExpired 403
// account_expired, ErrClosed 403 account_closed, ErrNotFound 404) are in
// account.go, and the errors of fx and gateway pass through wrapped.
var (
	// ErrLimitExceeded: a limit of the account's profile refuses the load.
	// It always comes as a *LimitError naming the limit and the room left
	// (422 limit_error / limit_exceeded).
	ErrLimitExceeded = errors.New("prepaid: limit exceeded")
	// ErrLoadNotFound: no such load for this partner (404 resource_missing).
	ErrLoadNotFound = errors.New("prepaid: load not found")
	// ErrQuoteMismatch: the quote is not a load quote for this card
	// (400 invalid_request_error / quote_mismatch, param quote_id).
	ErrQuoteMismatch = errors.New("prepaid: quote does not match the card")
	// ErrCardNotUsable: the card is not a verified card of this visitor, or
	// (unload) never funded the account (400 invalid_request_error /
	// card_not_usable, param card_id).
	ErrCardNotUsable = errors.New("prepaid: card cannot be used")
	// ErrNoActionRequired: Authenticate on a load that is not waiting for
	// an OTP (409 invalid_state).
	ErrNoActionRequired = errors.New("prepaid: load is not waiting for authentication")
	// ErrInvalidOTP: an empty or overlong OTP (400 invalid_request_error /
	// otp_invalid, param otp).
	ErrInvalidOTP = errors.New("prepaid: invalid OTP")
	// ErrUnloadInProgress: another unload of the account is still being
	// decided by the network (409 unload_in_progress; retry later).
	ErrUnloadInProgress = errors.New("prepaid: an unload is in progress")
	// ErrNothingToUnload: the available balance is zero, or too small to
	// buy one minor unit of the card's currency (409 nothing_to_unload).
	ErrNothingToUnload = errors.New("prepaid: nothing to unload")
	// ErrCloseBlocked is an unload with close while money is still on its
	// way to or from the account (a load in flight, a payment in escrow):
	// 409 account_busy; unload without close, or retry when they end.
	ErrCloseBlocked = errors.New("prepaid: the account cannot close while money is in flight or in escrow")
	// ErrUnresolved: the network's answer could not be recorded and the
	// load or unload is left to Recover; nothing stands half done, but the
	// outcome is not known yet (503 api_error, retry with the same
	// Idempotency-Key later, or read the load).
	ErrUnresolved = errors.New("prepaid: outcome not known yet")
)

// Network is the card network client a load or unload goes through
// (*gateway.Client).
type Network interface {
	Sale(ctx context.Context, cardID, reference string, amount money.Amount, apply gateway.Apply) (gateway.Call, error)
	Authenticate(ctx context.Context, callID, otp string, apply gateway.Apply) (gateway.Call, error)
	Refund(ctx context.Context, cardID, reference string, amount money.Amount, originalCallID string, apply gateway.Apply) (gateway.Call, error)
	Reverse(ctx context.Context, callID string) (gateway.Call, error)
	Inquire(ctx context.Context, callID string, apply gateway.Apply) (gateway.Call, error)
	CallsByReference(ctx context.Context, reference string) ([]gateway.Call, error)
}

// Cards finds a partner's bound card (*gateway.Binder).
type Cards interface {
	CardOf(ctx context.Context, partnerID, cardID string) (gateway.Card, error)
}

// Quotes gets load quotes and makes unload quotes (*fx.Service).
type Quotes interface {
	Get(ctx context.Context, owner fx.Owner, id string) (fx.Quote, error)
	UnloadQuote(ctx context.Context, req fx.Request) (fx.Quote, error)
}

// QuoteUser marks a quote used inside the caller's transaction
// (*fx.GormStore), so a quote is spent exactly when its load is recorded.
type QuoteUser interface {
	Use(ctx context.Context, tx *db.Tx, id string, now time.Time) error
}

// EscrowHeld reports the CNY of a visitor's payments still waiting in
// escrow. Escrow moves a payment out of the prepaid account into its own
// account, so the account view adds it back as held. internal/escrow
// imports this package, so the lead's wiring adapts it (a sum of the
// escrow:<pay> balances of the visitor's held and disputed payments).
type EscrowHeld interface {
	HeldFor(ctx context.Context, visitorID string) (money.Amount, error)
}

// Deps are what a Service needs. Every field but Logger, Now and the
// durations is required.
type Deps struct {
	DB       *db.DB
	Ledger   *ledger.Ledger
	Accounts *Store
	Quotes   Quotes
	QuoteUse QuoteUser
	// Rates values loads in USD at mid for the per-load and annual limits.
	Rates   fx.Source
	Network Network
	Cards   Cards
	Events  Events
	// Escrow is optional: nil shows no escrow money as held.
	Escrow EscrowHeld
	Limits Limits
	Now    func() time.Time
	Logger *slog.Logger
	// Grace is how long a pending load or unload must have gone without
	// a renewal of its lease before Recover takes it over (default 10 s).
	// The request working on it renews the lease every third of Grace
	// while it runs (keepLeased), so Recover never takes over a live
	// request however long its network call lasts, and settles the work
	// of a request whose process died within seconds.
	Grace time.Duration
	// ActionTTL is how long a requires_action load waits for its OTP
	// before Recover fails it and frees its limit room (default 30 min).
	ActionTTL time.Duration
	// Batch bounds the rows one Recover or ExpireAccounts run takes
	// (default 50).
	Batch int
}

// DefaultGrace is Deps.Grace when none is given.
const DefaultGrace = 10 * time.Second

// Service runs loads, unloads, the account view and statement, and the
// recovery and expiry jobs of prepaid accounts.
type Service struct {
	d    Deps
	st   *Store
	led  *ledger.Ledger
	now  func() time.Time
	log  *slog.Logger
	accs sync.Map // ledger account code -> id, for accounts known to exist
}

// NewService checks deps and returns the Service.
func NewService(d Deps) (*Service, error) {
	if d.DB == nil || d.Ledger == nil || d.Accounts == nil || d.Quotes == nil || d.QuoteUse == nil ||
		d.Rates == nil || d.Network == nil || d.Cards == nil || d.Events == nil {
		return nil, errors.New("prepaid: service needs every dependency")
	}
	if err := d.Limits.Validate(); err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Grace <= 0 {
		d.Grace = DefaultGrace
	}
	if d.ActionTTL <= 0 {
		d.ActionTTL = 30 * time.Minute
	}
	if d.Batch <= 0 {
		d.Batch = 50
	}
	return &Service{d: d, st: d.Accounts, led: d.Ledger, now: func() time.Time { return d.Now().UTC() }, log: d.Logger}, nil
}

// Ledger account codes of the ledger's chart of accounts.
const (
	codeFees   = "revenue:fees"
	codeSpread = "revenue:fx_spread"
	// hotSlots spreads the row locks of the accounts every load writes.
	hotSlots = 16
)

func networkCode(n, cur string) string { return "network:" + n + ":" + cur }
func fxCode(cur string) string         { return "fx:" + cur }

// VisitorLedgerSpec is the ledger account of a visitor's prepaid balance.
// Every package that posts to it (escrow) must ensure it with this spec.
func VisitorLedgerSpec(visitorID string) ledger.AccountSpec {
	return ledger.AccountSpec{Code: LedgerCode(visitorID), Currency: money.CNY, Kind: ledger.Liability,
		Owner: visitorID, NoNegative: true}
}

// account returns the ledger id of the account spec describes, creating
// it in its own transaction the first time (so a rolled-back caller never
// leaves a cached id of an account that does not exist). An account made
// by another package with other attributes is used as it is, as long as
// its currency is right: its code says what it is.
func (s *Service) account(ctx context.Context, spec ledger.AccountSpec) (string, error) {
	if id, ok := s.accs.Load(spec.Code); ok {
		return id.(string), nil
	}
	a, err := s.led.EnsureAccount(ctx, spec)
	if errors.Is(err, ledger.ErrAccountConflict) {
		a, err = s.led.AccountByCode(ctx, spec.Code)
		if err == nil && a.Currency != spec.Currency {
			err = fmt.Errorf("prepaid: ledger account %s is in %s: %w", spec.Code, a.Currency, ledger.ErrAccountConflict)
		}
	}
	if err != nil {
		return "", fmt.Errorf("prepaid: ledger account %s: %w", spec.Code, err)
	}
	s.accs.Store(spec.Code, a.ID)
	return a.ID, nil
}

// hot returns the id of an unconstrained, slotted account.
func (s *Service) hot(ctx context.Context, code string, cur money.Currency, kind ledger.Kind) (string, error) {
	return s.account(ctx, ledger.AccountSpec{Code: code, Currency: cur, Kind: kind, Slots: hotSlots})
}

// roleAccounts maps the roles of fx.Quote.Legs to ledger account ids for a
// conversion of visitorID on a card of network n in currency cur.
func (s *Service) roleAccounts(ctx context.Context, visitorID, n string, cur money.Currency) (map[fx.Role]string, error) {
	out := map[fx.Role]string{}
	var err error
	set := func(r fx.Role, f func() (string, error)) {
		if err != nil {
			return
		}
		out[r], err = f()
	}
	set(fx.RoleNetwork, func() (string, error) {
		return s.hot(ctx, networkCode(n, cur.Code()), cur, ledger.Asset)
	})
	set(fx.RoleFXCard, func() (string, error) { return s.hot(ctx, fxCode(cur.Code()), cur, ledger.Asset) })
	set(fx.RoleFXCNY, func() (string, error) { return s.hot(ctx, fxCode(money.CNY.Code()), money.CNY, ledger.Asset) })
	set(fx.RoleFees, func() (string, error) { return s.hot(ctx, codeFees, money.CNY, ledger.Revenue) })
	set(fx.RoleSpread, func() (string, error) { return s.hot(ctx, codeSpread, money.CNY, ledger.Revenue) })
	set(fx.RoleVisitor, func() (string, error) { return s.account(ctx, VisitorLedgerSpec(visitorID)) })
	return out, err
}

// emit writes an outbox event inside tx.
func (s *Service) emit(tx *db.Tx, partnerID, typ string, data any) error {
	if _, err := s.d.Events.Emit(tx, partnerID, typ, data); err != nil {
		return fmt.Errorf("prepaid: emit %s: %w", typ, err)
	}
	return nil
}

// The events of this package (docs/API.md, Webhooks).
const (
	EventLoadSucceeded   = "load.succeeded"
	EventLoadFailed      = "load.failed"
	EventUnloadSucceeded = "unload.succeeded"
	EventAccountExpired  = "account.expired"
)

// NetworkInfo is what the card network said about a load or unload.
type NetworkInfo struct {
	ResponseCode string `json:"response_code"`
	AuthCode     string `json:"auth_code"`
	STAN         string `json:"stan"`
	RRN          string `json:"rrn"`
}

// declineOf is the decline code of a call that did not go through.
func declineOf(c gateway.Call) string {
	if c.DeclineCode != "" {
		return c.DeclineCode
	}
	var de *gateway.DeclineError
	if errors.As(c.Err(), &de) {
		return de.Code
	}
	return gateway.DeclineProcessingError
}

// declineErr is the error a failed load or unload returns: the decline as
// a *gateway.DeclineError (402 card_error with decline_code).
func declineErr(code string) error {
	d := gateway.Decline{Code: code}
	if code == gateway.DeclineIssuerUnavailable {
		d = gateway.NoAnswerDecline()
	}
	return &gateway.DeclineError{Decline: d}
}
