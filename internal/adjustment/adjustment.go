// Package adjustment implements maker-checker corrections of the ledger: a
// staff member proposes a signed amount on an account with a reason; a
// different supervisor approves it, and only then is it posted, as a
// transfer against the adjustments expense account. Entries are never
// edited: a correction is always a new transfer.
package adjustment

import (
	"errors"
	"time"

	"github.com/inbound-gateway/inbound/internal/money"
)

// Errors of the package.
var (
	ErrNotFound     = errors.New("adjustment: not found")
	ErrSameStaff    = errors.New("adjustment: the approver must differ from the proposer")
	ErrNotProposed  = errors.New("adjustment: already decided")
	ErrZeroAmount   = errors.New("adjustment: amount must not be zero")
	ErrInvalidInput = errors.New("adjustment: invalid input")
)

// Status of an adjustment.
type Status string

// The statuses.
const (
	Proposed Status = "proposed"
	Approved Status = "approved"
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
}

// Reference is the ledger reference of the adjustment's transfer.
func (a Adjustment) Reference() string { return "adj:" + a.ID }

// CounterCode is the adjustments expense account of a currency.
func CounterCode(cur money.Currency) string { return "adjustments:" + cur.Code() }
