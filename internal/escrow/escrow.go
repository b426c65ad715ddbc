// Package escrow holds Inbound's secured transactions: merchants owned by
// partners, payments whose money waits in escrow until the buyer confirms
// receipt (or the auto-release time passes), refunds and disputes.
//
// # Money
//
// Every movement is one ledger batch with its own reference, posted in the
// same database transaction as the payment row it changes and the outbox
// event that reports it:
//
//	hold     pay:<id>:hold      visitor:<vis>:prepaid -> escrow:<pay>
//	release  pay:<id>:release   escrow:<pay> -> merchant payable (amount - fee)
//	                            escrow:<pay> -> revenue:fees     (fee)
//	refund   rfd:<id>           escrow:<pay> -> visitor           (before release)
//	                            merchant payable -> visitor       (after release)
//
// Each payment has its own no-negative escrow account, created in the
// payment's transaction: the ledger itself refuses to pay out of a
// payment's escrow more than was put in, a payment's escrow balance can be
// reconciled against its row one by one (EscrowHeld), and two payments never
// share a balance row, so no merchant or escrow row is hot on the hold path.
//
// The merchant fee (Options.FeeBPS, 0.6 % by default) is charged on release
// of the amount still in escrow, rounded to the fen half up (a tie goes to
// the gateway). A refund after release is taken in full from the merchant's
// balance and the fee is kept, as Stripe does.
//
// # Hot merchants
//
// A merchant payable must not go negative, and a no-negative ledger account
// has exactly one balance row, which every release to that merchant would
// lock until commit. So a merchant's payable is split into
// Options.PayableShards no-negative accounts, merchant:<mer>:payable and
// merchant:<mer>:payable:<k> for k >= 1; the merchant's balance is their sum.
// A release (a credit) goes to the next shard in turn, so concurrent
// releases to one merchant lock different rows. A refund after release (a
// debit) locks the merchant row, reads every shard and takes the amount from
// the fullest shards first, each debit still checked by the ledger; refunds
// of one merchant are thus serialised, releases are not. Every shard stays
// a constrained account, so Verify still proves that no merchant is owed
// less than zero.
//
// # Concurrency
//
// Every change of a payment runs under SELECT ... FOR UPDATE of its row and
// re-checks the state it read, so a confirm, a refund, a dispute and the
// auto-release job on one payment are applied one after the other; the
// ledger references make a repeated release or refund impossible even if
// that were not so. The auto-release job claims due rows with FOR UPDATE
// SKIP LOCKED, so replicas share the work and each payment is released once.
//
// # Frozen visitors
//
// A freeze of the visitor's prepaid account stops every outflow of the
// visitor's money: Confirm is refused (prepaid.ErrFrozen) and the
// auto-release job leaves the visitor's payments in the queue until the
// unfreeze. Both read the account row under the lock a freeze takes, so a
// release never commits after a freeze it did not see. Refunds (money back
// into the frozen account, where the freeze keeps it), disputes and staff
// resolutions go on.
package escrow

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/limits"
	"github.com/inbound-gateway/inbound/internal/money"
)

// Errors of the package. Suggested HTTP mapping (status, code):
//
//	ErrNotFound                   404 resource_missing
//	ErrInvalidInput               400 parameter_invalid (InputError.Param names the field)
//	ErrInvalidState               409 invalid_state
//	ErrOutTradeNoConflict         409 out_trade_no_conflict
//	ErrInsufficientFunds          402 insufficient_funds (card_error)
//	ErrMerchantInsufficientFunds  402 merchant_insufficient_funds (card_error)
//	prepaid.ErrFrozen/Expired/Closed are passed through (403 account_*).
var (
	ErrNotFound                  = errors.New("escrow: not found")
	ErrInvalidInput              = errors.New("escrow: invalid input")
	ErrInvalidState              = errors.New("escrow: payment is not in a state that allows this")
	ErrOutTradeNoConflict        = errors.New("escrow: out_trade_no already used for a different payment")
	ErrInsufficientFunds         = errors.New("escrow: insufficient funds")
	ErrMerchantInsufficientFunds = errors.New("escrow: merchant balance too low for the refund")
)

// InputError is an ErrInvalidInput that names the offending field as the
// API names it ("amount", "mcc", ...).
type InputError struct {
	Param  string
	Reason string
}

func (e *InputError) Error() string { return "escrow: " + e.Param + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

func invalid(param, format string, args ...any) error {
	return &InputError{Param: param, Reason: fmt.Sprintf(format, args...)}
}

// Status is a payment's state as the API shows it.
type Status string

// The payment states. A payment is held while all of its money is in
// escrow, disputed while a dispute is open, released once escrow has been
// paid out with no refund, partially_refunded once some (not all) of it has
// been refunded, and refunded once all of it has.
const (
	Held              Status = "held"
	Released          Status = "released"
	PartiallyRefunded Status = "partially_refunded"
	Refunded          Status = "refunded"
	Disputed          Status = "disputed"
)

// ParseStatus reads a status name, for list filters.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case Held, Released, PartiallyRefunded, Refunded, Disputed:
		return st, nil
	}
	return "", invalid("status", "unknown status %q", s)
}

// Outcome is how support staff resolve a dispute.
type Outcome string

// The outcomes of Resolve: the amount (by default all that is in escrow)
// goes to the merchant (release) or back to the visitor (refund); the rest
// of the escrow goes the other way.
const (
	OutcomeRelease Outcome = "release"
	OutcomeRefund  Outcome = "refund"
)

// ParseOutcome reads an outcome name.
func ParseOutcome(s string) (Outcome, error) {
	switch o := Outcome(s); o {
	case OutcomeRelease, OutcomeRefund:
		return o, nil
	}
	return "", invalid("outcome", "must be release or refund")
}

// Options configure the service. Start from DefaultOptions.
type Options struct {
	// FeeBPS is the merchant fee on release in basis points (60 = 0.6 %).
	FeeBPS int
	// AutoReleaseAfter is the default delay before a held payment is
	// released without confirmation; MaxAutoReleaseAfter bounds a
	// payment's own delay.
	AutoReleaseAfter    time.Duration
	MaxAutoReleaseAfter time.Duration
	// PayableShards is the number of payable accounts of a new merchant.
	PayableShards int
	// ReleaseBatch bounds the payments one AutoRelease call releases.
	ReleaseBatch int
	// Now is the clock (tests move it).
	Now func() time.Time
}

// DefaultOptions are the defaults of docs/API.md.
func DefaultOptions() Options {
	return Options{
		FeeBPS:              60,
		AutoReleaseAfter:    240 * time.Hour,
		MaxAutoReleaseAfter: 90 * 24 * time.Hour,
		PayableShards:       16,
		ReleaseBatch:        500,
		Now:                 time.Now,
	}
}

func (o Options) validate() error {
	switch {
	case o.FeeBPS < 0 || o.FeeBPS > 10000:
		return errors.New("escrow: fee must be 0 to 10000 basis points")
	case o.AutoReleaseAfter <= 0 || o.MaxAutoReleaseAfter < o.AutoReleaseAfter:
		return errors.New("escrow: auto-release delay must be positive and at most the maximum")
	case o.PayableShards < 1 || o.PayableShards > 64:
		return errors.New("escrow: payable shards must be 1 to 64")
	case o.ReleaseBatch < 1:
		return errors.New("escrow: release batch must be positive")
	case o.Now == nil:
		return errors.New("escrow: no clock")
	}
	return nil
}

// Fee is the merchant fee on amount at bps basis points, rounded to the
// minor unit half up. It never overflows: amount is split so that no
// intermediate product exceeds amount.
func Fee(amount money.Amount, bps int) money.Amount {
	m, b := amount.Minor(), int64(bps)
	q, r := m/10000, m%10000
	return money.New(q*b+(r*b+5000)/10000, amount.Currency())
}

// Merchant is a partner's merchant.
type Merchant struct {
	ID        string
	PartnerID string
	Name      string
	MCC       string
	// Balance is the sum of the merchant's payable accounts: released
	// funds, less fees, less refunds taken after release. Filled by
	// Service.Merchant and CreateMerchant.
	Balance   money.Amount
	CreatedAt time.Time

	payable []string // ledger account ids of the shards, shard 0 first
}

// MerchantInput is what CreateMerchant needs.
type MerchantInput struct {
	Name string
	MCC  string
}

func (in MerchantInput) validate() (MerchantInput, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 200 {
		return in, invalid("name", "must have 1 to 200 characters")
	}
	if len(in.MCC) != 4 || strings.Trim(in.MCC, "0123456789") != "" {
		return in, invalid("mcc", "must be 4 digits")
	}
	return in, nil
}

// PayableCode is the ledger code of a merchant's payable shard k.
func PayableCode(merchantID string, k int) string {
	if k == 0 {
		return "merchant:" + merchantID + ":payable"
	}
	return fmt.Sprintf("merchant:%s:payable:%d", merchantID, k)
}

// EscrowCode is the ledger code of a payment's escrow account.
func EscrowCode(paymentID string) string { return "escrow:" + paymentID }

// FeesCode is the revenue account of merchant fees. It is slotted (hot):
// every release credits it. Other packages creating it must use FeesSpec.
const FeesCode = "revenue:fees"

// FeesSpec is the ledger spec of revenue:fees that every package uses.
var FeesSpec = ledger.AccountSpec{Code: FeesCode, Currency: money.CNY, Kind: ledger.Revenue, Slots: 16}

// Payment is an escrow payment.
type Payment struct {
	ID         string
	PartnerID  string
	VisitorID  string
	MerchantID string
	Amount     money.Amount
	// Held is what is in escrow now; Released what went to the merchant
	// (fee included); Refunded what went back to the visitor; Fee the
	// merchant fee charged on release.
	Held, Released, Refunded, Fee money.Amount
	Status                        Status
	OutTradeNo                    string
	Description                   string
	AutoReleaseAfter              time.Duration
	AutoReleaseAt                 time.Time
	DisputeReason                 string
	DisputedAt                    *time.Time
	// Resolution, ResolvedBy and ResolutionReason record a dispute's end.
	Resolution       Outcome
	ResolvedBy       string
	ResolutionReason string
	ResolvedAt       *time.Time
	ReleasedAt       *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Existing is set by Create when out_trade_no named a payment made
	// before with the same fields (HTTP 200 instead of 201).
	Existing bool

	escrowAccount  string
	visitorAccount string
	dueAt          *time.Time
}

// PaymentInput is what Create needs.
type PaymentInput struct {
	VisitorID   string
	MerchantID  string
	Amount      money.Amount
	OutTradeNo  string
	Description string
	// AutoReleaseAfter is the delay before auto-release; zero means the
	// configured default.
	AutoReleaseAfter time.Duration
}

func (in PaymentInput) validate(o Options) (PaymentInput, error) {
	switch {
	case in.VisitorID == "":
		return in, invalid("visitor_id", "is required")
	case in.MerchantID == "":
		return in, invalid("merchant_id", "is required")
	case in.Amount.Currency() != money.CNY:
		return in, invalid("amount.currency", "must be CNY")
	case !in.Amount.IsPositive() || in.Amount.Minor() > ledger.MaxAmount:
		return in, invalid("amount.value", "must be positive and at most %d minor units", int64(ledger.MaxAmount))
	case in.OutTradeNo == "" || len(in.OutTradeNo) > limits.OutTradeNo:
		return in, invalid("out_trade_no", "must have 1 to %d bytes", limits.OutTradeNo)
	case utf8.RuneCountInString(in.Description) > limits.PaymentDescription:
		return in, invalid("description", "must have at most %d characters", limits.PaymentDescription)
	case in.AutoReleaseAfter < 0 || in.AutoReleaseAfter > o.MaxAutoReleaseAfter ||
		(in.AutoReleaseAfter != 0 && in.AutoReleaseAfter < time.Minute):
		return in, invalid("auto_release_after", "must be 1m to %s", o.MaxAutoReleaseAfter)
	}
	if in.AutoReleaseAfter == 0 {
		in.AutoReleaseAfter = o.AutoReleaseAfter
	}
	return in, nil
}

// sameAs reports whether a repeated out_trade_no asks for the payment p.
func (in PaymentInput) sameAs(p Payment) bool {
	return in.VisitorID == p.VisitorID && in.MerchantID == p.MerchantID && in.Amount == p.Amount &&
		in.Description == p.Description && in.AutoReleaseAfter == p.AutoReleaseAfter
}

// Refund is one refund of a payment.
type Refund struct {
	ID        string
	PaymentID string
	Amount    money.Amount
	// Source is "escrow" (refunded before release) or "merchant" (taken
	// from the merchant's balance after release).
	Source    string
	Reason    string
	CreatedBy string // staff id when a dispute resolution refunded
	CreatedAt time.Time
	// Payment is the payment after the refund.
	Payment Payment
}

// Refund sources.
const (
	SourceEscrow   = "escrow"
	SourceMerchant = "merchant"
)

// Filter selects payments for List. Cursor is the last id of the previous
// page; pages run from newest to oldest.
type Filter struct {
	VisitorID string
	Status    Status
	Cursor    string
	Limit     int
}

// Page is one page of List.
type Page struct {
	Payments   []Payment
	HasMore    bool
	NextCursor string
}

// The state machine works on minor units of the payment's currency.

func (p *Payment) cny(minor int64) money.Amount { return money.New(minor, p.Amount.Currency()) }

// refreshStatus derives the status and the auto-release queue entry from
// the amounts, so that they can never disagree.
func (p *Payment) refreshStatus() {
	amount, held, refunded := p.Amount.Minor(), p.Held.Minor(), p.Refunded.Minor()
	switch {
	case p.DisputedAt != nil && p.ResolvedAt == nil:
		p.Status = Disputed
	case refunded == amount:
		p.Status = Refunded
	case refunded > 0:
		p.Status = PartiallyRefunded
	case held > 0:
		p.Status = Held
	default:
		p.Status = Released
	}
	p.dueAt = nil
	if held > 0 && p.Status != Disputed {
		at := p.AutoReleaseAt
		p.dueAt = &at
	}
}

func (p *Payment) disputeOpen() bool { return p.DisputedAt != nil && p.ResolvedAt == nil }

// checkRelease says whether the escrow may be released by the buyer or the
// auto-release job.
func (p *Payment) checkRelease() error {
	if p.disputeOpen() || !p.Held.IsPositive() {
		return fmt.Errorf("%w: payment %s is %s with nothing releasable", ErrInvalidState, p.ID, p.Status)
	}
	return nil
}

// checkRefund says whether amount may be refunded by the partner, and
// resolves a nil amount to everything still refundable.
func (p *Payment) checkRefund(amount *money.Amount) (money.Amount, error) {
	refundable := p.Amount.Minor() - p.Refunded.Minor()
	if p.disputeOpen() || refundable <= 0 {
		return money.Amount{}, fmt.Errorf("%w: payment %s is %s", ErrInvalidState, p.ID, p.Status)
	}
	if amount == nil {
		return p.cny(refundable), nil
	}
	switch {
	case amount.Currency() != p.Amount.Currency():
		return money.Amount{}, invalid("amount.currency", "must be %s", p.Amount.Currency())
	case !amount.IsPositive():
		return money.Amount{}, invalid("amount.value", "must be positive")
	case amount.Minor() > refundable:
		return money.Amount{}, invalid("amount.value", "at most %s can be refunded", p.cny(refundable))
	}
	return *amount, nil
}

func (p *Payment) checkDispute() error {
	if p.disputeOpen() || !p.Held.IsPositive() {
		return fmt.Errorf("%w: payment %s is %s; only money in escrow can be disputed", ErrInvalidState, p.ID, p.Status)
	}
	return nil
}

// checkResolve splits the escrow of a disputed payment into the part
// released to the merchant and the part refunded to the visitor.
func (p *Payment) checkResolve(outcome Outcome, amount *money.Amount) (release, refund money.Amount, err error) {
	if !p.disputeOpen() {
		return release, refund, fmt.Errorf("%w: payment %s has no open dispute", ErrInvalidState, p.ID)
	}
	held := p.Held.Minor()
	x := held
	if amount != nil {
		switch {
		case amount.Currency() != p.Amount.Currency():
			return release, refund, invalid("amount.currency", "must be %s", p.Amount.Currency())
		case !amount.IsPositive() || amount.Minor() > held:
			return release, refund, invalid("amount.value", "must be positive and at most %s", p.Held)
		}
		x = amount.Minor()
	}
	if outcome == OutcomeRelease {
		return p.cny(x), p.cny(held - x), nil
	}
	return p.cny(held - x), p.cny(x), nil
}
