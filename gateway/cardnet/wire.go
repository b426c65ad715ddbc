package cardnet

import (
	"log/slog"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

// Message type indicators (ISO 8583 MTI) cardnet accepts. The answer's MTI
// is the request's plus 10 (0100 -> 0110).
const (
	MTIAuthorization = cardspec.MTIAuthorization // 0100: authorisation; amount 0 = account verification
	MTIFinancial     = cardspec.MTIFinancial     // 0200: purchase (processing code 00) or refund (20)
	MTICompletion    = cardspec.MTICompletion    // 0220: completion (capture) of an earlier 0100
	MTIReversal      = cardspec.MTIReversal      // 0400: reversal of an earlier 0100, 0200 or 0220
	MTIEcho          = cardspec.MTIEcho          // 0800: network management echo
)

// Message is one request on the wire (POST /v1/messages). Field names are
// readable; the ISO 8583 data element each stands for is noted. Amounts are
// strings of minor-unit digits, as ISO 8583 field 4 is, so no JSON number
// ever carries money.
type Message struct {
	MTI            string `json:"mti"`
	ProcessingCode string `json:"processing_code,omitempty"` // field 3, first two digits: 00 or 20
	PAN            string `json:"pan,omitempty"`             // field 2
	Expiry         string `json:"expiry,omitempty"`          // field 14, YYMM
	// CVC is checked and then forgotten: never recorded nor logged.
	CVC      string    `json:"cvc,omitempty"`
	Amount   string    `json:"amount,omitempty"`   // field 4, minor units, 1-12 digits
	Currency string    `json:"currency,omitempty"` // field 49, ISO 4217 alphabetic code
	STAN     string    `json:"stan,omitempty"`     // field 11, 6 digits
	RRN      string    `json:"rrn,omitempty"`      // field 37, 12 letters or digits
	Original *Original `json:"original,omitempty"` // field 90 and the original field 38
	// ChallengeID and OTP complete an issuer-authentication challenge.
	ChallengeID string `json:"challenge_id,omitempty"`
	OTP         string `json:"otp,omitempty"`
	// Network routes an 0800 echo to one network's fault settings.
	Network string `json:"network,omitempty"`
}

// LogValue keeps the PAN masked and the CVC and OTP out of logs.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mti", m.MTI), slog.String("stan", m.STAN), slog.String("rrn", m.RRN),
		slog.String("pan", cardspec.MaskPAN(m.PAN)), slog.String("amount", m.Amount),
		slog.String("currency", m.Currency))
}

// Original names the message a completion, reversal or refund refers to
// (ISO 8583 field 90, original data elements).
type Original = cardspec.Original

// Response is the answer on the wire.
type Response struct {
	MTI          string `json:"mti"`
	STAN         string `json:"stan,omitempty"`
	RRN          string `json:"rrn,omitempty"`
	ResponseCode string `json:"response_code"`       // field 39
	AuthCode     string `json:"auth_code,omitempty"` // field 38, on approvals
	Message      string `json:"message,omitempty"`
	ChallengeID  string `json:"challenge_id,omitempty"` // with response code 1A
	// The card, when the PAN was valid: its network, issuer country and
	// billing currency.
	Network         string `json:"network,omitempty"`
	IssuerCountry   string `json:"issuer_country,omitempty"`
	BillingCurrency string `json:"billing_currency,omitempty"`
	// Amount and Currency echo what was approved.
	Amount   string `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	// Available is the open-to-buy left, in minor units of the billing
	// currency (field 54), after an approval.
	Available string `json:"available,omitempty"`
	// Replayed is true when this answers a repeat of a message already
	// decided: the stored answer, nothing done again.
	Replayed bool `json:"replayed,omitempty"`
}
