package cardnet

import (
	"github.com/inbound-gateway/inbound/internal/money"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

// TestCard is one row of the test-card table of docs/TESTING.md, with the
// answers the simulator gives it.
type TestCard struct {
	PAN           string
	Network       cardspec.Network
	IssuerCountry string
	Currency      string
	// Verification is the field 39 answer to an account verification (an
	// 0100 with amount zero).
	Verification string
	// Purchase is the field 39 answer to an authorisation or 0200 of an
	// amount above zero within the open-to-buy; "" when the issuer does not
	// answer at all.
	Purchase string
}

// NoAnswer reports whether the issuer stays silent on amounts above zero.
func (c TestCard) NoAnswer() bool { return c.Purchase == "" }

// Challenge reports whether the issuer asks for an OTP before it decides.
func (c TestCard) Challenge() bool { return c.Verification == cardspec.RCAuthenticationRequired }

// outcome is how an issuer treats a card.
type outcome struct {
	// declineAll is a field 39 code given to every authorisation, the
	// verification included ("" for none).
	declineAll string
	// declineAmount is given to amounts above zero only.
	declineAmount string
	noAnswer      bool
	challenge     bool
}

type cardRow struct {
	pan, country, currency string
	network                cardspec.Network
	outcome                outcome
}

// testCards is the test-card table of docs/TESTING.md: the contract with
// partners, so a change here is a change of the API.
var testCards = []cardRow{
	{"4242424242424242", "US", "USD", cardspec.Visa, outcome{}},
	{"4000056655665556", "US", "USD", cardspec.Visa, outcome{}},
	{"4000002500000003", "FR", "EUR", cardspec.Visa, outcome{}},
	{"4000008260000000", "GB", "GBP", cardspec.Visa, outcome{}},
	{"4000004100000003", "KR", "KRW", cardspec.Visa, outcome{}},
	{"4000003440000004", "HK", "HKD", cardspec.Visa, outcome{}},
	{"4000007020000003", "SG", "SGD", cardspec.Visa, outcome{}},
	{"4000000360000006", "AU", "AUD", cardspec.Visa, outcome{}},
	{"5555555555554444", "US", "USD", cardspec.Mastercard, outcome{}},
	{"2223003122003222", "US", "USD", cardspec.Mastercard, outcome{}},
	{"5200828282828210", "DE", "EUR", cardspec.Mastercard, outcome{}},
	{"378282246310005", "US", "USD", cardspec.Amex, outcome{}},
	{"371449635398431", "US", "USD", cardspec.Amex, outcome{}},
	{"6011111111111117", "US", "USD", cardspec.Discover, outcome{}},
	{"6445644564456445", "US", "USD", cardspec.Discover, outcome{}},
	{"3566002020360505", "JP", "JPY", cardspec.JCB, outcome{}},
	{"3530111333300000", "JP", "JPY", cardspec.JCB, outcome{}},
	{"4000000000000002", "US", "USD", cardspec.Visa, outcome{declineAll: cardspec.RCDoNotHonor}},
	{"4000000000009995", "US", "USD", cardspec.Visa, outcome{declineAmount: cardspec.RCInsufficientFunds}},
	{"4000000000009987", "US", "USD", cardspec.Visa, outcome{declineAll: cardspec.RCLostCard}},
	{"4000000000009979", "US", "USD", cardspec.Visa, outcome{declineAll: cardspec.RCStolenCard}},
	{"4000000000000069", "US", "USD", cardspec.Visa, outcome{declineAll: cardspec.RCExpiredCard}},
	{"4000000000000127", "US", "USD", cardspec.Visa, outcome{declineAll: cardspec.RCIncorrectCVC}},
	{"4000000000000119", "US", "USD", cardspec.Visa, outcome{declineAmount: cardspec.RCSystemMalfunction}},
	{"4000000000000259", "US", "USD", cardspec.Visa, outcome{noAnswer: true}},
	{"4000000000003220", "US", "USD", cardspec.Visa, outcome{challenge: true}},
	{"5105105105105100", "US", "USD", cardspec.Mastercard, outcome{declineAmount: cardspec.RCInsufficientFunds}},
}

// TestCards returns the test-card table with the answer each card gets,
// for tests of code built on the simulator.
func TestCards() []TestCard {
	out := make([]TestCard, 0, len(testCards))
	for _, r := range testCards {
		c := TestCard{
			PAN: r.pan, Network: r.network, IssuerCountry: r.country, Currency: r.currency,
			Verification: cardspec.RCApproved, Purchase: cardspec.RCApproved,
		}
		switch o := r.outcome; {
		case o.declineAll != "":
			c.Verification, c.Purchase = o.declineAll, o.declineAll
		case o.declineAmount != "":
			c.Purchase = o.declineAmount
		case o.noAnswer:
			c.Purchase = ""
		case o.challenge:
			c.Verification, c.Purchase = cardspec.RCAuthenticationRequired, cardspec.RCAuthenticationRequired
		}
		out = append(out, c)
	}
	return out
}

// IsTestCard reports whether pan is one of the published test cards of the
// table. Nobody owns those numbers, so the gateway lets any number of
// visitors bind them, as Stripe does with its test cards.
func IsTestCard(pan string) bool {
	_, ok := testCardIndex[pan]
	return ok
}

var testCardIndex = func() map[string]struct{} {
	m := make(map[string]struct{}, len(testCards))
	for _, r := range testCards {
		m[r.pan] = struct{}{}
	}
	return m
}()

// OTP is the one-time password the issuer-authentication card accepts.
const OTP = "123456"

// openToBuy is each approving card's credit limit in major units of its
// billing currency (docs/TESTING.md).
var openToBuy = map[string]int64{
	"USD": 10_000,
	"EUR": 10_000,
	"GBP": 8_000,
	"HKD": 78_000,
	"SGD": 13_000,
	"AUD": 15_000,
	"JPY": 1_500_000,
	"KRW": 13_000_000,
}

// OpenToBuy returns a fresh card's open-to-buy in its billing currency.
func OpenToBuy(c money.Currency) money.Amount {
	major, ok := openToBuy[c.Code()]
	if !ok {
		major = openToBuy["USD"]
	}
	minor := major
	for range c.Digits() {
		minor *= 10
	}
	return money.New(minor, c)
}

// defaultProfile is how the simulator treats a Luhn-valid card in a
// supported range that is not in the table: it approves, billed in USD by a
// US issuer, or in JPY by a Japanese one for JCB.
func defaultProfile(n cardspec.Network) cardRow {
	if n == cardspec.JCB {
		return cardRow{country: "JP", currency: "JPY", network: n}
	}
	return cardRow{country: "US", currency: "USD", network: n}
}
