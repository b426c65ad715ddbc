package prepaid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
)

// ExpireAccounts ends the validity of accounts (docs/API.md: 90 days, then
// the balance goes back to the card, as TourPass did). In two steps:
//
//  1. every active account whose expires_at has passed becomes expired,
//     with its account.expired event in the same transaction (rows are
//     claimed FOR UPDATE SKIP LOCKED and changed with a conditional
//     UPDATE, so with several replicas each account expires, and its event
//     is written, exactly once);
//  2. every expired account is unloaded to the card of its latest
//     succeeded load and closed (Unload with close: what that card cannot
//     take back goes to the other funding cards). Two replicas on the
//     same account are kept apart by the account lock and the one pending
//     unload per account that Unload allows; a closed account refuses a
//     second unload.
//
// A frozen account is left for support staff. An account whose refund is
// declined stays expired and is tried again on the next run. It returns
// how many accounts it closed. Register it as a periodic job (hourly).
func (s *Service) ExpireAccounts(ctx context.Context, now time.Time) (int, error) {
	for {
		var expired []Account
		err := s.st.transact(ctx, func(tx *db.Tx) error {
			var err error
			expired, err = s.st.expireDueTx(tx, now, s.d.Batch)
			if err != nil {
				return err
			}
			for _, a := range expired {
				data := map[string]any{"id": a.ID, "object": "account", "visitor": a.VisitorID, "status": string(Expired),
					"expires_at": a.ExpiresAt.UTC()}
				if err := s.emit(tx, a.PartnerID, EventAccountExpired, data); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("prepaid: expire accounts: %w", err)
		}
		if len(expired) < s.d.Batch {
			break
		}
	}

	accounts, err := s.st.expiredOpen(ctx, s.d.Batch)
	if err != nil {
		return 0, err
	}
	closed := 0
	var errs []error
	for _, a := range accounts {
		cardID, err := s.st.lastFundingCard(ctx, a.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cardID == "" {
			// Never loaded: nothing can be in it but what a refund of a
			// payment brought back, which has no card to go to either;
			// close it only when it is empty.
			cardID, err = s.closeIfEmpty(ctx, a)
			if err != nil {
				errs = append(errs, err)
			} else if cardID == "" {
				closed++
			}
			continue
		}
		_, err = s.Unload(ctx, UnloadInput{PartnerID: a.PartnerID, VisitorID: a.VisitorID, CardID: cardID, Close: true})
		switch {
		case err == nil:
			closed++
		case errors.Is(err, ErrUnloadInProgress), errors.Is(err, ErrClosed):
			// Another replica is on it.
		case errors.Is(err, ErrCloseBlocked), errors.Is(err, ErrExceedsCardRoom):
			// Money is still in escrow or a load in flight: send back what
			// is available now (to every funding card, each within its
			// room) and close on a later run, once it has ended. Or the
			// account holds more than its cards can take back: send what
			// they can and leave the rest to support staff.
			if errors.Is(err, ErrExceedsCardRoom) {
				s.log.ErrorContext(ctx, "expired account holds more than its cards can take back; left for staff", "account", a.ID, "err", err)
			}
			_, uerr := s.unload(ctx, UnloadInput{PartnerID: a.PartnerID, VisitorID: a.VisitorID, CardID: cardID}, true, nil)
			if uerr != nil && !errors.Is(uerr, ErrNothingToUnload) && !errors.Is(uerr, ErrUnloadInProgress) {
				s.log.WarnContext(ctx, "expiry unload deferred", "account", a.ID, "err", uerr)
			}
		case errors.Is(err, gateway.ErrDeclined):
			s.log.WarnContext(ctx, "expiry unload declined; retried next run", "account", a.ID, "card", cardID, "err", err)
		default:
			errs = append(errs, fmt.Errorf("account %s: %w", a.ID, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return closed, fmt.Errorf("prepaid: expire accounts: %w", err)
	}
	return closed, nil
}

// closeIfEmpty closes an account without a funding card if its balance is
// zero; it returns "" when it closed it, else the reason it did not.
func (s *Service) closeIfEmpty(ctx context.Context, a Account) (string, error) {
	visitorLedger, err := s.account(ctx, VisitorLedgerSpec(a.VisitorID))
	if err != nil {
		return "", err
	}
	reason := ""
	err = s.st.transact(ctx, func(tx *db.Tx) error {
		reason = ""
		b, err := s.led.BalanceTx(ctx, tx, visitorLedger)
		if err != nil {
			return err
		}
		if !b.Posted().IsZero() {
			reason = "balance without a funding card"
			return nil
		}
		_, err = s.st.setStatusTx(tx, a.ID, []Status{Expired}, Closed, s.now())
		return err
	})
	if reason != "" {
		s.log.ErrorContext(ctx, "expired account cannot be closed", "account", a.ID, "reason", reason)
	}
	return reason, err
}
