package prepaid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/internal/money"
)

// The limits a load can break, as LimitError.Limit names them.
const (
	LimitMinLoad    = "min_load"
	LimitBalanceCap = "balance_cap"
	LimitPerLoad    = "per_load"
	LimitAnnual     = "annual"
)

// LimitError says which limit refused a load and how much room it leaves:
// for balance_cap the CNY that can still be credited, for annual the USD
// that can still be loaded this year, for per_load the USD maximum of one
// load, for min_load the CNY minimum. errors.Is(err, ErrLimitExceeded)
// matches it.
type LimitError struct {
	Limit string
	Room  money.Amount
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("prepaid: limit exceeded: %s (room %s)", e.Limit, e.Room)
}

// Is makes errors.Is(err, ErrLimitExceeded) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimitExceeded }

// LimitProfile is the configuration of one profile. A zero amount means
// "no such limit". CNY limits compare CNY amounts of the quote; USD limits
// compare the card amount valued in USD at mid.
type LimitProfile struct {
	// MinLoad is the smallest CNY amount (before fee) a load may buy.
	MinLoad money.Amount
	// BalanceCap bounds the account's balance in CNY after the credit,
	// loads in flight included.
	BalanceCap money.Amount
	// PerLoad bounds one load in USD at mid.
	PerLoad money.Amount
	// Annual bounds the loads of a calendar year (UTC) in USD at mid.
	Annual money.Amount
}

// Limits are the profiles by name.
type Limits map[Profile]LimitProfile

// DefaultLimits are the profiles of docs/API.md: basic (TourPass) has a
// minimum load of CNY 100 and a balance cap of CNY 2,000; verified has the
// PBOC cap of CNY 5,000 for a registered prepaid card and, per the March
// 2024 rules, at most USD 5,000 per load and USD 50,000 per year.
func DefaultLimits() Limits {
	usd := money.MustCurrency("USD")
	return Limits{
		Basic: {
			MinLoad:    money.New(100_00, money.CNY),
			BalanceCap: money.New(2_000_00, money.CNY),
		},
		Verified: {
			BalanceCap: money.New(5_000_00, money.CNY),
			PerLoad:    money.New(5_000_00, usd),
			Annual:     money.New(50_000_00, usd),
		},
	}
}

// Validate checks that both profiles exist, that each limit is in its
// currency and that none is negative. A zero Limits is replaced by
// DefaultLimits in NewService.
func (l Limits) Validate() error {
	if len(l) == 0 {
		return nil
	}
	var errs []error
	for _, name := range []Profile{Basic, Verified} {
		p, ok := l[name]
		if !ok {
			errs = append(errs, fmt.Errorf("profile %s is missing", name))
			continue
		}
		for _, c := range []struct {
			what string
			a    money.Amount
			cur  string
		}{{LimitMinLoad, p.MinLoad, "CNY"}, {LimitBalanceCap, p.BalanceCap, "CNY"}, {LimitPerLoad, p.PerLoad, "USD"}, {LimitAnnual, p.Annual, "USD"}} {
			if c.a.IsNegative() || (!c.a.IsZero() && c.a.Currency().Code() != c.cur) {
				errs = append(errs, fmt.Errorf("%s %s: %s is not a %s amount >= 0", name, c.what, c.a, c.cur))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prepaid: limits: %w", err)
	}
	return nil
}

// profile returns the configuration of p, or DefaultLimits' when unset.
func (l Limits) profile(p Profile) LimitProfile {
	if len(l) == 0 {
		l = DefaultLimits()
	}
	if lp, ok := l[p]; ok {
		return lp
	}
	return l[Basic]
}

// LoadCheck is what a load's limits are checked against. All counters
// include loads still in flight (pending or requires_action), which is
// what keeps concurrent loads from passing a cap together.
type LoadCheck struct {
	// Balance is the account's posted CNY balance plus the credits of loads
	// in flight.
	Balance money.Amount
	// Buy is the load's CNY amount before the fee; Credited what reaches
	// the account.
	Buy      money.Amount
	Credited money.Amount
	// USD is the load's card amount in USD at mid.
	USD money.Amount
	// LoadedThisYear is the USD at mid of this year's loads.
	LoadedThisYear money.Amount
}

// Check returns nil when the load fits the profile, else a *LimitError
// for the first limit it breaks, in the order min_load, per_load,
// balance_cap, annual. A load exactly at a limit passes.
func (p LimitProfile) Check(c LoadCheck) error {
	if p.MinLoad.IsPositive() && c.Buy.Minor() < p.MinLoad.Minor() {
		return &LimitError{Limit: LimitMinLoad, Room: p.MinLoad}
	}
	if p.PerLoad.IsPositive() && c.USD.Minor() > p.PerLoad.Minor() {
		return &LimitError{Limit: LimitPerLoad, Room: p.PerLoad}
	}
	if p.BalanceCap.IsPositive() {
		room := roomOf(p.BalanceCap, c.Balance)
		if c.Credited.Minor() > room.Minor() {
			return &LimitError{Limit: LimitBalanceCap, Room: room}
		}
	}
	if p.Annual.IsPositive() {
		room := roomOf(p.Annual, c.LoadedThisYear)
		if c.USD.Minor() > room.Minor() {
			return &LimitError{Limit: LimitAnnual, Room: room}
		}
	}
	return nil
}

// roomOf is capacity less used, never below zero.
func roomOf(capacity, used money.Amount) money.Amount {
	return money.New(max(capacity.Minor()-used.Minor(), 0), capacity.Currency())
}

// yearStart is 1 January (UTC) of now's year: the annual limit counts
// calendar years.
func yearStart(now time.Time) time.Time {
	return time.Date(now.UTC().Year(), time.January, 1, 0, 0, 0, 0, time.UTC)
}

// usdAtMid values a quote's card amount in USD at mid, rounded up to the
// cent so a limit is never passed by rounding: the card amount times the
// card's mid at quote time (CNY per unit) divided by the current USD mid.
func (s *Service) usdAtMid(ctx context.Context, q fx.Quote) (money.Amount, error) {
	usd := money.MustCurrency("USD")
	card := q.Card()
	if card.Currency() == usd {
		return card, nil
	}
	t, err := s.d.Rates.Rates(ctx)
	if err != nil {
		return money.Amount{}, fmt.Errorf("%w: %w", fx.ErrRatesStale, err)
	}
	usdMid, err := t.Mid(usd)
	if err != nil {
		return money.Amount{}, err
	}
	if !usdMid.IsPositive() {
		return money.Amount{}, fmt.Errorf("%w: USD mid %s", fx.ErrInvalidRates, usdMid)
	}
	v := card.Decimal().Mul(q.MidRate()).DivRound(usdMid, 16).RoundCeil(usd.Digits())
	return money.FromDecimal(v, usd)
}

// usdToCNY values a USD amount in CNY at mid, rounded down (for the room
// shown in the account view, which must not promise more than it allows).
func usdToCNY(usdAmount money.Amount, usdMid decimal.Decimal) (money.Amount, error) {
	return money.FromDecimal(usdAmount.Decimal().Mul(usdMid).RoundFloor(money.CNY.Digits()), money.CNY)
}
