// Package prepaid holds the visitor's CNY prepaid account: its life (active,
// frozen, expired, closed), its limit profile and validity. The money itself
// is in the ledger, under the account's ledger code. Loads, unloads, limits
// and fees build on this (issue: FX quotes and the prepaid account).
package prepaid

import (
	"errors"
	"time"
)

// Errors of the package.
var (
	ErrNotFound = errors.New("prepaid: account not found")
	ErrFrozen   = errors.New("prepaid: account is frozen")
	ErrExpired  = errors.New("prepaid: account has expired")
	ErrClosed   = errors.New("prepaid: account is closed")
)

// Status is an account's state.
type Status string

// The account states of docs/API.md.
const (
	Active  Status = "active"
	Frozen  Status = "frozen"
	Expired Status = "expired"
	Closed  Status = "closed"
)

// Profile names a limit profile of docs/API.md.
type Profile string

// The limit profiles.
const (
	Basic    Profile = "basic"
	Verified Profile = "verified"
)

// Account is a visitor's prepaid account.
type Account struct {
	ID         string
	VisitorID  string
	PartnerID  string
	Status     Status
	Profile    Profile
	Currency   string
	LedgerCode string
	OpenedAt   time.Time
	ExpiresAt  time.Time
	ClosedAt   *time.Time
}

// LedgerCode is the ledger account code of a visitor's prepaid balance.
func LedgerCode(visitorID string) string { return "visitor:" + visitorID + ":prepaid" }
