// Package adjustment implements maker-checker corrections of the ledger: a
// staff member proposes a signed amount on an account with a reason; a
// second supervisor approves it, and only then is it posted, as a transfer
// against the adjustments expense account. The approver must be
// independent of the proposer and have been active before the proposal
// (auth.CheckFourEyes), so no one can create their own checker. Each
// adjustment is bounded by a ceiling, and a closed account takes none.
// Entries are never edited: a correction is always a new transfer.
package adjustment

import (
	"context"
	"errors"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/money"
)

// Errors of the package.
var (
	ErrNotFound     = errors.New("adjustment: not found")
	ErrNotProposed  = errors.New("adjustment: already decided")
	ErrZeroAmount   = errors.New("adjustment: amount must not be zero")
	ErrInvalidInput = errors.New("adjustment: invalid input")
	// ErrAboveCeiling is an amount beyond the configured ceiling of one
	// adjustment (its absolute value, counted in CNY).
	ErrAboveCeiling = errors.New("adjustment: amount is above the ceiling of one adjustment")
	// ErrAccountClosed refuses adjustments on a closed prepaid account: the
	// money could never leave it.
	ErrAccountClosed = errors.New("adjustment: the account is closed")
)

// DefaultCeiling is the default bound of one adjustment: CNY 5,000.00.
var DefaultCeiling = money.New(500000, money.CNY)

// Staff looks staff members up for the four-eyes rule (auth.Service).
type Staff interface {
	StaffMember(ctx context.Context, id string) (auth.Staff, error)
}

// Accounts tells whether a ledger account belongs to a closed prepaid
// account (prepaid.Store), inside the caller's transaction.
type Accounts interface {
	LedgerAccountClosedTx(tx *db.Tx, ledgerCode string) (bool, error)
}

// ToCNY converts an amount to CNY at the mid rate, to hold adjustments in
// other currencies to the CNY ceiling.
type ToCNY func(ctx context.Context, a money.Amount) (money.Amount, error)

// Options configure the service. Staff is required.
type Options struct {
	Staff    Staff
	Accounts Accounts
	// Ceiling bounds one adjustment (CNY; default DefaultCeiling).
	Ceiling money.Amount
	// ToCNY converts other currencies for the ceiling; without it, an
	// adjustment in another currency is refused.
	ToCNY ToCNY
	Now   func() time.Time
}

// Status of an adjustment.
type Status string

// The statuses.
const (
	Proposed Status = "proposed"
	Approved Status = "approved"
	// Rejected is a proposal a supervisor turned down: it never posts.
	Rejected Status = "rejected"
)

// Adjustment is a proposed or posted correction.
type Adjustment struct {
	ID          string
	AccountID   string
	AccountCode string
	// Amount is signed: positive raises the account's balance on its
	// normal side, negative lowers it.
	Amount     money.Amount
	Reason     string
	Status     Status
	ProposedBy string
	ApprovedBy string
	CreatedAt  time.Time
	ApprovedAt *time.Time
	// RejectedBy, RejectedAt and RejectReason are set on a rejected
	// adjustment.
	RejectedBy   string
	RejectedAt   *time.Time
	RejectReason string
}

// Reference is the ledger reference of the adjustment's transfer.
func (a Adjustment) Reference() string { return "adj:" + a.ID }

// CounterCode is the adjustments expense account of a currency.
func CounterCode(cur money.Currency) string { return "adjustments:" + cur.Code() }
