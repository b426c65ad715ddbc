package ledger

import (
	"fmt"
	"time"

	"github.com/inbound-gateway/inbound/internal/money"
)

// Kind is an account's accounting class. It fixes the account's normal side:
// assets and expenses grow with debits, liabilities and revenue with credits.
// It is a struct so that no other value can exist outside this package.
type Kind struct{ name string }

// The four account kinds.
var (
	Asset     = Kind{"asset"}
	Liability = Kind{"liability"}
	Revenue   = Kind{"revenue"}
	Expense   = Kind{"expense"}
)

// ParseKind reads a kind by name ("asset", "liability", "revenue", "expense").
func ParseKind(s string) (Kind, error) {
	for _, k := range []Kind{Asset, Liability, Revenue, Expense} {
		if k.name == s {
			return k, nil
		}
	}
	return Kind{}, fmt.Errorf("%w: kind %q", ErrInvalidAccount, s)
}

// String is the kind's name as stored.
func (k Kind) String() string { return k.name }

// IsZero reports whether k is the zero Kind (no kind).
func (k Kind) IsZero() bool { return k.name == "" }

// debitNormal reports whether debits increase the balance of this kind.
func (k Kind) debitNormal() bool { return k == Asset || k == Expense }

// MaxSlots bounds the balance rows of one account; reading a balance sums them.
const MaxSlots = 256

// maxCodeLen bounds account codes and references so a hostile caller cannot
// make the unique indexes store megabytes.
const maxCodeLen = 200

// AccountSpec describes an account for EnsureAccount.
type AccountSpec struct {
	// Code is the unique human name, e.g. "visitor:vis_x:prepaid".
	Code     string
	Currency money.Currency
	Kind     Kind
	// Owner is an optional reference to the owning object (a visitor id, a
	// merchant id); it is indexed for look-ups.
	Owner string
	// NoNegative refuses any transfer or hold that would make the available
	// balance (posted, minus pending outflows) negative.
	NoNegative bool
	// Slots is the number of balance rows (default 1). More than one spreads
	// the row locks of a hot account; only unconstrained accounts may have
	// more than one, since a balance check needs all of the balance in one
	// locked row.
	Slots int
}

func (s AccountSpec) normalized() (AccountSpec, error) {
	if s.Slots == 0 {
		s.Slots = 1
	}
	switch {
	case s.Code == "" || len(s.Code) > maxCodeLen:
		return s, fmt.Errorf("%w: code must have 1 to %d bytes", ErrInvalidAccount, maxCodeLen)
	case s.Currency.IsZero():
		return s, fmt.Errorf("%w: %s: no currency", ErrInvalidAccount, s.Code)
	case s.Kind.IsZero():
		return s, fmt.Errorf("%w: %s: no kind", ErrInvalidAccount, s.Code)
	case s.Slots < 1 || s.Slots > MaxSlots:
		return s, fmt.Errorf("%w: %s: slots must be 1 to %d", ErrInvalidAccount, s.Code, MaxSlots)
	case s.NoNegative && s.Slots != 1:
		return s, fmt.Errorf("%w: %s: a no-negative account has exactly one slot", ErrInvalidAccount, s.Code)
	case len(s.Owner) > maxCodeLen:
		return s, fmt.Errorf("%w: %s: owner too long", ErrInvalidAccount, s.Code)
	}
	return s, nil
}

// Account is a ledger account. All of its fields are fixed at creation.
type Account struct {
	ID         string
	Code       string
	Currency   money.Currency
	Kind       Kind
	Owner      string
	NoNegative bool
	Slots      int
	CreatedAt  time.Time
}

// matches reports whether an existing account is what spec asks for, so that
// EnsureAccount can tell a repeat from a clash.
func (a Account) matches(s AccountSpec) bool {
	return a.Code == s.Code && a.Currency == s.Currency && a.Kind == s.Kind &&
		a.Owner == s.Owner && a.NoNegative == s.NoNegative && a.Slots == s.Slots
}

// Balance is an account's state, summed over its slots. The four counters
// are the raw sums of the account's transfers; Posted, Pending and Available
// read them in the account's normal direction.
type Balance struct {
	Account        Account
	DebitsPosted   int64
	CreditsPosted  int64
	DebitsPending  int64
	CreditsPending int64
}

// Posted is the balance of posted transfers, positive on the normal side.
func (b Balance) Posted() money.Amount {
	return money.New(b.counters().posted(b.Account.Kind), b.Account.Currency)
}

// Available is Posted minus pending outflows (holds), the amount that can
// still be spent; pending inflows do not count until posted.
func (b Balance) Available() money.Amount {
	return money.New(b.counters().available(b.Account.Kind), b.Account.Currency)
}

// Pending is the net of open holds, positive on the normal side.
func (b Balance) Pending() money.Amount {
	c := b.counters()
	if b.Account.Kind.debitNormal() {
		return money.New(c.debitsPending-c.creditsPending, b.Account.Currency)
	}
	return money.New(c.creditsPending-c.debitsPending, b.Account.Currency)
}

func (b Balance) counters() counters {
	return counters{b.DebitsPosted, b.CreditsPosted, b.DebitsPending, b.CreditsPending}
}

// counters are the four sums kept per balance row.
type counters struct {
	debitsPosted, creditsPosted, debitsPending, creditsPending int64
}

func (c counters) add(d counters) counters {
	return counters{
		c.debitsPosted + d.debitsPosted, c.creditsPosted + d.creditsPosted,
		c.debitsPending + d.debitsPending, c.creditsPending + d.creditsPending,
	}
}

func (c counters) sub(d counters) counters {
	return counters{
		c.debitsPosted - d.debitsPosted, c.creditsPosted - d.creditsPosted,
		c.debitsPending - d.debitsPending, c.creditsPending - d.creditsPending,
	}
}

func (c counters) posted(k Kind) int64 {
	if k.debitNormal() {
		return c.debitsPosted - c.creditsPosted
	}
	return c.creditsPosted - c.debitsPosted
}

func (c counters) available(k Kind) int64 {
	if k.debitNormal() {
		return c.debitsPosted - c.creditsPosted - c.creditsPending
	}
	return c.creditsPosted - c.debitsPosted - c.debitsPending
}
