package prepaid

import (
	"context"
	"errors"
	"fmt"
	"github.com/inbound-gateway/inbound/internal/idempotency"
	"time"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
)

// ErrUnloadNotFound: no such unload (404 resource_missing).
var ErrUnloadNotFound = errors.New("prepaid: unload not found")

// UnloadStatus is where an unload is; pending is internal, as for loads.
type UnloadStatus string

// The unload statuses.
const (
	UnloadPending   UnloadStatus = "pending"
	UnloadSucceeded UnloadStatus = "succeeded"
	UnloadFailed    UnloadStatus = "failed"
)

// Unload is a refund of the account's available balance to a card. Its
// JSON form is the API's unload object and the data of unload.succeeded.
type Unload struct {
	ID        string       `json:"id"`
	Object    string       `json:"object"`
	VisitorID string       `json:"visitor"`
	CardID    string       `json:"card_id"`
	Status    UnloadStatus `json:"status"`
	// Amount is the CNY taken from the account; Refunded what the card
	// gets, at Rate (CNY per unit of the card currency).
	Amount      money.Amount `json:"amount"`
	Refunded    money.Amount `json:"refunded"`
	Rate        string       `json:"rate,omitempty"`
	QuoteID     string       `json:"quote_id,omitempty"`
	Close       bool         `json:"close"`
	Network     NetworkInfo  `json:"network"`
	DeclineCode string       `json:"decline_code,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
}

func (r unloadRow) unload() Unload {
	cur, err := money.LookupCurrency(r.RefundCurrency)
	if err != nil {
		cur = money.CNY
	}
	return Unload{
		ID: r.ID, Object: "unload", VisitorID: r.VisitorID, CardID: r.CardID, Status: UnloadStatus(r.Status),
		Amount: money.New(r.AmountMinor, money.CNY), Refunded: money.New(r.RefundMinor, cur), Rate: r.Rate,
		QuoteID: r.QuoteID, Close: r.CloseAccount,
		Network:     NetworkInfo{ResponseCode: r.ResponseCode, AuthCode: r.AuthCode, STAN: r.STAN, RRN: r.RRN},
		DeclineCode: r.DeclineCode, CreatedAt: r.CreatedAt.UTC(),
	}
}

// Ledger references of an unload: the hold that reserves the CNY while the
// network decides, the batch that books the refund, the release of the
// hold when it fails.
func unloadReference(id string) string     { return "unl:" + id }
func unloadHoldReference(id string) string { return "unl:" + id + ":hold" }
func unloadVoidReference(id string) string { return "unl:" + id + ":void" }

// errBalanceMoved: the balance changed between the quote and the
// reservation; the unload is priced again.
var errBalanceMoved = errors.New("prepaid: balance moved")

// Unload sends the whole available balance of the visitor's account back to
// cardID, a card that funded the account (one with a succeeded load), as a
// network refund at a fresh reverse quote (rounded down to the card's minor
// unit: the bank's favour). Money held for escrow payments stays. With
// closeAccount the account closes once the refund is approved (or at once
// when there is nothing to refund). A frozen or closed account refuses;
// an expired one may unload.
//
// The CNY is reserved by a ledger hold in the write-ahead transaction, so
// nothing can spend it while the network decides; approval posts the hold
// with the rest of the batch (visitor -> fx:CNY -> revenue:fx_spread,
// fx:<CUR> -> network:<net>:<CUR>), a decline releases it.
func (s *Service) Unload(ctx context.Context, partnerID, visitorID, cardID string, closeAccount bool) (Unload, error) {
	if key := idempotency.RequestKey(ctx); key != "" {
		// A retry of a request that crashed after its first commit: answer
		// with the unload it started.
		prev, err := s.st.unloadByRequest(ctx, partnerID, key)
		if err != nil {
			return Unload{}, err
		}
		if prev != nil {
			u := prev.unload()
			switch u.Status {
			case UnloadSucceeded:
				return u, nil
			case UnloadFailed:
				return u, &gateway.DeclineError{Decline: gateway.Decline{Code: u.DeclineCode, ResponseCode: u.Network.ResponseCode}}
			}
			return Unload{}, fmt.Errorf("%w: unload %s", ErrUnresolved, u.ID)
		}
	}
	acct, err := s.st.ByVisitor(ctx, partnerID, visitorID)
	if err != nil {
		return Unload{}, err
	}
	if err := unloadable(acct); err != nil {
		return Unload{}, err
	}
	card, err := s.d.Cards.CardOf(ctx, partnerID, cardID)
	if err != nil {
		return Unload{}, err
	}
	if card.VisitorID != visitorID {
		return Unload{}, gateway.ErrCardNotFound
	}
	cur, err := money.LookupCurrency(card.Currency)
	if err != nil || (card.Status != gateway.StatusVerified && card.Status != gateway.StatusRemoved) {
		return Unload{}, fmt.Errorf("%w: card %s is %s", ErrCardNotUsable, cardID, card.Status)
	}
	if err := s.cardReadable(ctx, cardID); err != nil {
		return Unload{}, err
	}
	accts, err := s.roleAccounts(ctx, visitorID, card.Network.String(), cur)
	if err != nil {
		return Unload{}, err
	}
	for range 3 {
		u, q, err := s.startUnload(ctx, acct, card, cur, accts, closeAccount)
		if errors.Is(err, errBalanceMoved) {
			continue
		}
		if err != nil || u.Status != UnloadPending {
			return u, err
		}
		var out Unload
		applied := false
		call, err := s.d.Network.Refund(ctx, cardID, u.ID, u.Refunded, "", func(tx *db.Tx, c gateway.Call) error {
			applied = true
			return s.applyUnload(ctx, tx, u.ID, c, q, accts, &out)
		})
		return s.unloadResult(ctx, u.ID, call, applied, out, err)
	}
	return Unload{}, fmt.Errorf("%w: the balance keeps changing", ErrUnloadInProgress)
}

// unloadable refuses frozen and closed accounts.
func unloadable(a Account) error {
	switch a.Status {
	case Frozen:
		return ErrFrozen
	case Closed:
		return ErrClosed
	}
	return nil
}

// startUnload prices the available balance and, in one transaction under
// the account lock, checks it has not moved, spends the quote, holds the
// CNY and writes the pending unload. With nothing to refund it closes the
// account (if asked) and returns a succeeded unload of zero.
func (s *Service) startUnload(ctx context.Context, acct Account, card gateway.Card, cur money.Currency,
	accts map[fx.Role]string, closeAccount bool) (Unload, fx.Quote, error) {
	bal, err := s.led.Balance(ctx, accts[fx.RoleVisitor])
	if err != nil {
		return Unload{}, fx.Quote{}, err
	}
	avail := bal.Available()
	var q fx.Quote
	if avail.IsPositive() {
		q, err = s.d.Quotes.UnloadQuote(ctx, fx.Request{
			Owner: fx.Owner{PartnerID: acct.PartnerID, VisitorID: acct.VisitorID}, CardID: card.ID, Card: cur, Amount: avail})
		switch {
		case errors.Is(err, fx.ErrInvalidAmount):
			// Less than one minor unit of the card currency: it stays in
			// the account (and in the ledger) rather than go to anyone.
			avail = money.New(0, money.CNY)
		case err != nil:
			return Unload{}, fx.Quote{}, err
		}
	}
	if !avail.IsPositive() && !closeAccount {
		return Unload{}, fx.Quote{}, fmt.Errorf("%w: available balance %s", ErrNothingToUnload, bal.Available())
	}

	now := s.now().Truncate(time.Microsecond)
	row := unloadRow{
		ID: ids.New(ids.Unload), PartnerID: acct.PartnerID, VisitorID: acct.VisitorID, AccountID: acct.ID,
		CardID: card.ID, Status: string(UnloadPending), CloseAccount: closeAccount, Network: card.Network.String(),
		RefundCurrency: cur.Code(), CreatedAt: now, UpdatedAt: now, RequestKey: idempotency.RequestKey(ctx),
	}
	if avail.IsPositive() {
		row.QuoteID, row.AmountMinor, row.RefundMinor, row.Rate = q.ID(), q.Sell().Minor(), q.Card().Minor(), q.RateString()
	}
	var out Unload
	err = s.st.transact(ctx, func(tx *db.Tx) error {
		a, err := s.st.lockAccountTx(tx, acct.VisitorID)
		if err != nil {
			return err
		}
		if err := unloadable(a); err != nil {
			return err
		}
		busy, err := s.st.pendingUnloadTx(tx, a.ID)
		if err != nil {
			return err
		}
		if busy {
			return ErrUnloadInProgress
		}
		if closeAccount {
			// Closing must wait for money still on its way: a load in
			// flight would be credited, or an escrow refund paid, into a
			// closed account that nothing sweeps out.
			inFlight, err := s.st.inFlightTx(tx, a.ID)
			if err != nil {
				return err
			}
			if inFlight > 0 {
				return fmt.Errorf("%w: a load is in flight", ErrCloseBlocked)
			}
			if s.d.Escrow != nil {
				held, err := s.d.Escrow.HeldFor(ctx, acct.VisitorID)
				if err != nil {
					return err
				}
				if held.IsPositive() {
					return fmt.Errorf("%w: %s is held in escrow", ErrCloseBlocked, held)
				}
			}
		}
		if avail.IsPositive() {
			funded, err := s.st.fundingCardTx(tx, a.ID, card.ID)
			if err != nil {
				return err
			}
			if !funded {
				return fmt.Errorf("%w: card %s never funded the account", ErrCardNotUsable, card.ID)
			}
		}
		fresh, err := s.led.BalanceTx(ctx, tx, accts[fx.RoleVisitor])
		if err != nil {
			return err
		}
		if fresh.Available() != bal.Available() {
			return errBalanceMoved
		}
		if !avail.IsPositive() {
			return s.closeEmptyTx(ctx, tx, a, row, &out)
		}
		if err := s.d.QuoteUse.Use(ctx, tx, q.ID(), s.now()); err != nil {
			return err
		}
		op, err := s.led.PostTx(ctx, tx, ledger.Batch{Reference: unloadHoldReference(row.ID), Ops: []ledger.Op{
			ledger.Hold(accts[fx.RoleVisitor], accts[fx.RoleFXCNY], q.Sell(), time.Time{}, ledger.ExpiryAction{})}})
		if err != nil {
			return fmt.Errorf("prepaid: reserve unload: %w", err)
		}
		row.HoldID = op.Transfers[0].ID
		out = row.unload()

		return s.st.insertUnloadTx(tx, row)
	})
	if err != nil {
		return Unload{}, fx.Quote{}, err
	}
	return out, q, nil
}

// closeEmptyTx records an unload of nothing and closes the account.
func (s *Service) closeEmptyTx(ctx context.Context, tx *db.Tx, a Account, row unloadRow, out *Unload) error {
	row.Status = string(UnloadSucceeded)
	if err := s.st.insertUnloadTx(tx, row); err != nil {
		return err
	}
	if _, err := s.st.setStatusTx(tx, a.ID, []Status{Active, Expired}, Closed, s.now()); err != nil {
		return err
	}
	*out = row.unload()
	if err := s.emit(tx, row.PartnerID, EventUnloadSucceeded, *out); err != nil {
		return err
	}
	return db.RunHooks(ctx, tx, *out)
}

// applyUnload records the network's answer to the refund.
func (s *Service) applyUnload(ctx context.Context, tx *db.Tx, unloadID string, c gateway.Call, q fx.Quote, accts map[fx.Role]string, out *Unload) error {
	r, err := s.st.unloadForUpdateTx(tx, unloadID)
	if err != nil {
		return err
	}
	if UnloadStatus(r.Status) != UnloadPending {
		if c.State == gateway.StateApproved && UnloadStatus(r.Status) != UnloadSucceeded {
			return fmt.Errorf("%w: %s is %s", errSettled, unloadID, r.Status)
		}
		*out = r.unload()
		return nil
	}
	r.CallID, r.UpdatedAt = c.ID, s.now().Truncate(time.Microsecond)
	r.ResponseCode, r.AuthCode, r.STAN, r.RRN = c.ResponseCode, c.AuthCode, c.Trace.STAN, c.Trace.RRN
	switch c.State {
	case gateway.StateApproved:
		return s.bookUnload(ctx, tx, r, q, accts, out)
	case gateway.StateIntent:
		*out = r.unload()
		return nil
	}
	return s.failUnloadTx(ctx, tx, r, declineOf(c), out)
}

// bookUnload posts the refund's batch: the hold becomes the visitor's
// debit, the spread is booked and the card currency leaves through the
// network account. The legs come from the quote (fx.Quote.Legs).
func (s *Service) bookUnload(ctx context.Context, tx *db.Tx, r unloadRow, q fx.Quote, accts map[fx.Role]string, out *Unload) error {
	var ops []ledger.Op
	for _, leg := range q.Legs() {
		if leg.Debit == fx.RoleVisitor {
			// The visitor's leg is the reserved hold, posted in full.
			ops = append(ops, ledger.PostHold(r.HoldID, leg.Amount))
			continue
		}
		ops = append(ops, ledger.Move(accts[leg.Debit], accts[leg.Credit], leg.Amount))
	}
	if _, err := s.led.PostTx(ctx, tx, ledger.Batch{Reference: unloadReference(r.ID), Ops: ops}); err != nil {
		return fmt.Errorf("prepaid: book unload %s: %w", r.ID, err)
	}
	r.Status, r.DeclineCode = string(UnloadSucceeded), ""
	if err := s.st.saveUnloadTx(tx, r); err != nil {
		return err
	}
	if r.CloseAccount {
		if _, err := s.st.setStatusTx(tx, r.AccountID, []Status{Active, Expired}, Closed, s.now()); err != nil {
			return err
		}
	}
	*out = r.unload()
	if err := s.emit(tx, r.PartnerID, EventUnloadSucceeded, *out); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "unload booked", "unload", r.ID, "visitor", r.VisitorID, "call", r.CallID)
	return db.RunHooks(ctx, tx, *out)
}

// failUnloadTx releases the hold and fails the unload.
func (s *Service) failUnloadTx(ctx context.Context, tx *db.Tx, r unloadRow, declineCode string, out *Unload) error {
	if r.HoldID != "" {
		_, err := s.led.PostTx(ctx, tx, ledger.Batch{Reference: unloadVoidReference(r.ID), Ops: []ledger.Op{ledger.VoidHold(r.HoldID)}})
		if err != nil {
			return fmt.Errorf("prepaid: release unload %s: %w", r.ID, err)
		}
	}
	if declineCode == "" {
		declineCode = gateway.DeclineProcessingError
	}
	r.Status, r.DeclineCode, r.UpdatedAt = string(UnloadFailed), declineCode, s.now().Truncate(time.Microsecond)
	if err := s.st.saveUnloadTx(tx, r); err != nil {
		return err
	}
	*out = r.unload()
	return nil
}

// unloadParts reads what booking an unload needs, before its transaction.
func (s *Service) unloadParts(ctx context.Context, r unloadRow) (fx.Quote, map[fx.Role]string, error) {
	q, err := s.d.Quotes.Get(ctx, fx.Owner{PartnerID: r.PartnerID, VisitorID: r.VisitorID}, r.QuoteID)
	if err != nil {
		return fx.Quote{}, nil, fmt.Errorf("prepaid: quote of unload %s: %w", r.ID, err)
	}
	if q.Sell().Minor() != r.AmountMinor || q.Card().Minor() != r.RefundMinor {
		return fx.Quote{}, nil, fmt.Errorf("prepaid: quote %s does not match unload %s", q.ID(), r.ID)
	}
	accts, err := s.roleAccounts(ctx, r.VisitorID, r.Network, q.Card().Currency())
	if err != nil {
		return fx.Quote{}, nil, err
	}
	return q, accts, nil
}

// unloadResult is loadResult for unloads.
func (s *Service) unloadResult(ctx context.Context, id string, call gateway.Call, applied bool, out Unload, err error) (Unload, error) {
	if !applied || errors.Is(err, gateway.ErrNotRecorded) {
		s.log.WarnContext(ctx, "unload outcome not recorded; settling", "unload", id, "call", call.ID, "err", err)
		settled, rerr := s.settleUnload(context.WithoutCancel(ctx), id)
		if rerr != nil || settled.Status == UnloadPending {
			return Unload{}, fmt.Errorf("%w: unload %s: %w", ErrUnresolved, id, errors.Join(err, rerr))
		}
		out = settled
	}
	switch out.Status {
	case UnloadSucceeded:
		return out, nil
	case UnloadFailed:
		return out, declineErr(out.DeclineCode)
	}
	if err == nil {
		err = ErrUnresolved
	}
	return out, err
}

// settleUnload brings a pending unload to succeeded or failed from its
// refund call record, by the rules of Recover.
func (s *Service) settleUnload(ctx context.Context, id string) (Unload, error) {
	r, err := s.st.unload(ctx, "", id)
	if err != nil {
		return Unload{}, err
	}
	if UnloadStatus(r.Status) != UnloadPending {
		return r.unload(), nil
	}
	call, hasReversal, err := s.callOf(ctx, id, gateway.KindRefund)
	if err != nil {
		return Unload{}, err
	}
	switch {
	case call == nil:
		return s.finishUnload(ctx, id, nil, gateway.DeclineIssuerUnavailable)
	case call.State == gateway.StateApproved && !hasReversal:
		u, err := s.finishUnload(ctx, id, call, "")
		if err == nil {
			return u, nil
		}
		s.log.ErrorContext(ctx, "refunded unload cannot be booked; reversing", "unload", id, "call", call.ID, "err", err)
		fallthrough
	case call.State == gateway.StateApproved, call.State == gateway.StateIntent, call.State == gateway.StateUnknown:
		c, err := s.d.Network.Reverse(ctx, call.ID)
		if err != nil || c.State != gateway.StateReversed {
			return r.unload(), fmt.Errorf("prepaid: unload %s: reversal of %s not acknowledged: %w", id, call.ID, err)
		}
		return s.finishUnload(ctx, id, nil, gateway.DeclineIssuerUnavailable)
	}
	return s.finishUnload(ctx, id, nil, declineOf(*call))
}

// finishUnload books the unload for an approved call, or fails it.
func (s *Service) finishUnload(ctx context.Context, id string, approved *gateway.Call, declineCode string) (Unload, error) {
	var (
		q     fx.Quote
		accts map[fx.Role]string
	)
	if approved != nil {
		r, err := s.st.unload(ctx, "", id)
		if err != nil {
			return Unload{}, err
		}
		if q, accts, err = s.unloadParts(ctx, r); err != nil {
			return Unload{}, err
		}
	}
	var out Unload
	err := s.st.transact(ctx, func(tx *db.Tx) error {
		r, err := s.st.unloadForUpdateTx(tx, id)
		if err != nil {
			return err
		}
		if UnloadStatus(r.Status) != UnloadPending {
			out = r.unload()
			return nil
		}
		r.UpdatedAt = s.now().Truncate(time.Microsecond)
		if approved != nil {
			r.CallID = approved.ID
			r.ResponseCode, r.AuthCode, r.STAN, r.RRN = approved.ResponseCode, approved.AuthCode, approved.Trace.STAN, approved.Trace.RRN
			return s.bookUnload(ctx, tx, r, q, accts, &out)
		}
		return s.failUnloadTx(ctx, tx, r, declineCode, &out)
	})
	return out, err
}
