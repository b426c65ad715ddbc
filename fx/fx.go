// Package fx converts between the visitors' card currencies and CNY: the
// card currencies it quotes, the sources of mid-market rates (a rates file or
// URL, or a built-in table with simulated market moves for development), and
// quotes with decimal math whose every rounding favours the bank.
//
// Rates are mid-market CNY per one unit of a card currency. The customer
// rate of a load is mid x (1 - spread); of an unload, mid x (1 + spread).
// Amounts are money.Amount (integer minor units); shopspring/decimal appears
// only inside the conversion math and for rates.
//
// Rounding, in one place:
//
//   - load, CNY amount given (buy): sell = buy / rate, rounded UP to the card
//     currency's minor unit;
//   - load, card amount given (sell): buy = sell x rate, rounded DOWN to the fen;
//   - load fee: fee rate x buy, rounded UP to the fen;
//   - unload, CNY amount given: card amount = CNY / rate, rounded DOWN;
//   - mid value (the CNY worth of the card amount at mid, which sizes the
//     spread revenue line): DOWN for loads, UP for unloads, so the spread line
//     never books more revenue than the conversion earned; the sub-fen rest
//     stays in the FX position accounts, in the bank's favour;
//   - the math uses the exact customer rate (mid x (1 -/+ spread) has finitely
//     many decimals); the printed rate is rounded against the customer, so
//     a customer always gets at least what the printed rate promises.
package fx

import (
	"errors"
	"fmt"
	"slices"

	"github.com/inbound-gateway/inbound/internal/money"
)

// Sentinel errors. Callers match them with errors.Is; the HTTP layer maps
// them to statuses in its one table.
var (
	// ErrRatesStale: the newest rates are older than the staleness limit
	// (or claim a time in the future); quotes are refused (503 fx_rates_stale).
	ErrRatesStale = errors.New("fx: rates are stale")
	// ErrUnsupportedCurrency: not a card currency, or no rate for it.
	ErrUnsupportedCurrency = errors.New("fx: unsupported currency")
	// ErrQuoteExpired: the quote is past its expiry or already used.
	ErrQuoteExpired = errors.New("fx: quote expired or already used")
	// ErrQuoteNotFound: no such quote for this owner.
	ErrQuoteNotFound = errors.New("fx: quote not found")
	// ErrInvalidAmount: the amount is not positive, is in the wrong currency,
	// converts to nothing, or is out of range.
	ErrInvalidAmount = errors.New("fx: invalid amount")
	// ErrInvalidRates: a rates document (file or URL) is malformed.
	ErrInvalidRates = errors.New("fx: invalid rates")
)

// cardCodes are the currencies cards are billed in that this service quotes.
// The minor digits live in internal/money; this list only says which of
// money's currencies are sold against CNY.
var cardCodes = []string{"AUD", "CAD", "CHF", "EUR", "GBP", "HKD", "JPY", "KRW", "SGD", "USD"}

// CardCurrency returns the card currency with the given ISO 4217 code, or
// ErrUnsupportedCurrency. CNY is not a card currency: it is the other side.
func CardCurrency(code string) (money.Currency, error) {
	if !slices.Contains(cardCodes, code) {
		return money.Currency{}, fmt.Errorf("%w: %q", ErrUnsupportedCurrency, code)
	}
	c, err := money.LookupCurrency(code)
	if err != nil {
		return money.Currency{}, fmt.Errorf("%w: %q", ErrUnsupportedCurrency, code)
	}
	return c, nil
}

// CardCurrencies lists the quotable card currencies in code order.
func CardCurrencies() []money.Currency {
	out := make([]money.Currency, 0, len(cardCodes))
	for _, code := range cardCodes {
		out = append(out, money.MustCurrency(code))
	}
	return out
}

// Owner is who may see and use a quote: a partner's visitor. Another
// partner's or visitor's quote is not found, never forbidden, so ids do not
// leak across partners.
type Owner struct {
	PartnerID string
	VisitorID string
}

// Kind says which way a quote converts. It is a struct so that only the two
// values below exist.
type Kind string

// The two kinds of quote.
const (
	// KindLoad: the customer sells card currency and buys CNY.
	KindLoad = Kind("load")
	// KindUnload: the customer sells CNY and buys card currency.
	KindUnload = Kind("unload")
)

// String is "load" or "unload".
func (k Kind) String() string { return string(k) }

// ParseKind reads "load" or "unload".
func ParseKind(s string) (Kind, error) {
	switch s {
	case string(KindLoad):
		return KindLoad, nil
	case string(KindUnload):
		return KindUnload, nil
	}
	return Kind(""), fmt.Errorf("fx: unknown quote kind %q", s)
}
