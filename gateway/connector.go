package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/inbound-gateway/inbound/internal/money"
)

// Errors of a Connector call that got no decision from the issuer.
//
// ErrTimeout and ErrUnavailable leave the outcome unknown: the issuer may
// have approved the message and only the answer was lost. The caller must
// record that and send a reversal (ReverseUntilAcknowledged) before it
// treats the call as failed; a reversal of a message the network never saw
// is acknowledged too, and stops a late original from taking effect.
// ErrRejected means the network refused the message as malformed: nothing
// happened, and resending the same message will not help.
var (
	ErrTimeout     = errors.New("gateway: card network did not answer in time")
	ErrUnavailable = errors.New("gateway: card network unavailable")
	ErrRejected    = errors.New("gateway: card network rejected the message")
)

// Connector sends messages to the card networks. Every message carries a
// Trace that the caller generated and recorded before the call (write-ahead),
// so a repeated call with the same Trace is answered the same and never
// charges twice.
//
// A decline is not an error: it comes back as a Result whose Err is a
// *DeclineError. An error means there was no decision (see ErrTimeout,
// ErrUnavailable, ErrRejected).
type Connector interface {
	// Authorize sends an 0100 authorisation; an amount of zero (with or
	// without a currency) is an account verification.
	Authorize(ctx context.Context, req AuthRequest) (Result, error)
	// Capture sends an 0220 completion of an earlier authorisation when
	// req.Original is set, else an 0200 financial message that authorises
	// and captures at once.
	Capture(ctx context.Context, req CaptureRequest) (Result, error)
	// Reverse sends an 0400 reversal of an earlier message.
	Reverse(ctx context.Context, req ReversalRequest) (Result, error)
	// Refund sends an 0200 refund (processing code 20) crediting the card.
	Refund(ctx context.Context, req RefundRequest) (Result, error)
	// Echo sends an 0800 network management echo to one network, to tell
	// whether it answers.
	Echo(ctx context.Context, n Network) error
}

// Trace identifies one network message: the systems trace audit number
// (STAN, field 11, six digits) and the retrieval reference number (RRN,
// field 37, twelve characters).
type Trace struct {
	STAN string
	RRN  string
}

// NewTrace returns a fresh random Trace. The RRN follows the common
// "YDDDhh" + six digits layout (last digit of the year, day of the year,
// hour), so it also tells roughly when it was made; the random parts make a
// clash between two gateway replicas negligible without coordination.
func NewTrace(now time.Time) Trace {
	now = now.UTC()
	return Trace{
		STAN: randomDigits(6),
		RRN:  fmt.Sprintf("%d%03d%02d%s", now.Year()%10, now.YearDay(), now.Hour(), randomDigits(6)),
	}
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			// crypto/rand does not fail on supported platforms.
			panic(fmt.Sprintf("gateway: crypto/rand: %v", err))
		}
		b[i] = byte('0' + d.Int64()) //nolint:gosec // d is in [0, 10): the sum is an ASCII digit
	}
	return string(b)
}

// Ref points at a message already sent, for the messages that refer to it
// (ISO 8583 field 90, original data elements, plus the original auth code).
// Store it with the network call record: captures and reversals need it.
type Ref struct {
	MTI      string
	STAN     string
	RRN      string
	AuthCode string
}

// Authentication completes an issuer-authentication challenge: the
// challenge id from the RCAuthenticationRequired answer and the OTP the
// cardholder typed.
type Authentication struct {
	ChallengeID string
	OTP         string
}

// AuthRequest is an 0100 authorisation or, with a zero amount, an account
// verification. CVC is optional and never stored.
type AuthRequest struct {
	Trace          Trace
	PAN            PAN
	Expiry         Expiry
	CVC            string
	Amount         money.Amount
	Authentication *Authentication
}

// CaptureRequest captures money: the completion (0220) of Original, or
// without Original an 0200 that authorises and captures in one message (then
// Expiry is required and Authentication may be).
type CaptureRequest struct {
	Trace          Trace
	PAN            PAN
	Expiry         Expiry
	CVC            string
	Amount         money.Amount
	Original       *Ref
	Authentication *Authentication
}

// ReversalRequest undoes Original in full: a hold is released, a capture or
// refund is taken back. Amount, when set, must equal the original amount.
type ReversalRequest struct {
	Trace    Trace
	PAN      PAN
	Amount   money.Amount
	Original Ref
}

// RefundRequest credits Amount to the card. Original optionally names the
// capture refunded.
type RefundRequest struct {
	Trace    Trace
	PAN      PAN
	Expiry   Expiry
	Amount   money.Amount
	Original *Ref
}

// Result is the network's answer to one message.
type Result struct {
	// Ref is the message as sent, with the auth code of the answer: what a
	// later capture or reversal refers to.
	Ref          Ref
	ResponseCode string
	AuthCode     string
	// Message is the network's human-readable text, for logs only.
	Message string
	// ChallengeID is set with RCAuthenticationRequired.
	ChallengeID string
	// Network, IssuerCountry and Currency (the card's billing currency)
	// describe the card, when the network knew it.
	Network       Network
	IssuerCountry string
	Currency      money.Currency
	// Available is the open-to-buy left after an approval, when the issuer
	// tells it (ISO 8583 field 54).
	Available *money.Amount
	// Replayed is true when the network recognised a repeated message and
	// answered from its record without acting again.
	Replayed bool
}

// Approved reports whether the network approved the message (field 39 00).
func (r Result) Approved() bool { return r.ResponseCode == RCApproved }

// NeedsAuthentication reports whether the issuer asked for the cardholder
// to be authenticated: resend with Authentication{ChallengeID, OTP}.
func (r Result) NeedsAuthentication() bool {
	return r.ResponseCode == RCAuthenticationRequired
}

// Err is nil for an approval and a *DeclineError otherwise.
func (r Result) Err() error {
	if r.Approved() {
		return nil
	}
	return &DeclineError{Decline: DeclineFor(r.ResponseCode), Message: r.Message}
}

// ReverseUntilAcknowledged sends req until the network answers it, waiting
// backoff, doubled up to a minute, between tries; it stops early only when
// ctx ends or the network rejects the message as malformed. A reversal must
// not be given up after one timeout: until it is acknowledged the
// cardholder's money may stay held. Any answer is an acknowledgement; a
// reversal is only ever declined when there is nothing left to undo.
func ReverseUntilAcknowledged(ctx context.Context, c Connector, req ReversalRequest, backoff time.Duration) (Result, error) {
	const maxBackoff = time.Minute
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	for {
		res, err := c.Reverse(ctx, req)
		if err == nil || errors.Is(err, ErrRejected) {
			return res, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{}, fmt.Errorf("gateway: reversal not acknowledged: %w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
