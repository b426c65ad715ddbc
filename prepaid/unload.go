package prepaid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

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
	// Unloads lists every unload the request made, this one first: more
	// than one when close sent the rest to other funding cards. Only the
	// answer to the request has it (not the unload.succeeded events).
	Unloads []Unload `json:"unloads,omitempty"`
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

// ErrExceedsCardRoom: the unload would send a card more than it paid in.
// It always comes as a *CardRoomError with the room (422 limit_error /
// unload_exceeds_card_room).
var ErrExceedsCardRoom = errors.New("prepaid: unload exceeds what the card can take back")

// CardRoomError refuses an unload beyond the room of the funding cards.
type CardRoomError struct {
	CardID string
	// Requested is the available balance the unload would send (CNY).
	Requested money.Amount
	// Room is the CNY that can go back now: to the chosen card alone, or
	// (with close) to every funding card together.
	Room money.Amount
	// RefundRoom is the chosen card's captures net of its refunds, in the
	// card's currency: the most the network may still refund to it.
	RefundRoom money.Amount
}

func (e *CardRoomError) Error() string {
	return fmt.Sprintf("prepaid: unload of %s exceeds the room of %s (card %s may get back %s more)",
		e.Requested, e.Room, e.CardID, e.RefundRoom)
}

// Unwrap makes errors.Is(err, ErrExceedsCardRoom) true.
func (e *CardRoomError) Unwrap() error { return ErrExceedsCardRoom }

// unloadTarget is a funding card an unload may send money to.
type unloadTarget struct {
	card  gateway.Card
	cur   money.Currency
	accts map[fx.Role]string
	room  cardRoom
}

// unloadPart is one unload (one network refund) of a request.
type unloadPart struct {
	unloadTarget
	q   fx.Quote
	row unloadRow
}

// Unload sends the available balance of the visitor's account back to
// cardID, a card that funded the account, as a network refund at a fresh
// reverse quote (rounded down to the card's minor unit: the bank's
// favour). Money held for escrow payments stays. A frozen or closed
// account refuses; an expired one may unload.
//
// A card never gets back more than it paid in. What goes to a card must
// fit two rooms, both net of its earlier unloads (succeeded or still
// pending):
//
//   - in its own currency: what its succeeded loads captured less what its
//     unloads refunded. This is what the network checks (no refund above
//     the captures), and a fresh quote may buy more card currency for the
//     same CNY than the load's quote did, so CNY alone would not do;
//   - in CNY: what its loads credited less what its unloads debited. So
//     no CNY that another card (or anyone else) paid in is converted out
//     to this card, whichever way the rate moved.
//
// When the chosen card's room is less than the available balance the
// request is refused with a *CardRoomError, unless closeAccount is set:
// then the chosen card takes its room and the rest goes to the other
// funding cards, newest load first, each part its own unload and network
// refund. If the cards together cannot take it all (money that came from
// no card, or a rate that moved far), close is refused the same way and
// support staff decide. A rest too small to buy one minor unit stays in
// the account, as it always did.
//
// Every part is reserved (ledger hold, pending row) in one write-ahead
// transaction under the account lock, then sent one after the other, each
// booked or failed on its own network answer (Recover settles the ones a
// crash leaves). The account closes when the last part succeeds; if one
// is declined the others stand and the account stays open with the rest.
// The first unload is the request's (idempotency) one: it carries the
// request key and names the group; the answer is that unload with the
// list of all of them in Unloads.
func (s *Service) Unload(ctx context.Context, in UnloadInput, then ...db.Then[Unload]) (Unload, error) {
	return s.unload(ctx, in, in.Close, then)
}

// UnloadInput is what an unload needs: whose account, to which card,
// whether to close the account, and the request it is the execution of.
type UnloadInput struct {
	PartnerID, VisitorID, CardID string
	// Close spreads the rest over the other funding cards and closes the
	// account after.
	Close bool
	// RequestKey is the scoped idempotency key of the request
	// (idempotency.ScopedKey), "" for none: recorded on the first unload,
	// so a retry of a request that crashed answers with its unloads.
	RequestKey string
}

// unload is Unload; spread without closeAccount (the expiry job) sends
// what the funding cards can take and leaves the rest, without refusing.
// The transaction that completes the request ends with then.
func (s *Service) unload(ctx context.Context, in UnloadInput, spread bool, then []db.Then[Unload]) (Unload, error) {
	partnerID, visitorID, cardID, closeAccount, key := in.PartnerID, in.VisitorID, in.CardID, in.Close, in.RequestKey
	if key != "" {
		// A retry of a request that crashed after its first commit: answer
		// with the unloads it started.
		prev, err := s.st.unloadByRequest(ctx, partnerID, key)
		if err != nil {
			return Unload{}, err
		}
		if prev != nil {
			rows, err := s.st.unloadGroup(ctx, *prev)
			if err != nil {
				return Unload{}, err
			}
			// Unloads the dead request left pending are settled now, as
			// for a load (settleRetried): the retry holds the lock.
			settledAny := false
			for _, r := range rows {
				if UnloadStatus(r.Status) != UnloadPending {
					continue
				}
				s.log.InfoContext(ctx, "retry of an interrupted unload; settling it", "unload", r.ID)
				stop := s.keepLeased(&unloadRow{}, r.ID)
				_, err := s.settleUnload(context.WithoutCancel(ctx), r.ID, then)
				stop()
				if err != nil {
					s.log.ErrorContext(ctx, "interrupted unload left to recovery", "unload", r.ID, "err", err)
					return Unload{}, fmt.Errorf("%w: unload %s: %w", ErrUnresolved, r.ID, err)
				}
				settledAny = true
			}
			if settledAny {
				if rows, err = s.st.unloadGroup(ctx, *prev); err != nil {
					return Unload{}, err
				}
			}
			return groupOutcome(rows)
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
	chosen := unloadTarget{card: card, cur: cur, accts: accts}
	for range 3 {
		parts, done, err := s.startUnload(ctx, acct, chosen, closeAccount, spread, key, then)
		if errors.Is(err, errBalanceMoved) {
			continue
		}
		if err != nil {
			return Unload{}, err
		}
		if done != nil {
			return *done, nil
		}
		return s.sendUnloads(ctx, parts, then)
	}
	return Unload{}, fmt.Errorf("%w: the balance keeps changing", ErrUnloadInProgress)
}

// sendUnloads sends the reserved parts one after the other. Each gets its
// own network answer, even after a decline of another: the money is
// reserved for it and the cards have room. The answer is read back from
// the rows, as a retry would read it.
func (s *Service) sendUnloads(ctx context.Context, parts []unloadPart, then []db.Then[Unload]) (Unload, error) {
	ids := make([]string, len(parts))
	for i, p := range parts {
		ids[i] = p.row.ID
	}
	defer s.keepLeased(&unloadRow{}, ids...)()
	for i, p := range parts {
		if i == 1 {
			// Money has moved for the first part: a client that hangs up
			// now must not leave the rest to fail unsent.
			ctx = context.WithoutCancel(ctx)
		}
		var out Unload
		applied := false
		call, err := s.d.Network.Refund(ctx, p.card.ID, p.row.ID, p.q.Card(), "", func(tx *db.Tx, c gateway.Call) error {
			applied = true
			return s.applyUnload(ctx, tx, p.row.ID, c, p.q, p.accts, &out, then)
		})
		if _, err := s.unloadResult(ctx, p.row.ID, call, applied, out, err, then); err != nil {
			s.log.WarnContext(ctx, "unload part not succeeded", "unload", p.row.ID, "group", p.row.GroupID, "err", err)
		}
	}
	rows, err := s.st.unloadGroup(context.WithoutCancel(ctx), parts[0].row)
	if err != nil {
		return Unload{}, err
	}
	return groupOutcome(rows)
}

// groupUnload is the answer of a request: its first unload with every
// unload of the request (itself included) in Unloads.
func groupUnload(rows []unloadRow) Unload {
	u := rows[0].unload()
	u.Unloads = make([]Unload, len(rows))
	for i, r := range rows {
		u.Unloads[i] = r.unload()
	}
	return u
}

// groupOutcome turns a request's unloads into its answer: unresolved while
// one is pending, the decline of the first failed one, else the group.
func groupOutcome(rows []unloadRow) (Unload, error) {
	for _, r := range rows {
		if UnloadStatus(r.Status) == UnloadPending {
			return Unload{}, fmt.Errorf("%w: unload %s", ErrUnresolved, r.ID)
		}
	}
	u := groupUnload(rows)
	for _, r := range rows {
		if UnloadStatus(r.Status) == UnloadFailed {
			return u, declineErr(r.DeclineCode)
		}
	}
	return u, nil
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

// cardRoomOf finds the room of a card in its currency.
func cardRoomOf(rooms []cardRoom, cardID string, cur money.Currency) (cardRoom, bool) {
	for _, r := range rooms {
		if r.CardID == cardID && r.Currency == cur.Code() {
			return r, true
		}
	}
	return cardRoom{}, false
}

// targets lists where an unload may send money: the chosen card first,
// then (spread) the other funding cards, newest load first. A card that
// can no longer be refunded (failed, another visitor's) is left out.
func (s *Service) targets(ctx context.Context, acct Account, chosen unloadTarget, rooms []cardRoom, spread bool) []unloadTarget {
	out := []unloadTarget{chosen}
	if !spread {
		return out
	}
	for _, r := range rooms {
		if r.CardID == chosen.card.ID || r.refundRoom() == 0 || r.cnyRoom() == 0 {
			continue
		}
		card, err := s.d.Cards.CardOf(ctx, acct.PartnerID, r.CardID)
		if err != nil || card.VisitorID != acct.VisitorID || card.Currency != r.Currency ||
			(card.Status != gateway.StatusVerified && card.Status != gateway.StatusRemoved) {
			s.log.WarnContext(ctx, "funding card cannot be refunded", "card", r.CardID, "status", string(card.Status), "err", err)
			continue
		}
		cur, err := money.LookupCurrency(card.Currency)
		if err != nil {
			continue
		}
		accts, err := s.roleAccounts(ctx, acct.VisitorID, card.Network.String(), cur)
		if err != nil {
			s.log.WarnContext(ctx, "funding card accounts", "card", r.CardID, "err", err)
			continue
		}
		out = append(out, unloadTarget{card: card, cur: cur, accts: accts, room: r})
	}
	return out
}

// quotePart prices an unload of want CNY to t, or less when the card
// currency it buys would pass the card's refund room: then the CNY that
// buys exactly the room (rounded so the room is never passed). It is
// fx.ErrInvalidAmount when no amount fits (less than one minor unit).
func (s *Service) quotePart(ctx context.Context, acct Account, t unloadTarget, want money.Amount) (fx.Quote, error) {
	req := fx.Request{Owner: fx.Owner{PartnerID: acct.PartnerID, VisitorID: acct.VisitorID}, CardID: t.card.ID, Card: t.cur, Amount: want}
	q, err := s.d.Quotes.UnloadQuote(ctx, req)
	if err != nil || q.Card().Minor() <= t.room.refundRoom() {
		return q, err
	}
	limit := money.New(t.room.refundRoom(), t.cur).Decimal().Mul(q.Rate())
	for _, d := range []decimal.Decimal{limit.RoundCeil(money.CNY.Digits()), limit.RoundFloor(money.CNY.Digits())} {
		sell, err := money.FromDecimal(d, money.CNY)
		if err != nil || !sell.IsPositive() || sell.Minor() >= want.Minor() {
			continue
		}
		req.Amount = sell
		if q, err = s.d.Quotes.UnloadQuote(ctx, req); err != nil {
			return fx.Quote{}, err
		}
		if q.Card().Minor() <= t.room.refundRoom() {
			return q, nil
		}
	}
	return fx.Quote{}, fmt.Errorf("%w: nothing fits the refund room of card %s", fx.ErrInvalidAmount, t.card.ID)
}

// isDust reports whether amount is too small to buy one minor unit of the
// card's currency: such a rest stays in the account.
func (s *Service) isDust(ctx context.Context, acct Account, t unloadTarget, amount money.Amount) (bool, error) {
	_, err := s.d.Quotes.UnloadQuote(ctx, fx.Request{Owner: fx.Owner{PartnerID: acct.PartnerID, VisitorID: acct.VisitorID},
		CardID: t.card.ID, Card: t.cur, Amount: amount})
	if errors.Is(err, fx.ErrInvalidAmount) {
		return true, nil
	}
	return false, err
}

// plan splits avail over the targets, each within its room.
func (s *Service) plan(ctx context.Context, acct Account, targets []unloadTarget, avail money.Amount) ([]unloadPart, int64, error) {
	var parts []unloadPart
	remaining := avail.Minor()
	for _, t := range targets {
		if remaining == 0 {
			break
		}
		want := min(remaining, t.room.cnyRoom())
		if want <= 0 || t.room.refundRoom() <= 0 {
			continue
		}
		q, err := s.quotePart(ctx, acct, t, money.New(want, money.CNY))
		if errors.Is(err, fx.ErrInvalidAmount) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		parts = append(parts, unloadPart{unloadTarget: t, q: q})
		remaining -= q.Sell().Minor()
	}
	return parts, remaining, nil
}

// startUnload prices the available balance over the funding cards and, in
// one transaction under the account lock, checks that neither the balance
// nor any card's room has moved, spends the quotes, holds the CNY of every
// part and writes the pending unloads. With nothing to refund it closes
// the account (if asked) and returns that succeeded unload of zero as done.
func (s *Service) startUnload(ctx context.Context, acct Account, chosen unloadTarget, closeAccount, spread bool, key string, then []db.Then[Unload]) ([]unloadPart, *Unload, error) {
	bal, err := s.led.Balance(ctx, chosen.accts[fx.RoleVisitor])
	if err != nil {
		return nil, nil, err
	}
	avail := bal.Available()
	if avail.IsPositive() {
		rooms, err := s.st.cardRooms(ctx, acct.ID)
		if err != nil {
			return nil, nil, err
		}
		room, funded := cardRoomOf(rooms, chosen.card.ID, chosen.cur)
		if !funded {
			return nil, nil, fmt.Errorf("%w: card %s never funded the account", ErrCardNotUsable, chosen.card.ID)
		}
		chosen.room = room
		parts, rest, err := s.plan(ctx, acct, s.targets(ctx, acct, chosen, rooms, spread), avail)
		if err != nil {
			return nil, nil, err
		}
		if rest > 0 {
			dust, err := s.isDust(ctx, acct, chosen, money.New(rest, money.CNY))
			if err != nil {
				return nil, nil, err
			}
			if !dust && (closeAccount || !spread) {
				// What the parts placed: the chosen card's alone without
				// spread, all the cards' with it.
				placed := avail.Minor() - rest
				return nil, nil, &CardRoomError{CardID: chosen.card.ID, Requested: avail, Room: money.New(placed, money.CNY),
					RefundRoom: money.New(room.refundRoom(), chosen.cur)}
			}
		}
		return s.reserveUnloads(ctx, acct, avail, parts, closeAccount, chosen, key, then)
	}
	return s.reserveUnloads(ctx, acct, avail, nil, closeAccount, chosen, key, then)
}

// reserveUnloads is the write-ahead transaction of startUnload.
func (s *Service) reserveUnloads(ctx context.Context, acct Account, seen money.Amount, parts []unloadPart,
	closeAccount bool, chosen unloadTarget, key string, then []db.Then[Unload]) ([]unloadPart, *Unload, error) {
	if len(parts) == 0 && !closeAccount {
		return nil, nil, fmt.Errorf("%w: available balance %s", ErrNothingToUnload, seen)
	}
	now := s.now().Truncate(time.Microsecond)
	empty := unloadRow{
		ID: ids.New(ids.Unload), PartnerID: acct.PartnerID, VisitorID: acct.VisitorID, AccountID: acct.ID,
		CardID: chosen.card.ID, Status: string(UnloadPending), CloseAccount: closeAccount, Network: chosen.card.Network.String(),
		RefundCurrency: chosen.cur.Code(), CreatedAt: now, UpdatedAt: now, RequestKey: key,
	}
	empty.GroupID = empty.ID
	for i := range parts {
		p := &parts[i]
		p.row = unloadRow{
			ID: ids.New(ids.Unload), PartnerID: acct.PartnerID, VisitorID: acct.VisitorID, AccountID: acct.ID,
			CardID: p.card.ID, Status: string(UnloadPending), CloseAccount: closeAccount, Network: p.card.Network.String(),
			RefundCurrency: p.cur.Code(), CreatedAt: now, UpdatedAt: now, PartNo: i,
			QuoteID: p.q.ID(), AmountMinor: p.q.Sell().Minor(), RefundMinor: p.q.Card().Minor(), Rate: p.q.RateString(),
		}
		if i == 0 {
			p.row.RequestKey = key
		}
		p.row.GroupID = parts[0].row.ID
	}
	var done *Unload
	err := s.st.transact(ctx, func(tx *db.Tx) error {
		done = nil
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
		if len(parts) > 0 {
			// The rooms again, under the lock: no other unload of the
			// account can be pending now, so what is read here is what
			// every card has until these parts are decided.
			rooms, err := s.st.cardRoomsTx(tx, a.ID)
			if err != nil {
				return err
			}
			if _, ok := cardRoomOf(rooms, chosen.card.ID, chosen.cur); !ok {
				return fmt.Errorf("%w: card %s never funded the account", ErrCardNotUsable, chosen.card.ID)
			}
			for _, p := range parts {
				r, ok := cardRoomOf(rooms, p.card.ID, p.cur)
				if !ok || p.row.AmountMinor > r.cnyRoom() || p.row.RefundMinor > r.refundRoom() {
					return errBalanceMoved
				}
			}
		}
		fresh, err := s.led.BalanceTx(ctx, tx, chosen.accts[fx.RoleVisitor])
		if err != nil {
			return err
		}
		if fresh.Available() != seen {
			return errBalanceMoved
		}
		if len(parts) == 0 {
			out := Unload{}
			if err := s.closeEmptyTx(tx, a, empty, &out, then); err != nil {
				return err
			}
			done = &out
			return nil
		}
		for i := range parts {
			p := &parts[i]
			if err := s.d.QuoteUse.Use(ctx, tx, p.q.ID(), s.now()); err != nil {
				return err
			}
			op, err := s.led.PostTx(ctx, tx, ledger.Batch{Reference: unloadHoldReference(p.row.ID), Ops: []ledger.Op{
				ledger.Hold(p.accts[fx.RoleVisitor], p.accts[fx.RoleFXCNY], p.q.Sell(), time.Time{}, ledger.ExpireNone)}})
			if err != nil {
				return fmt.Errorf("prepaid: reserve unload: %w", err)
			}
			p.row.HoldID = op.Transfers[0].ID
			if err := s.st.insertUnloadTx(tx, p.row); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if done != nil {
		return nil, done, nil
	}
	s.log.InfoContext(ctx, "unload started", "unload", parts[0].row.ID, "visitor", acct.VisitorID, "parts", len(parts))
	return parts, nil, nil
}

// closeEmptyTx records an unload of nothing and closes the account, then
// ends tx with then.
func (s *Service) closeEmptyTx(tx *db.Tx, a Account, row unloadRow, out *Unload, then []db.Then[Unload]) error {
	row.Status = string(UnloadSucceeded)
	if err := s.st.insertUnloadTx(tx, row); err != nil {
		return err
	}
	if _, err := s.st.setStatusTx(tx, a.ID, []Status{Active, Expired}, Closed, s.now()); err != nil {
		return err
	}
	if err := s.emit(tx, row.PartnerID, EventUnloadSucceeded, row.unload()); err != nil {
		return err
	}
	*out = groupUnload([]unloadRow{row})
	return db.RunThen(tx, *out, then...)
}

// applyUnload records the network's answer to the refund.
func (s *Service) applyUnload(ctx context.Context, tx *db.Tx, unloadID string, c gateway.Call, q fx.Quote, accts map[fx.Role]string, out *Unload, then []db.Then[Unload]) error {
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
		return s.bookUnload(ctx, tx, r, q, accts, out, then)
	case gateway.StateIntent:
		*out = r.unload()
		return nil
	}
	return s.failUnloadTx(ctx, tx, r, declineOf(c), out)
}

// bookUnload posts the refund's batch: the hold becomes the visitor's
// debit, the spread is booked and the card currency leaves through the
// network account. The legs come from the quote (fx.Quote.Legs). When
// this completes the request (every unload of it succeeded) the account
// closes if asked, and then gets the request's answer.
func (s *Service) bookUnload(ctx context.Context, tx *db.Tx, r unloadRow, q fx.Quote, accts map[fx.Role]string, out *Unload, then []db.Then[Unload]) error {
	// The account lock first, before any ledger row, in the order loads
	// and unloads take them; it also orders the parts of one request
	// booked at once (Recover on two replicas), so exactly one of them
	// sees the request complete.
	if _, err := s.st.lockAccountTx(tx, r.VisitorID); err != nil {
		return err
	}
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
	group, err := s.st.unloadGroupTx(tx, r)
	if err != nil {
		return err
	}
	complete := true
	for _, g := range group {
		if g.ID == r.ID {
			g = r
		}
		complete = complete && UnloadStatus(g.Status) == UnloadSucceeded
	}
	if r.CloseAccount && complete {
		if _, err := s.st.setStatusTx(tx, r.AccountID, []Status{Active, Expired}, Closed, s.now()); err != nil {
			return err
		}
	}
	*out = r.unload()
	if err := s.emit(tx, r.PartnerID, EventUnloadSucceeded, *out); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "unload booked", "unload", r.ID, "visitor", r.VisitorID, "call", r.CallID)
	if !complete {
		return nil
	}
	for i := range group {
		if group[i].ID == r.ID {
			group[i] = r
		}
	}
	return db.RunThen(tx, groupUnload(group), then...)
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
func (s *Service) unloadResult(ctx context.Context, id string, call gateway.Call, applied bool, out Unload, err error, then []db.Then[Unload]) (Unload, error) {
	if !applied || errors.Is(err, gateway.ErrNotRecorded) {
		s.log.WarnContext(ctx, "unload outcome not recorded; settling", "unload", id, "call", call.ID, "err", err)
		settled, rerr := s.settleUnload(context.WithoutCancel(ctx), id, then)
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
// refund call record, by the rules of Recover; a booking that completes a
// request ends its transaction with then.
func (s *Service) settleUnload(ctx context.Context, id string, then []db.Then[Unload]) (Unload, error) {
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
		return s.finishUnload(ctx, id, nil, gateway.DeclineIssuerUnavailable, nil)
	case s.inquire(call, hasReversal):
		if err := s.inquireCall(ctx, id, call); err != nil {
			return r.unload(), err
		}
		return s.settleUnload(ctx, id, then)
	case call.State == gateway.StateApproved && !hasReversal:
		u, err := s.finishUnload(ctx, id, call, "", then)
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
		return s.finishUnload(ctx, id, nil, gateway.DeclineIssuerUnavailable, nil)
	}
	return s.finishUnload(ctx, id, nil, declineOf(*call), nil)
}

// finishUnload books the unload for an approved call, or fails it.
func (s *Service) finishUnload(ctx context.Context, id string, approved *gateway.Call, declineCode string, then []db.Then[Unload]) (Unload, error) {
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
			return s.bookUnload(ctx, tx, r, q, accts, &out, then)
		}
		return s.failUnloadTx(ctx, tx, r, declineCode, &out)
	})
	return out, err
}

// MarshalJSON adds visitor_id, the name every request uses for the
// visitor, beside the deprecated "visitor" kept for a deprecation period.
func (x Unload) MarshalJSON() ([]byte, error) {
	type plain Unload
	return json.Marshal(struct {
		plain
		VisitorIDName string `json:"visitor_id"`
	}{plain(x), x.VisitorID})
}
