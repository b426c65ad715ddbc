package fx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/money"
)

// Store keeps quotes. GormStore implements it; its Use, which marks a quote
// used inside the caller's transaction, takes a *gorm.DB and so is declared
// by the package that calls it (prepaid), not here.
type Store interface {
	// Create stores a new quote; then runs last in the same transaction.
	Create(ctx context.Context, q Quote, then []db.Then[Quote]) error
	// Get returns the owner's quote, or ErrQuoteNotFound, also when the quote
	// belongs to someone else.
	Get(ctx context.Context, owner Owner, id string) (Quote, error)
}

// Service makes, stores and looks up quotes from a rate source.
type Service struct {
	src   Source
	store Store
	cfg   Config
	now   func() time.Time
}

// NewService checks cfg and returns a Service; now is the clock (nil:
// time.Now).
func NewService(src Source, store Store, cfg Config, now func() time.Time) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src == nil || store == nil {
		return nil, errors.New("fx: service needs a rate source and a store")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{src: src, store: store, cfg: cfg, now: now}, nil
}

// Config returns the service's terms.
func (s *Service) Config() Config { return s.cfg }

// Quote prices a load (see NewQuote) and stores the quote. It is an
// operation of its own (POST /v1/fx/quotes): then runs in the quote's
// transaction, so a caller storing its idempotent response there gives a
// retry whose answer was lost the same quote back, never a second one at
// another rate.
func (s *Service) Quote(ctx context.Context, req Request, then ...db.Then[Quote]) (Quote, error) {
	return s.make(ctx, req, NewQuote, then)
}

// UnloadQuote prices an unload (see NewUnloadQuote) and stores the quote,
// so the unload record can name the rate it paid out at.
func (s *Service) UnloadQuote(ctx context.Context, req Request) (Quote, error) {
	return s.make(ctx, req, NewUnloadQuote, nil)
}

func (s *Service) make(ctx context.Context, req Request,
	price func(string, Request, Table, Config, time.Time) (Quote, error), then []db.Then[Quote]) (Quote, error) {
	t, err := s.src.Rates(ctx)
	if err != nil {
		// A source that cannot answer leaves us with no fresh rates.
		return Quote{}, fmt.Errorf("%w: %w", ErrRatesStale, err)
	}
	q, err := price(ids.New(ids.Quote), req, t, s.cfg, s.now())
	if err != nil {
		return Quote{}, err
	}
	if err := s.store.Create(ctx, q, then); err != nil {
		return Quote{}, err
	}
	return q, nil
}

// Get returns the owner's quote (ErrQuoteNotFound otherwise). It does not
// check expiry: use Quote.Usable.
func (s *Service) Get(ctx context.Context, owner Owner, id string) (Quote, error) {
	return s.store.Get(ctx, owner, id)
}

// Rate is one line of the indicative rates list (GET /v1/fx/rates).
type Rate struct {
	Currency money.Currency
	// Mid is the mid-market rate, CNY per unit.
	Mid decimal.Decimal
	// Load and Unload are the customer rates of the two directions.
	Load   decimal.Decimal
	Unload decimal.Decimal
	AsOf   time.Time
}

// MidString prints the mid as quotes do. The three strings use the same
// decimals as Quote.RateString; the customer rates round against the
// customer.
func (r Rate) MidString() string { return r.Mid.StringFixed(ratePlaces(r.Mid)) }

// LoadString prints the load rate rounded down.
func (r Rate) LoadString() string {
	p := ratePlaces(r.Mid)
	return r.Load.RoundFloor(p).StringFixed(p)
}

// UnloadString prints the unload rate rounded up.
func (r Rate) UnloadString() string {
	p := ratePlaces(r.Mid)
	return r.Unload.RoundCeil(p).StringFixed(p)
}

// Rates lists indicative rates of every currency the source has, in code
// order, or ErrRatesStale. Indicative: a quote may differ when the market
// moves.
func (s *Service) Rates(ctx context.Context) ([]Rate, error) {
	t, err := s.src.Rates(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRatesStale, err)
	}
	if err := t.Fresh(s.now(), s.cfg.MaxAge); err != nil {
		return nil, err
	}
	one := decimal.NewFromInt(1)
	var out []Rate
	for _, code := range t.Currencies() {
		c, err := CardCurrency(code)
		if err != nil {
			continue // NewTable admits card currencies only
		}
		mid := t.mids[code]
		out = append(out, Rate{
			Currency: c,
			Mid:      mid,
			Load:     mid.Mul(one.Sub(s.cfg.Spread)),
			Unload:   mid.Mul(one.Add(s.cfg.Spread)),
			AsOf:     t.AsOf(),
		})
	}
	return out, nil
}
