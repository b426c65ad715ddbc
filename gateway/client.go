package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/vault"
)

// Errors of the network client.
var (
	// ErrCircuitOpen is a call refused without a network message because
	// the network's circuit breaker is open. It comes wrapped together
	// with a *DeclineError issuer_unavailable.
	ErrCircuitOpen = errors.New("gateway: card network circuit open")
	// ErrCallNotFound is an unknown network call id.
	ErrCallNotFound = errors.New("gateway: network call not found")
	// ErrNotChallenged is Authenticate on a call that is not waiting for
	// an OTP (already decided, or being decided by another request).
	ErrNotChallenged = errors.New("gateway: network call is not waiting for authentication")
	// ErrNotReversible is Reverse or Capture on a call whose state does not
	// allow it (a decline, a reversal, an authorisation already reversed).
	ErrNotReversible = errors.New("gateway: network call cannot be reversed or captured")
	// ErrCardNotUsable is a payment on a card that is not verified, or a
	// refund to a card that never was.
	ErrCardNotUsable = errors.New("gateway: card cannot be used for this payment")
	// ErrNotRecorded is a call whose outcome could not be written (the
	// database failed, or Apply did): an approved or unanswered call was
	// reversed at once or is left to Repair, so nothing of it stands.
	ErrNotRecorded = errors.New("gateway: network call outcome not recorded")
)

// CallKind is what a network call does.
type CallKind string

// The kinds of network calls.
const (
	KindVerify   CallKind = "verify"   // 0100 with amount zero
	KindAuth     CallKind = "auth"     // 0100 authorisation (hold)
	KindSale     CallKind = "sale"     // 0200 authorisation and capture at once
	KindCapture  CallKind = "capture"  // 0220 completion of an auth
	KindReversal CallKind = "reversal" // 0400
	KindRefund   CallKind = "refund"   // 0200 processing code 20
)

func (k CallKind) mti() string {
	switch k {
	case KindVerify, KindAuth:
		return MTIAuthorization
	case KindCapture:
		return MTICompletion
	case KindReversal:
		return MTIReversal
	}
	return MTIFinancial
}

// CallState is where a network call is in its write-ahead life:
// intent (recorded, may have been sent) → approved | declined | challenged
// | rejected | unknown → reversed.
type CallState string

// The states of a network call.
const (
	// StateIntent is committed before the message leaves. A call found in
	// it after a grace period belongs to a process that died: it may or may
	// not have reached the network, so Repair reverses it.
	StateIntent CallState = "intent"
	// StateApproved: field 39 00. For a reversal row: acknowledged.
	StateApproved CallState = "approved"
	// StateDeclined: any other field 39; nothing happened.
	StateDeclined CallState = "declined"
	// StateChallenged: 1A, the issuer wants an OTP (Authenticate).
	StateChallenged CallState = "challenged"
	// StateRejected: the network refused the message as malformed;
	// nothing happened.
	StateRejected CallState = "rejected"
	// StateUnknown: no answer. A reversal is owed; until it is
	// acknowledged the call stays here and Repair keeps trying.
	StateUnknown CallState = "unknown"
	// StateReversed: a reversal was acknowledged; nothing of the call
	// stands.
	StateReversed CallState = "reversed"
)

// Call is the record of one network message.
type Call struct {
	ID         string
	Kind       CallKind
	Network    Network
	MTI        string
	Trace      Trace
	Amount     money.Amount
	CardID     string
	Reference  string
	OriginalID string
	State      CallState
	// ResponseCode is field 39 of the answer ("" without one).
	ResponseCode string
	AuthCode     string
	// DeclineCode is the partner-facing decline code of a call that did
	// not go through (issuer_unavailable for an unknown or reversed one).
	DeclineCode string
	ChallengeID string
	Attempts    int
	// OTPAttempts is how many OTPs were sent for the call's challenge.
	OTPAttempts int
	CreatedAt   time.Time
	UpdatedAt   time.Time

	// Answer is the network's answer when this Call value comes from the
	// exchange that received it (card details and open-to-buy); it is not
	// stored, so it is nil on a Call read back later.
	Answer *Result
}

// Ref is what a later message refers to (capture, reversal, refund).
func (c Call) Ref() Ref {
	return Ref{MTI: c.MTI, STAN: c.Trace.STAN, RRN: c.Trace.RRN, AuthCode: c.AuthCode}
}

// Err is nil for an approved call and a *DeclineError for every other
// final state; an unknown or reversed call is issuer_unavailable.
func (c Call) Err() error {
	switch c.State {
	case StateApproved:
		return nil
	case StateIntent, StateUnknown, StateReversed:
		return &DeclineError{Decline: NoAnswerDecline()}
	case StateRejected:
		return &DeclineError{Decline: Decline{Code: DeclineProcessingError}}
	}
	return &DeclineError{Decline: DeclineFor(c.ResponseCode)}
}

// Apply runs inside the transaction that records a call's outcome, after
// the record is written, so what the caller does with the outcome (mark a
// card verified, credit a load) commits or rolls back with it. It may run
// more than once when the transaction is retried: database effects only.
// If it fails, the outcome is not recorded and an approved call is
// reversed.
type Apply func(tx *db.Tx, c Call) error

// ClientOptions tune a Client. The zero value is usable.
type ClientOptions struct {
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger gets call ids, networks, STANs and RRNs, never a PAN or CVC;
	// nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// ReversalBudget bounds the reversal sent at once after a call without
	// answer (default 15 s); what is not acknowledged by then is left to
	// Repair.
	ReversalBudget time.Duration
	// ReversalBackoff is the first wait between reversal attempts
	// (default 200 ms).
	ReversalBackoff time.Duration
	// RepairGrace is how old an unfinished call must be before Repair
	// takes it over (default 2 min). It must exceed the connector timeout
	// plus ReversalBudget, so Repair never races a live request.
	RepairGrace time.Duration
	// OwnerGrace is how long Repair leaves an Inquirable call in intent
	// (a sale or refund whose answer was never recorded) to its owner,
	// which settles it with Inquire within seconds (default 10 min); past
	// it Repair reverses the call as any other, so nothing stands that
	// nobody will book.
	OwnerGrace time.Duration
	// InquiryWindow is how long after a call was made an unanswered
	// Inquire leaves it in intent to be asked again (default 30 s); past
	// it the call is reversed.
	InquiryWindow time.Duration
	// RepairBatch is how many calls one Repair claims (default 50).
	RepairBatch int
	// BreakerThreshold is the number of consecutive calls without answer
	// that opens a network's circuit (default 5).
	BreakerThreshold int
	// BreakerCoolDown is how long an open circuit refuses calls before the
	// first probe (default 1 s); each failed probe doubles it, up to
	// BreakerMaxCoolDown (default 15 s).
	BreakerCoolDown    time.Duration
	BreakerMaxCoolDown time.Duration
}

// Client sends messages to the card networks through a Connector with a
// write-ahead record of every call in the network_calls table, a reversal
// of every call left without answer, a circuit breaker per network and
// metrics. It is safe for concurrent use and across replicas.
type Client struct {
	store   store
	vault   *vault.Vault
	conn    Connector
	now     func() time.Time
	log     *slog.Logger
	opts    ClientOptions
	breaker *breaker
	metrics *metrics
}

// NewClient returns a Client that sends through conn and records calls in
// d; v opens the sealed PANs of bound cards.
func NewClient(d *db.DB, v *vault.Vault, conn Connector, o ClientOptions) (*Client, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReversalBudget <= 0 {
		o.ReversalBudget = 15 * time.Second
	}
	if o.ReversalBackoff <= 0 {
		o.ReversalBackoff = 200 * time.Millisecond
	}
	if o.RepairGrace <= 0 {
		o.RepairGrace = 2 * time.Minute
	}
	if o.OwnerGrace <= 0 {
		o.OwnerGrace = 10 * time.Minute
	}
	if o.InquiryWindow <= 0 {
		o.InquiryWindow = 30 * time.Second
	}
	if o.RepairBatch <= 0 {
		o.RepairBatch = 50
	}
	if o.BreakerThreshold <= 0 {
		o.BreakerThreshold = 5
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Client{store: store{db: d}, vault: v, conn: conn, now: o.Now, log: o.Logger, opts: o, metrics: m}
	c.breaker = newBreaker(o.BreakerThreshold, o.BreakerCoolDown, o.BreakerMaxCoolDown, o.Now, func(n Network, state int) {
		m.circuit.WithLabelValues(n.String()).Set(float64(state))
		c.log.Warn("card network circuit", "network", n.String(), "state", [...]string{"closed", "half-open", "open"}[state])
	})
	return c, nil
}

// source is the card a message is about.
type source struct {
	cardID string
	pan    PAN
	expiry Expiry
}

// panLabel is the vault label of card numbers.
const panLabel = "pan"

// openCard decrypts a bound card's PAN for a network message.
func (c *Client) openCard(ctx context.Context, cardID string) (source, cardRow, error) {
	row, err := c.store.cardByID(ctx, cardID)
	if err != nil {
		return source{}, cardRow{}, err
	}
	src, err := sourceOf(c.vault, row)
	return src, row, err
}

// CheckCard opens a bound card's PAN without sending anything, so a caller
// can find out before it changes any state (uses a quote, writes a load)
// that the card cannot be read: a PAN sealed under a master key missing
// from the keyring is an operator error (vault.ErrUnknownKey), not a
// decline.
func (c *Client) CheckCard(ctx context.Context, cardID string) error {
	_, _, err := c.openCard(ctx, cardID)
	return err
}

func sourceOf(v *vault.Vault, row cardRow) (source, error) {
	raw, err := v.Open(panLabel, row.PANSealed)
	if err != nil {
		return source{}, fmt.Errorf("gateway: card %s: open PAN: %w", row.ID, err)
	}
	pan, err := ParsePAN(string(raw))
	if err != nil {
		return source{}, fmt.Errorf("gateway: card %s: stored PAN: %w", row.ID, err)
	}
	exp, err := ParseYYMM(fmt.Sprintf("%02d%02d", row.ExpYear%100, row.ExpMonth))
	if err != nil {
		return source{}, fmt.Errorf("gateway: card %s: %w", row.ID, err)
	}
	return source{cardID: row.ID, pan: pan, expiry: exp}, nil
}

// Authorize places a hold of amount (in the card's billing currency) on a
// verified card: an 0100 recorded under reference. Capture or Reverse it
// later.
func (c *Client) Authorize(ctx context.Context, cardID, reference string, amount money.Amount, apply Apply) (Call, error) {
	return c.pay(ctx, KindAuth, cardID, reference, amount, apply)
}

// Sale authorises and captures amount (in the card's billing currency) on
// a verified card in one 0200 message, recorded under reference. This is
// what a load uses: one round trip, and a reversal undoes it whole.
func (c *Client) Sale(ctx context.Context, cardID, reference string, amount money.Amount, apply Apply) (Call, error) {
	return c.pay(ctx, KindSale, cardID, reference, amount, apply)
}

func (c *Client) pay(ctx context.Context, kind CallKind, cardID, reference string, amount money.Amount, apply Apply) (Call, error) {
	if !amount.IsPositive() {
		return Call{}, fmt.Errorf("%w: amount must be above zero", ErrCardNotUsable)
	}
	src, row, err := c.openCard(ctx, cardID)
	if err != nil {
		return Call{}, err
	}
	if row.Status != string(StatusVerified) {
		return Call{}, fmt.Errorf("%w: card %s is %s", ErrCardNotUsable, cardID, row.Status)
	}
	return c.exchange(ctx, c.newCall(kind, src, reference, amount, ""), src, "", nil, apply)
}

// Capture completes an approved authorisation (an 0220) for at most the
// authorised amount; the rest of the hold is released.
func (c *Client) Capture(ctx context.Context, authCallID string, amount money.Amount, apply Apply) (Call, error) {
	auth, err := c.store.call(ctx, authCallID)
	if err != nil {
		return Call{}, err
	}
	if auth.Kind != string(KindAuth) || auth.State != string(StateApproved) {
		return Call{}, fmt.Errorf("%w: call %s is a %s in state %s", ErrNotReversible, auth.ID, auth.Kind, auth.State)
	}
	src, _, err := c.openCard(ctx, auth.CardID)
	if err != nil {
		return Call{}, err
	}
	return c.exchange(ctx, c.newCall(KindCapture, src, auth.Reference, amount, auth.ID), src, "", nil, apply)
}

// Refund credits amount to a card that was verified (it may have been
// unbound since), recorded under reference. originalCallID optionally
// names the sale or capture refunded; the network then refuses to return
// more than it took.
func (c *Client) Refund(ctx context.Context, cardID, reference string, amount money.Amount, originalCallID string, apply Apply) (Call, error) {
	if !amount.IsPositive() {
		return Call{}, fmt.Errorf("%w: amount must be above zero", ErrCardNotUsable)
	}
	src, row, err := c.openCard(ctx, cardID)
	if err != nil {
		return Call{}, err
	}
	if row.Status != string(StatusVerified) && row.Status != string(StatusRemoved) {
		return Call{}, fmt.Errorf("%w: card %s is %s", ErrCardNotUsable, cardID, row.Status)
	}
	if originalCallID != "" {
		if _, err := c.store.call(ctx, originalCallID); err != nil {
			return Call{}, err
		}
	}
	return c.exchange(ctx, c.newCall(KindRefund, src, reference, amount, originalCallID), src, "", nil, apply)
}

// verify sends the zero-amount authorisation of a card being bound. The
// CVC goes into the message and nowhere else.
func (c *Client) verify(ctx context.Context, src source, cvc string, apply Apply) (Call, error) {
	return c.exchange(ctx, c.newCall(KindVerify, src, src.cardID, money.Amount{}, ""), src, cvc, nil, apply)
}

// Authenticate completes a challenged call (a verification, authorisation
// or sale that got 1A) with the cardholder's OTP: the same message under
// the same STAN and RRN, now with the challenge id and OTP.
//
// Each OTP counts against MaxOTPAttempts, raised under the call's row lock
// before the OTP goes out. A wrong OTP the issuer answers with a new 1A
// leaves the call challenged (Call.OTPAttempts tells how many were used);
// the last allowed one that fails declines it (63, authentication_failed).
func (c *Client) Authenticate(ctx context.Context, callID, otp string, apply Apply) (Call, error) {
	row, err := c.store.call(ctx, callID)
	if err != nil {
		return Call{}, err
	}
	n, err := ParseNetwork(row.Network)
	if err != nil {
		return Call{}, fmt.Errorf("gateway: call %s: %w", row.ID, err)
	}
	if !c.breaker.allow(n) {
		return toCall(row), c.circuitOpen(n, CallKind(row.Kind))
	}
	src, _, err := c.openCard(ctx, row.CardID)
	if err != nil {
		c.breaker.release(n)
		return Call{}, err
	}
	// Back to intent, committed, before the message goes out again: the
	// write-ahead rule holds for the second exchange too.
	err = c.store.transact(ctx, func(tx *db.Tx) error {
		r, err := c.store.callForUpdate(tx, callID)
		if err != nil {
			return err
		}
		if r.State != string(StateChallenged) {
			// Also the answer to a second OTP sent while the first is out:
			// the lock and this state check count each OTP once.
			return fmt.Errorf("%w: call %s is %s", ErrNotChallenged, r.ID, r.State)
		}
		if r.OTPAttempts >= MaxOTPAttempts {
			return fmt.Errorf("%w: call %s used its %d OTP attempts", ErrNotChallenged, r.ID, MaxOTPAttempts)
		}
		r.State, r.Attempts, r.UpdatedAt = string(StateIntent), r.Attempts+1, c.now().UTC()
		r.OTPAttempts++
		row = r
		return c.store.saveCall(tx, r)
	})
	if err != nil {
		c.breaker.release(n)
		return Call{}, err
	}
	auth := &Authentication{ChallengeID: row.ChallengeID, OTP: otp}
	return c.send(ctx, row, n, src, "", auth, apply)
}

// newCall makes the intent record of a new message.
func (c *Client) newCall(kind CallKind, src source, reference string, amount money.Amount, originalID string) callRow {
	now := c.now().UTC()
	tr := NewTrace(now)
	return callRow{
		ID: ids.New(ids.NetworkCall), Kind: string(kind), Network: src.pan.Network().String(), MTI: kind.mti(),
		STAN: tr.STAN, RRN: tr.RRN, AmountMinor: amount.Minor(), Currency: amount.Currency().Code(),
		CardID: src.cardID, Reference: reference, OriginalID: originalID, State: string(StateIntent),
		Attempts: 1, CreatedAt: now, UpdatedAt: now,
	}
}

func (c *Client) circuitOpen(n Network, k CallKind) error {
	c.metrics.calls.WithLabelValues(n.String(), string(k), codeCircuitOpen).Inc()
	return fmt.Errorf("%w: %s: %w", ErrCircuitOpen, n, &DeclineError{Decline: NoAnswerDecline(), Message: "circuit open"})
}

// exchange is the write-ahead protocol of one new message: commit the
// intent, send, record the outcome (with apply), reverse when there was no
// answer.
func (c *Client) exchange(ctx context.Context, row callRow, src source, cvc string, auth *Authentication, apply Apply) (Call, error) {
	n := src.pan.Network()
	if !c.breaker.allow(n) {
		return Call{}, c.circuitOpen(n, CallKind(row.Kind))
	}
	if err := c.store.insertCall(ctx, row); err != nil {
		c.breaker.release(n)
		return Call{}, err
	}
	return c.send(ctx, row, n, src, cvc, auth, apply)
}

// send sends the message of a call already recorded in state intent and
// records what came back.
func (c *Client) send(ctx context.Context, row callRow, n Network, src source, cvc string, auth *Authentication, apply Apply) (Call, error) {
	res, sendErr := c.transmit(ctx, row, n, src, cvc, auth)
	return c.record(ctx, row, n, res, sendErr, auth, apply)
}

// transmit sends the message of a call and feeds the metrics and the
// circuit breaker with what came back.
func (c *Client) transmit(ctx context.Context, row callRow, n Network, src source, cvc string, auth *Authentication) (Result, error) {
	start := time.Now()
	res, sendErr := c.message(ctx, row, src, cvc, auth)
	c.metrics.observe(n, CallKind(row.Kind), codeLabel(res, sendErr), time.Since(start))
	switch {
	case sendErr == nil, errors.Is(sendErr, ErrRejected):
		c.breaker.success(n)
	default:
		c.breaker.failure(n)
	}
	return res, sendErr
}

// record records the answer (or the lack of one) to a call in state
// intent, with apply in the same transaction, and reverses a call left
// without answer.
func (c *Client) record(ctx context.Context, row callRow, n Network, res Result, sendErr error, auth *Authentication, apply Apply) (Call, error) {
	out := row
	switch {
	case sendErr == nil && res.Approved():
		out.State = string(StateApproved)
	case sendErr == nil && res.NeedsAuthentication():
		out.State, out.ChallengeID = string(StateChallenged), res.ChallengeID
	case sendErr == nil:
		out.State = string(StateDeclined)
	case errors.Is(sendErr, ErrRejected):
		out.State = string(StateRejected)
	default:
		out.State = string(StateUnknown)
	}
	out.ResponseCode, out.AuthCode, out.DeclineCode = res.ResponseCode, res.AuthCode, ""
	if auth != nil && out.State == string(StateChallenged) && out.OTPAttempts >= MaxOTPAttempts {
		// The issuer would take yet another OTP, but the gateway allows
		// MaxOTPAttempts: the last wrong one fails the call as the issuer's
		// own "authentication failed" does. Nothing is held under a
		// challenge, so there is nothing to reverse.
		out.State, out.ResponseCode = string(StateDeclined), RCSecurityViolation
	}
	if out.State != string(StateApproved) {
		out.DeclineCode = toCall(out).declineCode()
	}
	out.UpdatedAt = c.now().UTC()

	// The outcome is recorded even if the caller's request was cancelled
	// meanwhile: the network has acted on the message.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var (
		final    Call
		applyErr error
	)
	recErr := c.store.transact(rctx, func(tx *db.Tx) error {
		applyErr = nil
		cur, err := c.store.callForUpdate(tx, row.ID)
		if err != nil {
			return err
		}
		if cur.State != string(StateIntent) {
			// Repair took the call over (this request outlived the grace
			// period) and is reversing it, or an inquiry recorded the
			// answer first: the stored state stands.
			final = toCall(cur)
			applyErr = runApply(apply, tx, final)
			return applyErr
		}
		if err := c.store.saveCall(tx, out); err != nil {
			return err
		}
		final = toCall(out)
		if sendErr == nil {
			final.Answer = &res
		}
		applyErr = runApply(apply, tx, final)
		return applyErr
	})
	if recErr != nil {
		// A failed COMMIT may still have committed (the connection can drop
		// after the server wrote it). Read the call again: if the outcome is
		// recorded, the caller's apply committed with it, and reversing now
		// would refund a charge that was credited.
		if stored, err := c.store.call(rctx, row.ID); err == nil && stored.State != string(StateIntent) {
			c.log.Warn("network call outcome committed despite an error", "call", row.ID, "state", stored.State, "err", recErr)
			final = toCall(stored)
			if final.State == StateApproved && sendErr == nil {
				final.Answer = &res
			}
			recErr = nil
		}
	}
	if recErr != nil {
		c.log.Error("network call outcome not recorded", "call", row.ID, "network", n.String(), "kind", row.Kind,
			"stan", row.STAN, "rrn", row.RRN, "state", out.State, "err", recErr)
		switch {
		case out.State == string(StateApproved) && Inquirable(toCall(row)) && !refused(applyErr):
			// The database failed, not the caller: the call stays in
			// intent, and its owner (the request's retry, or its recovery
			// job) asks the network again with Inquire and records the
			// approval then, rather than undoing what the cardholder asked
			// for.
			c.log.Warn("approved network call left for inquiry", "call", row.ID, "kind", row.Kind)
		case out.State == string(StateApproved) || out.State == string(StateUnknown):
			// Nothing may stand that the caller did not record: take it back
			// now rather than at the next Repair.
			_, _ = c.reverse(rctx, row.ID)
		}
		return toCall(out), fmt.Errorf("%w: %s: %w", ErrNotRecorded, row.ID, recErr)
	}
	if final.State == StateUnknown {
		c.log.Warn("network call without answer, reversing", "call", row.ID, "network", n.String(),
			"kind", row.Kind, "stan", row.STAN, "rrn", row.RRN, "err", sendErr)
		if rev, err := c.reverse(rctx, row.ID); err == nil {
			final.State, final.UpdatedAt = rev.State, rev.UpdatedAt
		}
	}
	switch {
	case final.State == StateApproved:
		return final, nil
	case errors.Is(sendErr, ErrRejected):
		return final, sendErr
	case sendErr != nil:
		return final, fmt.Errorf("%w (%w)", final.Err(), sendErr)
	}
	err := final.Err()
	var de *DeclineError
	if errors.As(err, &de) {
		de.Message = res.Message
	}
	return final, err
}

// refused reports whether the caller's Apply turned an outcome down (a
// load already settled, an account closed) rather than failing because
// the database did: a refused approval must be reversed at once.
func refused(applyErr error) bool {
	return applyErr != nil && !db.Unavailable(applyErr)
}

func runApply(apply Apply, tx *db.Tx, c Call) error {
	if apply == nil {
		return nil
	}
	return apply(tx, c)
}

// message builds and sends the network message of a call.
func (c *Client) message(ctx context.Context, row callRow, src source, cvc string, auth *Authentication) (Result, error) {
	tr := Trace{STAN: row.STAN, RRN: row.RRN}
	amount, err := amountOf(row)
	if err != nil {
		return Result{}, err
	}
	switch CallKind(row.Kind) {
	case KindVerify, KindAuth:
		return c.conn.Authorize(ctx, AuthRequest{Trace: tr, PAN: src.pan, Expiry: src.expiry, CVC: cvc, Amount: amount, Authentication: auth})
	case KindSale:
		return c.conn.Capture(ctx, CaptureRequest{Trace: tr, PAN: src.pan, Expiry: src.expiry, CVC: cvc, Amount: amount, Authentication: auth})
	case KindCapture:
		orig, err := c.store.call(ctx, row.OriginalID)
		if err != nil {
			return Result{}, err
		}
		ref := toCall(orig).Ref()
		return c.conn.Capture(ctx, CaptureRequest{Trace: tr, PAN: src.pan, Expiry: src.expiry, Amount: amount, Original: &ref})
	case KindRefund:
		req := RefundRequest{Trace: tr, PAN: src.pan, Expiry: src.expiry, Amount: amount}
		if row.OriginalID != "" {
			orig, err := c.store.call(ctx, row.OriginalID)
			if err != nil {
				return Result{}, err
			}
			ref := toCall(orig).Ref()
			req.Original = &ref
		}
		return c.conn.Refund(ctx, req)
	}
	return Result{}, fmt.Errorf("%w: kind %q", ErrRejected, row.Kind)
}

func amountOf(row callRow) (money.Amount, error) {
	if row.Currency == "" {
		return money.Amount{}, nil
	}
	cur, err := money.LookupCurrency(row.Currency)
	if err != nil {
		return money.Amount{}, fmt.Errorf("gateway: call %s: %w", row.ID, err)
	}
	return money.New(row.AmountMinor, cur), nil
}

func (c Call) declineCode() string {
	var de *DeclineError
	if errors.As(c.Err(), &de) {
		return de.Code
	}
	return ""
}

func toCall(r callRow) Call {
	n, _ := ParseNetwork(r.Network)
	amount, _ := amountOf(r)
	return Call{
		ID: r.ID, Kind: CallKind(r.Kind), Network: n, MTI: r.MTI, Trace: Trace{STAN: r.STAN, RRN: r.RRN},
		Amount: amount, CardID: r.CardID, Reference: r.Reference, OriginalID: r.OriginalID,
		State: CallState(r.State), ResponseCode: r.ResponseCode, AuthCode: r.AuthCode,
		DeclineCode: r.DeclineCode, ChallengeID: r.ChallengeID, Attempts: r.Attempts, OTPAttempts: r.OTPAttempts,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// Call returns a recorded network call.
func (c *Client) Call(ctx context.Context, id string) (Call, error) {
	r, err := c.store.call(ctx, id)
	if err != nil {
		return Call{}, err
	}
	return toCall(r), nil
}

// CallsByReference returns the calls recorded under reference (a load or
// unload id; a card id for its verifications), oldest first, reversals
// included (their Reference is the original's).
func (c *Client) CallsByReference(ctx context.Context, reference string) ([]Call, error) {
	rows, err := c.store.callsByReference(ctx, reference)
	if err != nil {
		return nil, err
	}
	out := make([]Call, len(rows))
	for i, r := range rows {
		out[i] = toCall(r)
	}
	return out, nil
}
