package cardspec

import "time"

// Kinds of settlement lines. Authorisations, verifications and their
// reversals move no money, so they never appear in a settlement report.
const (
	LineCapture  = "capture"
	LineRefund   = "refund"
	LineReversal = "reversal"
)

// Original names the message a completion, reversal or refund refers to
// (ISO 8583 field 90, original data elements).
type Original struct {
	MTI      string `json:"mti"`
	STAN     string `json:"stan"`
	RRN      string `json:"rrn"`
	AuthCode string `json:"auth_code,omitempty"`
}

// SettlementLine is one money movement of a settlement day.
type SettlementLine struct {
	Type string `json:"type"`
	// Reverses is the Type a reversal undid: capture or refund.
	Reverses string    `json:"reverses,omitempty"`
	Network  string    `json:"network"`
	STAN     string    `json:"stan"`
	RRN      string    `json:"rrn"`
	MTI      string    `json:"mti"`
	PAN      string    `json:"pan"`    // masked: first six and last four digits
	Amount   string    `json:"amount"` // minor units, digits only
	Currency string    `json:"currency"`
	AuthCode string    `json:"auth_code,omitempty"`
	Time     time.Time `json:"time"`
	Original *Original `json:"original,omitempty"`
}

// SettlementTotal counts lines and adds their amounts (minor units).
type SettlementTotal struct {
	Count  int    `json:"count"`
	Amount string `json:"amount"`
}

// SettlementGroup is the settlement of one network in one currency.
type SettlementGroup struct {
	Network   string          `json:"network"`
	Currency  string          `json:"currency"`
	Captures  SettlementTotal `json:"captures"`
	Refunds   SettlementTotal `json:"refunds"`
	Reversals SettlementTotal `json:"reversals"`
	// Net is what the network owes the acquirer for the day, in minor
	// units: captures less refunds, less reversed captures, plus reversed
	// refunds. It is negative when refunds outweigh captures.
	Net   string           `json:"net"`
	Lines []SettlementLine `json:"lines"`
}

// SettlementReport is the settlement of one UTC day, per network and
// currency: the body of a card network's GET /v1/settlement?date=YYYY-MM-DD.
// The network (cardnet) writes it and the gateway's reconciliation reads
// it, so it lives here, in the contract both sides share.
type SettlementReport struct {
	Date   string            `json:"date"`
	Groups []SettlementGroup `json:"groups"`
}
