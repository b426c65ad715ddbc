package gateway

import (
	"errors"
	"fmt"
)

// Decline codes, as the partner API shows them in "decline_code".
const (
	DeclineCardDeclined           = "card_declined"
	DeclineInsufficientFunds      = "insufficient_funds"
	DeclineLostCard               = "lost_card"
	DeclineStolenCard             = "stolen_card"
	DeclineExpiredCard            = "expired_card"
	DeclineIncorrectCVC           = "incorrect_cvc"
	DeclineIncorrectNumber        = "incorrect_number"
	DeclineInvalidAmount          = "invalid_amount"
	DeclineProcessingError        = "processing_error"
	DeclineIssuerUnavailable      = "issuer_unavailable"
	DeclineTransactionNotAllowed  = "transaction_not_allowed"
	DeclineDuplicateTransaction   = "duplicate_transaction"
	DeclineAuthenticationRequired = "authentication_required"
	DeclineAuthenticationFailed   = "authentication_failed"
)

// Decline is what a non-approval means for the gateway and the partner.
type Decline struct {
	// ResponseCode is the network's field 39 code ("" for no answer).
	ResponseCode string
	// Code is the partner-facing decline code.
	Code string
	// Soft is true when the card itself is fine and the same card may
	// succeed later (another amount, another CVC, after authentication, or
	// after a while); false for a hard decline such as a stolen card, which
	// must not be tried again.
	Soft bool
	// Retryable is true when the gateway itself may resend the same request
	// (a new STAN/RRN) after a short backoff: the issuer did not decide.
	// Every retryable decline is also soft.
	Retryable bool
}

// declines maps field 39 to a Decline. 05 is the catch-all "do not
// honour", shown as the generic card_declined, as card networks ask
// acquirers not to reveal more than the issuer said.
var declines = map[string]Decline{
	RCDoNotHonor:             {RCDoNotHonor, DeclineCardDeclined, true, false},
	RCInvalidTransaction:     {RCInvalidTransaction, DeclineTransactionNotAllowed, false, false},
	RCInvalidAmount:          {RCInvalidAmount, DeclineInvalidAmount, false, false},
	RCInvalidCardNumber:      {RCInvalidCardNumber, DeclineIncorrectNumber, false, false},
	RCNoSuchIssuer:           {RCNoSuchIssuer, DeclineIncorrectNumber, false, false},
	RCFormatError:            {RCFormatError, DeclineProcessingError, false, false},
	RCLostCard:               {RCLostCard, DeclineLostCard, false, false},
	RCStolenCard:             {RCStolenCard, DeclineStolenCard, false, false},
	RCInsufficientFunds:      {RCInsufficientFunds, DeclineInsufficientFunds, true, false},
	RCExpiredCard:            {RCExpiredCard, DeclineExpiredCard, false, false},
	RCSecurityViolation:      {RCSecurityViolation, DeclineAuthenticationFailed, true, false},
	RCIssuerUnavailable:      {RCIssuerUnavailable, DeclineIssuerUnavailable, true, true},
	RCDuplicateTransmission:  {RCDuplicateTransmission, DeclineDuplicateTransaction, false, false},
	RCSystemMalfunction:      {RCSystemMalfunction, DeclineProcessingError, true, true},
	RCIncorrectCVC:           {RCIncorrectCVC, DeclineIncorrectCVC, true, false},
	RCAuthenticationRequired: {RCAuthenticationRequired, DeclineAuthenticationRequired, true, false},
}

// DeclineFor maps a field 39 response code to a Decline. An unknown code is
// a soft card_declined. It must not be called with RCApproved.
func DeclineFor(responseCode string) Decline {
	if d, ok := declines[responseCode]; ok {
		return d
	}
	return Decline{ResponseCode: responseCode, Code: DeclineCardDeclined, Soft: true}
}

// NoAnswerDecline is the Decline for a call the network did not answer in
// time (or answered with a server error): the issuer is unavailable, and
// the gateway reverses the call and may retry it.
func NoAnswerDecline() Decline {
	return Decline{Code: DeclineIssuerUnavailable, Soft: true, Retryable: true}
}

// ErrDeclined is matched (errors.Is) by every *DeclineError.
var ErrDeclined = errors.New("gateway: declined by the card network")

// DeclineError is a decline as an error, for code that returns one up to
// the HTTP layer. errors.Is(err, ErrDeclined) matches it; errors.As gives
// the Decline.
type DeclineError struct {
	Decline
	// Message is the network's human-readable text, for logs only.
	Message string
}

func (e *DeclineError) Error() string {
	if e.ResponseCode == "" {
		return fmt.Sprintf("gateway: declined: %s (no answer)", e.Code)
	}
	return fmt.Sprintf("gateway: declined: %s (response code %s)", e.Code, e.ResponseCode)
}

// Is makes errors.Is(err, ErrDeclined) true.
func (e *DeclineError) Is(target error) bool { return target == ErrDeclined }

// DeclineForError returns the Decline a failed Connector call stands for:
// the decline itself for a *DeclineError, issuer_unavailable for a call
// without answer (ErrTimeout, ErrUnavailable). ok is false for other errors.
func DeclineForError(err error) (d Decline, ok bool) {
	var de *DeclineError
	switch {
	case errors.As(err, &de):
		return de.Decline, true
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrUnavailable):
		return NoAnswerDecline(), true
	}
	return Decline{}, false
}

// MaxOTPAttempts is how many OTPs a card binding, or a load, may try for
// its issuer authentication (docs/API.md). The last wrong one fails it.
const MaxOTPAttempts = 3

// AuthenticationError is a wrong OTP: 402 authentication_failed with the
// attempts left. With Remaining > 0 the card or load still waits for the
// OTP under the same challenge; at 0 it has failed. It unwraps to the
// DeclineError of an authentication failure, so code that only knows
// declines sees one.
type AuthenticationError struct {
	Remaining int
}

func (e *AuthenticationError) Error() string {
	return fmt.Sprintf("gateway: issuer authentication failed, %d attempts remaining", e.Remaining)
}

// Unwrap gives the decline (authentication_failed).
func (e *AuthenticationError) Unwrap() error {
	return &DeclineError{Decline: DeclineFor(RCSecurityViolation)}
}

// OTPResult is the error of an OTP attempt, from the status it left and
// the call: nil when it succeeded, an *AuthenticationError with the
// attempts left when the challenge still stands or when it failed for a
// wrong OTP, err unchanged otherwise (another decline, no answer).
func OTPResult(stillChallenged bool, c Call, err error) error {
	if stillChallenged {
		return &AuthenticationError{Remaining: max(0, MaxOTPAttempts-c.OTPAttempts)}
	}
	var de *DeclineError
	if errors.As(err, &de) && de.Code == DeclineAuthenticationFailed {
		return &AuthenticationError{Remaining: 0}
	}
	return err
}
