package ledger

// Read helpers only the tests use: the production code never needs to
// look a hold up by id nor to list an owner's accounts.

import (
	"context"
	"errors"
	"fmt"
)

// AccountsByOwner lists the accounts of one owner (a visitor, a merchant),
// by code.
func (l *Ledger) AccountsByOwner(ctx context.Context, owner string) ([]Account, error) {
	var out []Account
	err := l.tx.transact(ctx, true, func(s store) error {
		var err error
		out, err = s.accountsByOwner(ctx, owner)
		return err
	})
	return out, err
}

// HoldStatus is where a hold stands.
type HoldStatus string

// The states of a hold.
const (
	HoldPending HoldStatus = "pending"
	HoldPosted  HoldStatus = "posted"
	HoldVoided  HoldStatus = "voided"
	// HoldExpired: ExpireHolds resolved it (see Resolution.Kind for how).
	HoldExpired HoldStatus = "expired"
)

// String is the status name.
func (s HoldStatus) String() string { return string(s) }

// HoldInfo is a hold and what became of it.
type HoldInfo struct {
	Hold   Transfer
	Status HoldStatus
	// Resolution is the post or void transfer; zero while pending.
	Resolution Transfer
}

// HoldState looks a hold up by its transfer id.
func (l *Ledger) HoldState(ctx context.Context, id string) (HoldInfo, error) {
	var info HoldInfo
	err := l.tx.transact(ctx, true, func(s store) error {
		t, err := s.transfer(ctx, id)
		if errors.Is(err, errNoRow) || (err == nil && t.Kind != TransferPending) {
			return fmt.Errorf("%w: %s", ErrHoldNotFound, id)
		}
		if err != nil {
			return err
		}
		r, ok, err := s.resolution(ctx, id)
		if err != nil {
			return err
		}
		info = HoldInfo{Hold: t, Status: HoldPending}
		switch {
		case !ok:
		case r.Reference == expiryReference(id):
			info.Status, info.Resolution = HoldExpired, r
		case r.Kind == TransferPostPending:
			info.Status, info.Resolution = HoldPosted, r
		default:
			info.Status, info.Resolution = HoldVoided, r
		}
		return nil
	})
	return info, err
}
