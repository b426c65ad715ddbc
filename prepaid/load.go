package prepaid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
)

// LoadStatus is where a load is. pending is internal (the network is
// deciding, or a crash left it to Recover); the API shows the other three.
type LoadStatus string

// The load statuses.
const (
	LoadPending        LoadStatus = "pending"
	LoadRequiresAction LoadStatus = "requires_action"
	LoadSucceeded      LoadStatus = "succeeded"
	LoadFailed         LoadStatus = "failed"
)

// Load is a load of the prepaid account from a card. Its JSON form is the
// API's load object and the data of the load.* events.
type Load struct {
	ID        string       `json:"id"`
	Object    string       `json:"object"`
	VisitorID string       `json:"visitor"`
	CardID    string       `json:"card_id"`
	Status    LoadStatus   `json:"status"`
	Charged   money.Amount `json:"charged"`
	Credited  money.Amount `json:"credited"`
	Fee       money.Amount `json:"fee"`
	QuoteID   string       `json:"quote_id"`
	Network   NetworkInfo  `json:"network"`
	// NextAction is {"type": "otp"} for a requires_action load.
	NextAction  *gateway.NextAction `json:"next_action,omitempty"`
	DeclineCode string              `json:"decline_code,omitempty"`
	CreatedAt   time.Time           `json:"created_at"`
}

func (r loadRow) load() Load {
	cur, _ := money.LookupCurrency(r.ChargedCurrency)
	l := Load{
		ID: r.ID, Object: "load", VisitorID: r.VisitorID, CardID: r.CardID, Status: LoadStatus(r.Status),
		Charged: money.New(r.ChargedMinor, cur), Credited: money.New(r.CreditedMinor, money.CNY),
		Fee: money.New(r.FeeMinor, money.CNY), QuoteID: r.QuoteID,
		Network:     NetworkInfo{ResponseCode: r.ResponseCode, AuthCode: r.AuthCode, STAN: r.STAN, RRN: r.RRN},
		DeclineCode: r.DeclineCode, CreatedAt: r.CreatedAt.UTC(),
	}
	if l.Status == LoadRequiresAction {
		l.NextAction = &gateway.NextAction{Type: gateway.NextActionOTP}
	}
	return l
}

// loadReference is the ledger reference of a load's batch; the network
// call carries the load id itself.
func loadReference(loadID string) string { return "load:" + loadID }

// LoadInput is what a load needs: whose account, which card, which quote,
// and the request it is the execution of.
type LoadInput struct {
	PartnerID, VisitorID, CardID, QuoteID string
	// RequestKey is the scoped idempotency key of the request
	// (idempotency.ScopedKey), "" for none. It is recorded on the load, so
	// a retry of a request that crashed after the first commit answers
	// with the load it started.
	RequestKey string
}

// Load charges the quote's sell amount to the visitor's card and credits
// the quote's CNY, less the fee, to the prepaid account.
//
// Order of events, each a commit: (1) the write-ahead load row (pending),
// the quote marked used and the limits checked against the account row
// locked, in one transaction; (2) the gateway's own intent record of the
// network call; (3) the network's answer together with, in the same
// transaction, the ledger batch, the load's final status and its event.
// A crash between (1) and (3) leaves a pending load that Recover settles
// from the call record; the gateway reverses any capture whose credit could
// not be written. So money is never captured without a credit nor credited
// without a capture.
//
// Returns the load (status succeeded or requires_action) or an error: a
// *gateway.DeclineError (with the failed load also returned), a
// *LimitError, fx.ErrQuoteExpired, fx.ErrQuoteNotFound, ErrQuoteMismatch,
// ErrCardNotUsable, the account errors, or ErrUnresolved.
func (s *Service) Load(ctx context.Context, in LoadInput, then ...db.Then[Load]) (Load, error) {
	partnerID, visitorID, cardID, quoteID, key := in.PartnerID, in.VisitorID, in.CardID, in.QuoteID, in.RequestKey
	if key != "" {
		// A retry of a request that crashed after its first commit: answer
		// with the load it started, not with "quote already used".
		prev, err := s.st.loadByRequest(ctx, partnerID, key)
		if err != nil {
			return Load{}, err
		}
		if prev != nil {
			if LoadStatus(prev.Status) == LoadPending {
				return s.settleRetried(ctx, prev.ID, then)
			}
			return resumedLoad(prev.load())
		}
	}
	now := s.now()
	acct, err := s.st.ByVisitor(ctx, partnerID, visitorID)
	if err != nil {
		return Load{}, err
	}
	if err := acct.CheckUsable(now); err != nil {
		return Load{}, err
	}
	card, err := s.usableCard(ctx, partnerID, visitorID, cardID)
	if err != nil {
		return Load{}, err
	}
	if err := s.cardReadable(ctx, cardID); err != nil {
		return Load{}, err
	}
	q, err := s.d.Quotes.Get(ctx, fx.Owner{PartnerID: partnerID, VisitorID: visitorID}, quoteID)
	if err != nil {
		return Load{}, err
	}
	if q.Kind() != fx.KindLoad || q.CardID() != cardID || q.Card().Currency().Code() != card.Currency {
		return Load{}, fmt.Errorf("%w: quote %s", ErrQuoteMismatch, quoteID)
	}
	if err := q.Usable(now); err != nil {
		return Load{}, err
	}
	usd, err := s.usdAtMid(ctx, q)
	if err != nil {
		return Load{}, err
	}
	// The accounts exist before any money can move, each in its own commit.
	accts, err := s.roleAccounts(ctx, visitorID, card.Network.String(), q.Card().Currency())
	if err != nil {
		return Load{}, err
	}

	row := loadRow{
		ID: ids.New(ids.Load), PartnerID: partnerID, VisitorID: visitorID, AccountID: acct.ID, CardID: cardID,
		QuoteID: quoteID, Status: string(LoadPending), Network: card.Network.String(),
		ChargedCurrency: q.Card().Currency().Code(), ChargedMinor: q.Card().Minor(), BuyMinor: q.Buy().Minor(),
		CreditedMinor: q.Credited().Minor(), FeeMinor: q.Fee().Minor(), USDMinor: usd.Minor(),
		CreatedAt: now.Truncate(time.Microsecond), UpdatedAt: now.Truncate(time.Microsecond),
		RequestKey: key,
	}
	err = s.st.transact(ctx, func(tx *db.Tx) error {
		a, err := s.st.lockAccountTx(tx, visitorID)
		if err != nil {
			return err
		}
		if err := a.CheckUsable(now); err != nil {
			return err
		}
		if err := s.checkLimits(ctx, tx, a, accts[fx.RoleVisitor], q, usd, now); err != nil {
			return err
		}
		if err := s.d.QuoteUse.Use(ctx, tx, quoteID, now); err != nil {
			return err
		}
		return s.st.insertLoadTx(tx, row)
	})
	if db.IsUniqueViolation(err) {
		// A twin of this request (same idempotency key) started the load
		// first.
		return Load{}, fmt.Errorf("%w: a twin request started this load", ErrUnresolved)
	}
	if err != nil {
		return Load{}, err
	}
	s.log.InfoContext(ctx, "load started", "load", row.ID, "visitor", visitorID, "card", cardID,
		"charged", q.Card().String(), "credited", q.Credited().String())
	defer s.keepLeased(&loadRow{}, row.ID)()

	var out Load
	applied := false
	call, err := s.d.Network.Sale(ctx, cardID, row.ID, q.Card(), func(tx *db.Tx, c gateway.Call) error {
		applied = true
		return s.applyLoad(ctx, tx, row.ID, c, q, accts, &out, then)
	})
	return s.loadResult(ctx, row.ID, call, applied, out, err, then)
}

// settleRetried settles, for the retry of a request that died after
// starting it, a load still pending: the retry holds the request's
// in-flight lock, which the dead request held and renewed while it ran, so
// nobody is working on the load any more and there is no need to wait for
// Recover's grace. It settles as Recover would, from the call record: an
// approved capture is credited, a call never sent fails the load, one
// without a known answer is reversed. Each step locks the load row and the
// call row and re-checks their state, so a concurrent Recover (or the
// original request, if it is in fact alive) settles it once: a capture is
// never both credited and reversed.
func (s *Service) settleRetried(ctx context.Context, loadID string, then []db.Then[Load]) (Load, error) {
	s.log.InfoContext(ctx, "retry of an interrupted load; settling it", "load", loadID)
	defer s.keepLeased(&loadRow{}, loadID)()
	l, err := s.settleLoad(context.WithoutCancel(ctx), loadID, true, then)
	if err != nil {
		s.log.ErrorContext(ctx, "interrupted load left to recovery", "load", loadID, "err", err)
		return Load{}, fmt.Errorf("%w: load %s: %w", ErrUnresolved, loadID, err)
	}
	return resumedLoad(l)
}

// cardChecker is implemented by a Network that can tell, before anything
// is written, whether it can read a card (*gateway.Client).
type cardChecker interface {
	CheckCard(ctx context.Context, cardID string) error
}

// cardReadable fails early when the card's PAN cannot be opened (a master
// key missing from the keyring): such a load or unload would otherwise use
// its quote and end as a decline the visitor did not cause.
func (s *Service) cardReadable(ctx context.Context, cardID string) error {
	if cc, ok := s.d.Network.(cardChecker); ok {
		return cc.CheckCard(ctx, cardID)
	}
	return nil
}

// usableCard returns the visitor's verified card.
func (s *Service) usableCard(ctx context.Context, partnerID, visitorID, cardID string) (gateway.Card, error) {
	card, err := s.d.Cards.CardOf(ctx, partnerID, cardID)
	if err != nil {
		return gateway.Card{}, err
	}
	if card.VisitorID != visitorID {
		return gateway.Card{}, gateway.ErrCardNotFound
	}
	if card.Status != gateway.StatusVerified {
		return gateway.Card{}, fmt.Errorf("%w: card %s is %s", ErrCardNotUsable, cardID, card.Status)
	}
	return card, nil
}

// checkLimits applies the account's profile to the load, counting the
// loads in flight. The caller holds the account row lock, so two loads of
// one account are checked one after the other, each seeing the other's
// reservation.
func (s *Service) checkLimits(ctx context.Context, tx *db.Tx, a Account, ledgerID string, q fx.Quote, usd money.Amount, now time.Time) error {
	// Loads in flight first, then the balance: should a credit commit in
	// between (it takes the account lock too, so it cannot), the load would
	// be counted twice, never missed.
	inFlight, err := s.st.inFlightTx(tx, a.ID)
	if err != nil {
		return err
	}
	bal, err := s.led.BalanceTx(ctx, tx, ledgerID)
	if err != nil {
		return err
	}
	loaded, err := s.st.loadedSinceTx(tx, a.ID, yearStart(now))
	if err != nil {
		return err
	}
	return s.d.Limits.profile(a.Profile).Check(LoadCheck{
		Balance:        money.New(bal.Posted().Minor()+inFlight, money.CNY),
		Buy:            q.Buy(),
		Credited:       q.Credited(),
		USD:            usd,
		LoadedThisYear: money.New(loaded, usd.Currency()),
	})
}

// errSettled is what apply returns for an approved call of a load that is
// no longer waiting for one (Recover failed it meanwhile): the gateway
// then reverses the call, so nothing stands.
var errSettled = errors.New("prepaid: load already settled")

// applyLoad records the network's answer on the load inside the
// transaction that records the call: approved posts the ledger batch and
// succeeds the load, challenged asks for the OTP, anything else fails it.
//
// It does no I/O outside tx (q and accts are read before): on SQLite the
// caller's transaction holds the only write lock, and a second connection
// would wait for it. A load that succeeds or waits for its OTP ends tx
// with then.
func (s *Service) applyLoad(ctx context.Context, tx *db.Tx, loadID string, c gateway.Call, q fx.Quote, accts map[fx.Role]string, out *Load, then []db.Then[Load]) error {
	r, err := s.st.loadForUpdateTx(tx, loadID)
	if err != nil {
		return err
	}
	if st := LoadStatus(r.Status); st != LoadPending && st != LoadRequiresAction {
		if c.State == gateway.StateApproved && st != LoadSucceeded {
			return fmt.Errorf("%w: %s is %s", errSettled, loadID, st)
		}
		*out = r.load()
		return nil
	}
	r.CallID, r.UpdatedAt = c.ID, s.now().Truncate(time.Microsecond)
	r.ResponseCode, r.AuthCode, r.STAN, r.RRN = c.ResponseCode, c.AuthCode, c.Trace.STAN, c.Trace.RRN
	switch c.State {
	case gateway.StateApproved:
		return s.creditLoad(ctx, tx, r, q, accts, out, then)
	case gateway.StateChallenged:
		r.Status = string(LoadRequiresAction)
		if err := s.st.saveLoadTx(tx, r); err != nil {
			return err
		}
		*out = r.load()
		return db.RunThen(tx, *out, then...)
	case gateway.StateIntent:
		// Not an outcome: the call is being decided elsewhere.
		*out = r.load()
		return nil
	}
	// declined, rejected, unknown (the gateway reverses it), reversed.
	return s.failLoadTx(tx, r, declineOf(c), out)
}

// creditLoad posts the load's ledger batch (reference load:<id>, so a
// second post is a replay that moves nothing) and succeeds the load, then
// ends tx with then.
func (s *Service) creditLoad(ctx context.Context, tx *db.Tx, r loadRow, q fx.Quote, accts map[fx.Role]string, out *Load, then []db.Then[Load]) error {
	// The account lock orders this credit with the limit checks of other
	// loads: a check must never read the balance before this credit and
	// the loads in flight after it, and miss the load in both.
	a, err := s.st.lockAccountTx(tx, r.VisitorID)
	if err != nil {
		return err
	}
	if a.Status == Closed {
		// Nothing may be credited to a closed account (nothing would ever
		// sweep it out): refuse, so the gateway reverses the capture.
		return fmt.Errorf("%w: account of %s is closed", errSettled, r.ID)
	}
	var ops []ledger.Op
	for _, leg := range q.Legs() {
		ops = append(ops, ledger.Move(accts[leg.Debit], accts[leg.Credit], leg.Amount))
	}
	if _, err := s.led.PostTx(ctx, tx, ledger.Batch{Reference: loadReference(r.ID), Ops: ops}); err != nil {
		return fmt.Errorf("prepaid: credit load %s: %w", r.ID, err)
	}
	r.Status, r.DeclineCode = string(LoadSucceeded), ""
	if err := s.st.saveLoadTx(tx, r); err != nil {
		return err
	}
	*out = r.load()
	if err := s.emit(tx, r.PartnerID, EventLoadSucceeded, *out); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "load credited", "load", r.ID, "visitor", r.VisitorID, "call", r.CallID)
	return db.RunThen(tx, *out, then...)
}

// loadParts reads what crediting a load needs, before its transaction:
// the quote (its legs are the batch) and the ledger accounts.
func (s *Service) loadParts(ctx context.Context, r loadRow) (fx.Quote, map[fx.Role]string, error) {
	q, err := s.d.Quotes.Get(ctx, fx.Owner{PartnerID: r.PartnerID, VisitorID: r.VisitorID}, r.QuoteID)
	if err != nil {
		return fx.Quote{}, nil, fmt.Errorf("prepaid: quote of load %s: %w", r.ID, err)
	}
	if q.Card().Minor() != r.ChargedMinor || q.Credited().Minor() != r.CreditedMinor {
		return fx.Quote{}, nil, fmt.Errorf("prepaid: quote %s does not match load %s", q.ID(), r.ID)
	}
	accts, err := s.roleAccounts(ctx, r.VisitorID, r.Network, q.Card().Currency())
	if err != nil {
		return fx.Quote{}, nil, err
	}
	return q, accts, nil
}

// failLoadTx fails a load. A decline has no success response to store, so
// it takes no Then (the HTTP layer answers 402).
func (s *Service) failLoadTx(tx *db.Tx, r loadRow, declineCode string, out *Load) error {
	if declineCode == "" {
		declineCode = gateway.DeclineProcessingError
	}
	r.Status, r.DeclineCode, r.UpdatedAt = string(LoadFailed), declineCode, s.now().Truncate(time.Microsecond)
	if err := s.st.saveLoadTx(tx, r); err != nil {
		return err
	}
	*out = r.load()
	return s.emit(tx, r.PartnerID, EventLoadFailed, *out)
}

// loadResult turns what Sale or Authenticate left into the caller's
// answer. When no outcome was recorded, it settles the load at once from
// the call record, as Recover would.
func (s *Service) loadResult(ctx context.Context, loadID string, call gateway.Call, applied bool, out Load, err error, then []db.Then[Load]) (Load, error) {
	if !applied || errors.Is(err, gateway.ErrNotRecorded) {
		s.log.WarnContext(ctx, "load outcome not recorded; settling", "load", loadID, "call", call.ID, "err", err)
		settled, rerr := s.settleLoad(context.WithoutCancel(ctx), loadID, applied, then)
		if rerr != nil {
			s.log.ErrorContext(ctx, "load left to recovery", "load", loadID, "err", rerr)
			return Load{}, fmt.Errorf("%w: load %s: %w", ErrUnresolved, loadID, errors.Join(err, rerr))
		}
		out = settled
	}
	switch out.Status {
	case LoadSucceeded, LoadRequiresAction:
		return out, nil
	case LoadFailed:
		return out, declineErr(out.DeclineCode)
	}
	if err == nil {
		err = ErrUnresolved
	}
	return out, err
}

// Authenticate finishes a requires_action load with the OTP the cardholder
// received. A wrong OTP is a *gateway.AuthenticationError (402
// authentication_failed) with the attempts left, and the load keeps
// waiting; the last of gateway.MaxOTPAttempts wrong OTPs fails it, and a
// new quote and load are needed then.
// A load already succeeded is returned as it is.
func (s *Service) Authenticate(ctx context.Context, partnerID, loadID, otp string, then ...db.Then[Load]) (Load, error) {
	r, err := s.st.load(ctx, partnerID, loadID)
	if err != nil {
		return Load{}, err
	}
	switch LoadStatus(r.Status) {
	case LoadSucceeded:
		return s.replayLoad(ctx, loadID, then)
	case LoadRequiresAction:
	default:
		return Load{}, fmt.Errorf("%w: load is %s", ErrNoActionRequired, r.Status)
	}
	if otp == "" || len(otp) > 12 {
		return Load{}, fmt.Errorf("%w: 1 to 12 characters", ErrInvalidOTP)
	}
	acct, err := s.st.ByVisitor(ctx, partnerID, r.VisitorID)
	if err != nil {
		return Load{}, err
	}
	if err := acct.CheckUsable(s.now()); err != nil {
		return Load{}, err
	}
	q, accts, err := s.loadParts(ctx, r)
	if err != nil {
		return Load{}, err
	}
	var out Load
	applied := false
	call, err := s.d.Network.Authenticate(ctx, r.CallID, otp, func(tx *db.Tx, c gateway.Call) error {
		applied = true
		return s.applyLoad(ctx, tx, loadID, c, q, accts, &out, then)
	})
	if errors.Is(err, gateway.ErrNotChallenged) {
		return Load{}, fmt.Errorf("%w: %w", ErrNoActionRequired, err)
	}
	if !applied && err != nil {
		// The circuit is open or the database failed before the OTP went
		// out: the challenge still stands and the load keeps waiting.
		return Load{}, err
	}
	l, err := s.loadResult(ctx, loadID, call, applied, out, err, then)
	switch {
	case l.Status == LoadRequiresAction && call.State == gateway.StateChallenged:
		// A wrong OTP with attempts left: the load keeps waiting.
		return Load{}, gateway.OTPResult(true, call, err)
	case l.Status == LoadFailed:
		return l, gateway.OTPResult(false, call, err)
	}
	return l, err
}

// replayLoad returns a load inside a transaction that ends with then, for
// the idempotent answer of a repeated Authenticate.
func (s *Service) replayLoad(ctx context.Context, loadID string, then []db.Then[Load]) (Load, error) {
	var out Load
	err := s.st.transact(ctx, func(tx *db.Tx) error {
		r, err := s.st.loadForUpdateTx(tx, loadID)
		if err != nil {
			return err
		}
		out = r.load()
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// GetLoad returns a load of the partner.
func (s *Service) GetLoad(ctx context.Context, partnerID, loadID string) (Load, error) {
	r, err := s.st.load(ctx, partnerID, loadID)
	if err != nil {
		return Load{}, err
	}
	return r.load(), nil
}

// resumedLoad is the answer for a load found by its request key.
func resumedLoad(l Load) (Load, error) {
	switch l.Status {
	case LoadSucceeded, LoadRequiresAction:
		return l, nil
	case LoadFailed:
		return l, &gateway.DeclineError{Decline: gateway.Decline{Code: l.DeclineCode, ResponseCode: l.Network.ResponseCode}}
	}
	return Load{}, fmt.Errorf("%w: load %s", ErrUnresolved, l.ID)
}

// MarshalJSON adds visitor_id, the name every request uses for the
// visitor, beside the deprecated "visitor" kept for a deprecation period.
func (x Load) MarshalJSON() ([]byte, error) {
	type plain Load
	return json.Marshal(struct {
		plain
		VisitorIDName string `json:"visitor_id"`
	}{plain(x), x.VisitorID})
}
