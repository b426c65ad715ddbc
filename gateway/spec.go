// Package gateway holds the card rules of Inbound as plain Go: which card
// network a PAN belongs to (IIN ranges, length, Luhn), CVC and expiry checks,
// the meaning of the networks' field 39 response codes, and the client side
// of the card networks: a Connector interface and an HTTP connector that
// speaks to cardnet.
//
// On top of these rules: card binding with the card vault (Binder, PANs
// sealed, a keyed fingerprint for "same card"), and the reliable network
// client (Client: a write-ahead record of every call, reversals of calls
// left without answer, Repair, a circuit breaker per network, metrics).
// Their gorm code is in store.go.
//
// The rules the network side shares (PAN, Network, Expiry, MTIs, response
// codes) live in the leaf package gateway/cardspec, so cardnet can be built
// without the gateway's storage stack; this file re-exports them.
package gateway

import "github.com/inbound-gateway/inbound/gateway/cardspec"

// Errors of the card rules (see cardspec).
var (
	ErrIncorrectNumber    = cardspec.ErrIncorrectNumber
	ErrUnsupportedNetwork = cardspec.ErrUnsupportedNetwork
	ErrInvalidCVC         = cardspec.ErrInvalidCVC
	ErrInvalidExpiry      = cardspec.ErrInvalidExpiry
)

type (
	// Network is a card network Inbound accepts (cardspec.Network).
	Network = cardspec.Network
	// PAN is a validated card number (cardspec.PAN).
	PAN = cardspec.PAN
	// Expiry is a card's expiry month (cardspec.Expiry).
	Expiry = cardspec.Expiry
)

// The card networks Inbound accepts.
var (
	Visa       = cardspec.Visa
	Mastercard = cardspec.Mastercard
	Amex       = cardspec.Amex
	Discover   = cardspec.Discover
	JCB        = cardspec.JCB
)

// The card rules' functions (see cardspec).
var (
	Networks       = cardspec.Networks
	ParseNetwork   = cardspec.ParseNetwork
	ParsePAN       = cardspec.ParsePAN
	Luhn           = cardspec.Luhn
	LuhnCheckDigit = cardspec.LuhnCheckDigit
	MaskPAN        = cardspec.MaskPAN
	ValidateCVC    = cardspec.ValidateCVC
	NewExpiry      = cardspec.NewExpiry
	ParseYYMM      = cardspec.ParseYYMM
)

// ISO 8583 field 39 response codes (see cardspec).
const (
	RCApproved               = cardspec.RCApproved
	RCDoNotHonor             = cardspec.RCDoNotHonor
	RCInvalidTransaction     = cardspec.RCInvalidTransaction
	RCInvalidAmount          = cardspec.RCInvalidAmount
	RCInvalidCardNumber      = cardspec.RCInvalidCardNumber
	RCNoSuchIssuer           = cardspec.RCNoSuchIssuer
	RCFormatError            = cardspec.RCFormatError
	RCLostCard               = cardspec.RCLostCard
	RCStolenCard             = cardspec.RCStolenCard
	RCInsufficientFunds      = cardspec.RCInsufficientFunds
	RCExpiredCard            = cardspec.RCExpiredCard
	RCSecurityViolation      = cardspec.RCSecurityViolation
	RCIssuerUnavailable      = cardspec.RCIssuerUnavailable
	RCDuplicateTransmission  = cardspec.RCDuplicateTransmission
	RCSystemMalfunction      = cardspec.RCSystemMalfunction
	RCIncorrectCVC           = cardspec.RCIncorrectCVC
	RCAuthenticationRequired = cardspec.RCAuthenticationRequired
)

// ISO 8583 message type indicators (see cardspec).
const (
	MTIAuthorization = cardspec.MTIAuthorization
	MTIFinancial     = cardspec.MTIFinancial
	MTICompletion    = cardspec.MTICompletion
	MTIReversal      = cardspec.MTIReversal
	MTIEcho          = cardspec.MTIEcho
)
