package fx

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/inbound-gateway/inbound/internal/money"
)

// Config holds the commercial terms of quotes. All of it is configuration;
// DefaultConfig gives the values of docs/API.md.
type Config struct {
	// Spread is taken off the mid for loads and added for unloads (0.01 = 1 %).
	Spread decimal.Decimal
	// FeeRate is the load fee as a fraction of the CNY amount (0.03 = 3 %).
	FeeRate decimal.Decimal
	// FeeThreshold: the fee applies when the CNY amount is over it.
	FeeThreshold money.Amount
	// TTL is how long a quote can be used (INBOUND_QUOTE_TTL).
	TTL time.Duration
	// MaxAge is the staleness limit: older rates refuse quotes.
	MaxAge time.Duration
}

// DefaultMaxAge is the default staleness limit. Card schemes publish one
// reference rate a day; a mid older than that means the feed stopped.
const DefaultMaxAge = 24 * time.Hour

// DefaultConfig returns the terms of docs/API.md: 1 % spread, a 3 % fee on
// loads over CNY 200, quotes valid 60 s, rates stale after a day.
func DefaultConfig() Config {
	return Config{
		Spread:       decimal.New(1, -2),
		FeeRate:      decimal.New(3, -2),
		FeeThreshold: money.New(200_00, money.CNY),
		TTL:          60 * time.Second,
		MaxAge:       DefaultMaxAge,
	}
}

// Validate refuses terms that would make the math meaningless: a spread or
// fee rate outside [0, 0.5), a threshold not in CNY or negative, a
// non-positive TTL or staleness limit.
func (c Config) Validate() error {
	half := decimal.New(5, -1)
	var errs []error
	if c.Spread.IsNegative() || c.Spread.GreaterThanOrEqual(half) {
		errs = append(errs, fmt.Errorf("spread %s is not in [0, 0.5)", c.Spread))
	}
	if c.FeeRate.IsNegative() || c.FeeRate.GreaterThanOrEqual(half) {
		errs = append(errs, fmt.Errorf("fee rate %s is not in [0, 0.5)", c.FeeRate))
	}
	if c.FeeThreshold.Currency() != money.CNY || c.FeeThreshold.IsNegative() {
		errs = append(errs, fmt.Errorf("fee threshold %s is not a CNY amount >= 0", c.FeeThreshold))
	}
	if c.TTL <= 0 {
		errs = append(errs, fmt.Errorf("quote TTL %s is not positive", c.TTL))
	}
	if c.MaxAge <= 0 {
		errs = append(errs, fmt.Errorf("rates staleness limit %s is not positive", c.MaxAge))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fx: config: %w", err)
	}
	return nil
}

// Request asks for a quote.
type Request struct {
	Owner  Owner
	CardID string
	// Card is the card's billing currency: the sell currency of a load and
	// the buy currency of an unload.
	Card money.Currency
	// Amount fixes one side. For a load it is either the CNY to buy or the
	// card currency to sell; for an unload it is the CNY to sell.
	Amount money.Amount
}

// Quote is a priced conversion, immutable once made. Sell is what the
// customer gives and Buy what the customer gets: card currency -> CNY for a
// load, CNY -> card currency for an unload. Rates are CNY per unit of the
// card currency either way.
type Quote struct {
	id        string
	kind      Kind
	owner     Owner
	cardID    string
	sell      money.Amount
	buy       money.Amount
	rate      decimal.Decimal
	mid       decimal.Decimal
	fee       money.Amount
	credited  money.Amount
	midValue  money.Amount
	ratesAsOf time.Time
	createdAt time.Time
	expiresAt time.Time
	usedAt    time.Time
}

// NewQuote prices a load: the customer sells req.Card and buys CNY at
// mid x (1 - spread), less the fee. req.Amount in CNY fixes the buy side
// (sell = buy / rate rounded up to the card's minor unit); in the card
// currency it fixes the sell side (buy = sell x rate rounded down to the
// fen). It refuses stale rates (ErrRatesStale), a currency without a rate
// (ErrUnsupportedCurrency) and an amount that is not positive, in a third
// currency, or that converts to nothing after the fee (ErrInvalidAmount).
// id is the quote id (ids.New(ids.Quote)); times are taken from now.
func NewQuote(id string, req Request, rates Table, cfg Config, now time.Time) (Quote, error) {
	q, mid, err := begin(id, KindLoad, req, rates, cfg, now)
	if err != nil {
		return Quote{}, err
	}
	one := decimal.NewFromInt(1)
	q.rate = mid.Mul(one.Sub(cfg.Spread))
	switch req.Amount.Currency() {
	case money.CNY:
		q.buy = req.Amount
		sell, err := ceilDiv(q.buy.Decimal(), q.rate, req.Card)
		if err != nil {
			return Quote{}, err
		}
		q.sell = sell
	case req.Card:
		q.sell = req.Amount
		buy, err := money.FromDecimal(q.sell.Decimal().Mul(q.rate).RoundFloor(money.CNY.Digits()), money.CNY)
		if err != nil {
			return Quote{}, fmt.Errorf("%w: %s: %w", ErrInvalidAmount, req.Amount, err)
		}
		q.buy = buy
	default:
		return Quote{}, fmt.Errorf("%w: %s is neither CNY nor the card's %s", ErrInvalidAmount, req.Amount, req.Card)
	}
	q.fee = money.New(0, money.CNY)
	if q.buy.Minor() > cfg.FeeThreshold.Minor() {
		// Fee rounded up to the fen: the bank's favour.
		fee, err := money.FromDecimal(q.buy.Decimal().Mul(cfg.FeeRate).RoundCeil(money.CNY.Digits()), money.CNY)
		if err != nil {
			return Quote{}, fmt.Errorf("%w: %s: %w", ErrInvalidAmount, req.Amount, err)
		}
		q.fee = fee
	}
	credited, err := q.buy.Sub(q.fee)
	if err != nil || !credited.IsPositive() || !q.sell.IsPositive() {
		return Quote{}, fmt.Errorf("%w: %s converts to nothing", ErrInvalidAmount, req.Amount)
	}
	q.credited = credited
	// Down: never book more spread revenue than the rounding actually gave.
	mv, err := money.FromDecimal(q.sell.Decimal().Mul(mid).RoundFloor(money.CNY.Digits()), money.CNY)
	if err != nil {
		return Quote{}, fmt.Errorf("%w: %s: %w", ErrInvalidAmount, req.Amount, err)
	}
	q.midValue = mv
	return q, nil
}

// NewUnloadQuote prices an unload: the customer sells req.Amount of CNY and
// buys req.Card at mid x (1 + spread) CNY per unit; the card amount is
// CNY / rate rounded down to the card's minor unit, so the bank never pays
// out a fraction more than the rate gives. There is no fee: Fee is zero CNY
// and Credited equals Buy. A CNY amount too small to buy one minor unit is
// ErrInvalidAmount; the caller decides what happens to such a remainder.
func NewUnloadQuote(id string, req Request, rates Table, cfg Config, now time.Time) (Quote, error) {
	q, mid, err := begin(id, KindUnload, req, rates, cfg, now)
	if err != nil {
		return Quote{}, err
	}
	if req.Amount.Currency() != money.CNY {
		return Quote{}, fmt.Errorf("%w: an unload sells CNY, not %s", ErrInvalidAmount, req.Amount.Currency())
	}
	q.rate = mid.Mul(decimal.NewFromInt(1).Add(cfg.Spread))
	q.sell = req.Amount
	buy, _ := req.Amount.Decimal().QuoRem(q.rate, req.Card.Digits())
	q.buy, err = money.FromDecimal(buy, req.Card)
	if err != nil {
		return Quote{}, fmt.Errorf("%w: %s: %w", ErrInvalidAmount, req.Amount, err)
	}
	if !q.buy.IsPositive() {
		return Quote{}, fmt.Errorf("%w: %s buys less than one minor unit of %s", ErrInvalidAmount, req.Amount, req.Card)
	}
	q.fee = money.New(0, money.CNY)
	q.credited = q.buy
	// Up: the spread booked (Sell - MidValue) never exceeds what was earned.
	mv, err := money.FromDecimal(q.buy.Decimal().Mul(mid).RoundCeil(money.CNY.Digits()), money.CNY)
	if err != nil {
		return Quote{}, fmt.Errorf("%w: %s: %w", ErrInvalidAmount, req.Amount, err)
	}
	q.midValue = mv
	return q, nil
}

// begin does the checks and fields both kinds share.
func begin(id string, kind Kind, req Request, rates Table, cfg Config, now time.Time) (Quote, decimal.Decimal, error) {
	if err := cfg.Validate(); err != nil {
		return Quote{}, decimal.Decimal{}, err
	}
	if id == "" {
		return Quote{}, decimal.Decimal{}, errors.New("fx: quote id is empty")
	}
	if _, err := CardCurrency(req.Card.Code()); err != nil {
		return Quote{}, decimal.Decimal{}, err
	}
	if !req.Amount.IsPositive() {
		return Quote{}, decimal.Decimal{}, fmt.Errorf("%w: %s is not positive", ErrInvalidAmount, req.Amount)
	}
	if err := rates.Fresh(now, cfg.MaxAge); err != nil {
		return Quote{}, decimal.Decimal{}, err
	}
	mid, err := rates.Mid(req.Card)
	if err != nil {
		return Quote{}, decimal.Decimal{}, err
	}
	now = now.UTC().Truncate(time.Microsecond) // what PostgreSQL keeps
	// A quote never outlives the rates it was priced on.
	expires := now.Add(cfg.TTL)
	if limit := rates.AsOf().Add(cfg.MaxAge).Truncate(time.Microsecond); limit.Before(expires) {
		expires = limit
	}
	if !expires.After(now) {
		return Quote{}, decimal.Decimal{}, fmt.Errorf("%w: rates as of %s reach the limit now", ErrRatesStale, rates.AsOf().Format(time.RFC3339))
	}
	return Quote{
		id:        id,
		kind:      kind,
		owner:     req.Owner,
		cardID:    req.CardID,
		mid:       mid,
		ratesAsOf: rates.AsOf(),
		createdAt: now,
		expiresAt: expires,
	}, mid, nil
}

// ceilDiv is a / rate rounded up to c's minor unit, exactly: QuoRem gives a
// truncated quotient and a remainder, where Div would round at its own
// precision and could land a hair under a true boundary.
func ceilDiv(a, rate decimal.Decimal, c money.Currency) (money.Amount, error) {
	q, r := a.QuoRem(rate, c.Digits())
	if r.IsPositive() {
		q = q.Add(decimal.New(1, -c.Digits()))
	}
	out, err := money.FromDecimal(q, c)
	if err != nil {
		return money.Amount{}, fmt.Errorf("%w: %s: %w", ErrInvalidAmount, a, err)
	}
	return out, nil
}

// ID is the quote id ("quo_...").
func (q Quote) ID() string { return q.id }

// Kind is KindLoad or KindUnload.
func (q Quote) Kind() Kind { return q.kind }

// Owner is the partner and visitor the quote was made for.
func (q Quote) Owner() Owner { return q.owner }

// CardID is the card the quote was made for.
func (q Quote) CardID() string { return q.cardID }

// Sell is what the customer gives: the card amount of a load (charged to
// the card), the CNY of an unload (taken from the account).
func (q Quote) Sell() money.Amount { return q.sell }

// Buy is what the customer gets before fees: CNY for a load, card currency
// for an unload.
func (q Quote) Buy() money.Amount { return q.buy }

// Rate is the exact customer rate used in the math, CNY per card unit.
func (q Quote) Rate() decimal.Decimal { return q.rate }

// MidRate is the mid-market rate the quote was priced on.
func (q Quote) MidRate() decimal.Decimal { return q.mid }

// RateString prints the customer rate as in the API ("7.0507"), rounded
// against the customer: down for a load (CNY the customer gets per unit),
// up for an unload (CNY the customer pays per unit). The amounts are always
// at least as good for the customer as the printed rate says.
func (q Quote) RateString() string {
	p := ratePlaces(q.mid)
	if q.kind == KindUnload {
		return q.rate.RoundCeil(p).StringFixed(p)
	}
	return q.rate.RoundFloor(p).StringFixed(p)
}

// MidRateString prints the mid with the same decimals as RateString.
func (q Quote) MidRateString() string {
	p := ratePlaces(q.mid)
	return q.mid.StringFixed(p)
}

// Fee is the load fee in CNY (zero for unloads and small loads).
func (q Quote) Fee() money.Amount { return q.fee }

// Credited is what reaches the customer: Buy less Fee in CNY for a load
// (the prepaid credit), Buy in card currency for an unload (the refund).
func (q Quote) Credited() money.Amount { return q.credited }

// MidValue is the card amount valued at mid in CNY (rounded down for a
// load, up for an unload): the CNY side of the FX position's entry.
func (q Quote) MidValue() money.Amount { return q.midValue }

// SpreadRevenue is the CNY the bank earns on the rate, rounding included:
// MidValue - Buy for a load, Sell - MidValue for an unload. Never negative.
func (q Quote) SpreadRevenue() money.Amount {
	if q.kind == KindUnload {
		return money.New(q.sell.Minor()-q.midValue.Minor(), money.CNY)
	}
	return money.New(q.midValue.Minor()-q.buy.Minor(), money.CNY)
}

// Card is the card-currency side: Sell of a load, Buy of an unload.
func (q Quote) Card() money.Amount {
	if q.kind == KindUnload {
		return q.buy
	}
	return q.sell
}

// CNY is the CNY side before fees: Buy of a load, Sell of an unload.
func (q Quote) CNY() money.Amount {
	if q.kind == KindUnload {
		return q.sell
	}
	return q.buy
}

// RatesAsOf is when the mid was observed.
func (q Quote) RatesAsOf() time.Time { return q.ratesAsOf }

// CreatedAt is when the quote was made.
func (q Quote) CreatedAt() time.Time { return q.createdAt }

// ExpiresAt is the end of the quote's validity (exclusive).
func (q Quote) ExpiresAt() time.Time { return q.expiresAt }

// UsedAt is when the quote was used, or the zero time.
func (q Quote) UsedAt() time.Time { return q.usedAt }

// Used reports whether the quote has been used.
func (q Quote) Used() bool { return !q.usedAt.IsZero() }

// Usable returns ErrQuoteExpired when the quote is used or expired at now.
// It is a read-only check for early, friendly errors; the store's Use is
// what makes the single use atomic.
func (q Quote) Usable(now time.Time) error {
	if q.Used() {
		return fmt.Errorf("%w: %s was used at %s", ErrQuoteExpired, q.id, q.usedAt.Format(time.RFC3339))
	}
	if !now.Before(q.expiresAt) {
		return fmt.Errorf("%w: %s expired at %s", ErrQuoteExpired, q.id, q.expiresAt.Format(time.RFC3339))
	}
	return nil
}

// ratePlaces is how many decimals a rate near mid is printed (and the
// built-in walk rounded) with: four, as in the API ("7.1220"), and more for
// small rates so at least four significant digits show: JPY "0.04730",
// KRW "0.005120".
func ratePlaces(mid decimal.Decimal) int32 {
	p := int32(4)
	tenth := decimal.New(1, -1)
	for x := mid; x.IsPositive() && x.LessThan(tenth) && p < maxRateDecimals; x = x.Shift(1) {
		p++
	}
	return p
}
