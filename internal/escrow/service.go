package escrow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/jobs"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/limits"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/prepaid"
)

// Events receives the outbox events (webhook.Service implements it). Emit
// writes inside the caller's transaction.
type Events interface {
	Emit(tx *db.Tx, partnerID, typ string, data any) (string, error)
}

// Accounts reads visitors' prepaid accounts (prepaid.Store implements it).
type Accounts interface {
	ByVisitorTx(tx *db.Tx, visitorID string) (prepaid.Account, error)
}

// The webhook event types of docs/API.md.
const (
	EventHeld     = "payment.held"
	EventReleased = "payment.released"
	EventRefunded = "payment.refunded"
	EventDisputed = "payment.disputed"
)

// Service runs merchants and escrow payments. It is safe for concurrent use
// and across replicas.
//
// Every ledger batch is posted with PostTxNoSavepoint: each movement's
// transaction returns (and so rolls back) on any error of the batch, so the
// savepoint of PostTx would only cost a round trip.
type Service struct {
	d        *db.DB
	l        *ledger.Ledger
	accounts Accounts
	events   Events
	o        Options

	feesMu sync.Mutex
	fees   string // ledger id of revenue:fees, once ensured

	// merchants caches merchants by id: their fields and payable accounts
	// never change, and the entry carries the round-robin shard counter.
	merchants sync.Map // id -> *merchantEntry
	// visitors caches visitor ledger account ids by visitor id; an account,
	// once committed, never changes.
	visitors sync.Map // visitor id -> string
}

type merchantEntry struct {
	m    Merchant
	next atomic.Uint64
}

// New returns the service. l must be a ledger on d.
func New(d *db.DB, l *ledger.Ledger, accounts Accounts, events Events, o Options) (*Service, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Service{d: d, l: l, accounts: accounts, events: events, o: o}, nil
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Microsecond) }

// feesAccount ensures revenue:fees once, in its own transaction, so that a
// rolled-back payment never leaves a cached id of an account that does not
// exist. Callers run it before their own transaction: on SQLite a second
// transaction would wait for theirs.
func (s *Service) feesAccount(ctx context.Context) (string, error) {
	s.feesMu.Lock()
	defer s.feesMu.Unlock()
	if s.fees != "" {
		return s.fees, nil
	}
	a, err := s.l.EnsureAccount(ctx, FeesSpec)
	if err != nil {
		return "", fmt.Errorf("escrow: fees account: %w", err)
	}
	s.fees = a.ID
	return s.fees, nil
}

// CreateMerchant creates a merchant of the partner with its payable
// accounts.
func (s *Service) CreateMerchant(ctx context.Context, partnerID string, in MerchantInput, then ...db.Then[Merchant]) (Merchant, error) {
	in, err := in.validate()
	if err != nil {
		return Merchant{}, err
	}
	var out Merchant
	err = s.d.Transact(ctx, func(tx *db.Tx) error {
		m := Merchant{ID: ids.New(ids.Merchant), PartnerID: partnerID, Name: in.Name, MCC: in.MCC,
			Balance: money.New(0, money.CNY), CreatedAt: s.now()}
		for k := range s.o.PayableShards {
			a, err := s.l.EnsureAccountTx(ctx, tx, ledger.AccountSpec{Code: PayableCode(m.ID, k), Currency: money.CNY,
				Kind: ledger.Liability, Owner: m.ID, NoNegative: true})
			if err != nil {
				return err
			}
			m.payable = append(m.payable, a.ID)
		}
		if err := insertMerchant(tx, m); err != nil {
			return err
		}
		out = m
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// Merchant returns the partner's merchant with its balance; another
// partner's merchant is ErrNotFound.
func (s *Service) Merchant(ctx context.Context, partnerID, id string) (Merchant, error) {
	e, err := s.merchant(ctx, s.d.WithContext(ctx), partnerID, id)
	if err != nil {
		return Merchant{}, err
	}
	m := e.m
	total := int64(0)
	for _, acct := range m.payable {
		b, err := s.l.Balance(ctx, acct)
		if err != nil {
			return Merchant{}, fmt.Errorf("escrow: merchant balance: %w", err)
		}
		total += b.Posted().Minor()
	}
	m.Balance = money.New(total, money.CNY)
	return m, nil
}

// merchant reads a merchant through the cache; partnerID "" skips the
// partner check (staff, internal use).
func (s *Service) merchant(ctx context.Context, tx *db.Tx, partnerID, id string) (*merchantEntry, error) {
	v, ok := s.merchants.Load(id)
	if !ok {
		m, err := merchantByID(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		v, _ = s.merchants.LoadOrStore(id, &merchantEntry{m: m})
	}
	e := v.(*merchantEntry)
	if partnerID != "" && e.m.PartnerID != partnerID {
		return nil, fmt.Errorf("%w: merchant %s", ErrNotFound, id)
	}
	return e, nil
}

// visitorAccount is the id of the visitor's prepaid ledger account, or ""
// if it has none yet (no money was ever loaded).
func (s *Service) visitorAccount(ctx context.Context, visitorID string) (string, error) {
	if v, ok := s.visitors.Load(visitorID); ok {
		return v.(string), nil
	}
	a, err := s.l.AccountByCode(ctx, prepaid.LedgerCode(visitorID))
	if errors.Is(err, ledger.ErrAccountNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !a.NoNegative || a.Kind != ledger.Liability || a.Currency != money.CNY {
		return "", fmt.Errorf("escrow: visitor account %s is not a no-negative CNY liability", a.Code)
	}
	s.visitors.Store(visitorID, a.ID)
	return a.ID, nil
}

// errExisting reports that the payment's out_trade_no is taken: the
// transaction that found it rolls back and Create answers from the payment
// that holds it.
var errExisting = errors.New("escrow: out_trade_no exists")

// Create moves the amount from the visitor's available balance into a new
// payment's escrow. A repeated out_trade_no with the same fields returns the
// first payment with Existing set, whatever has happened to it or to the
// visitor's account since; with other fields it is ErrOutTradeNoConflict.
func (s *Service) Create(ctx context.Context, partnerID string, in PaymentInput, then ...db.Then[Payment]) (Payment, error) {
	in, err := in.validate(s.o)
	if err != nil {
		return Payment{}, err
	}
	visitorAcct, err := s.visitorAccount(ctx, in.VisitorID)
	if err != nil {
		return Payment{}, err
	}
	p, err := s.create(ctx, partnerID, in, visitorAcct, then)
	if !errors.Is(err, errExisting) {
		return p, err
	}
	var out Payment
	err = s.d.Transact(ctx, func(tx *db.Tx) error {
		p, ok, err := paymentByOutTradeNo(ctx, tx, partnerID, in.OutTradeNo)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("escrow: out_trade_no %s vanished", in.OutTradeNo)
		}
		if !in.sameAs(p) {
			return fmt.Errorf("%w: %s is payment %s", ErrOutTradeNoConflict, in.OutTradeNo, p.ID)
		}
		p.Existing = true
		out = p
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// create inserts the payment first, ON CONFLICT DO NOTHING on out_trade_no:
// a concurrent Create of the same out_trade_no waits for this one to commit
// or roll back, and a repeat costs no extra read on the common path.
func (s *Service) create(ctx context.Context, partnerID string, in PaymentInput, visitorAcct string, then []db.Then[Payment]) (Payment, error) {
	var out Payment
	err := s.d.Transact(ctx, func(tx *db.Tx) error {
		if _, err := s.merchant(ctx, tx, partnerID, in.MerchantID); err != nil {
			return err
		}
		now := s.now()
		p := Payment{
			ID: ids.New(ids.Payment), PartnerID: partnerID, VisitorID: in.VisitorID, MerchantID: in.MerchantID,
			Amount: in.Amount, Held: in.Amount, Released: money.New(0, money.CNY), Refunded: money.New(0, money.CNY),
			Fee: money.New(0, money.CNY), OutTradeNo: in.OutTradeNo, Description: in.Description,
			AutoReleaseAfter: in.AutoReleaseAfter, AutoReleaseAt: now.Add(in.AutoReleaseAfter),
			CreatedAt: now, UpdatedAt: now, visitorAccount: visitorAcct,
		}
		p.refreshStatus()
		escrow, err := s.l.EnsureAccountTx(ctx, tx, ledger.AccountSpec{Code: EscrowCode(p.ID), Currency: money.CNY,
			Kind: ledger.Liability, Owner: p.ID, NoNegative: true})
		if err != nil {
			return err
		}
		p.escrowAccount = escrow.ID
		if inserted, err := insertPayment(ctx, tx, p); err != nil {
			return err
		} else if !inserted {
			return errExisting
		}
		acct, err := s.accounts.ByVisitorTx(tx, in.VisitorID)
		if errors.Is(err, prepaid.ErrNotFound) || (err == nil && acct.PartnerID != partnerID) {
			return fmt.Errorf("%w: visitor %s has no account", ErrNotFound, in.VisitorID)
		}
		if err != nil {
			return err
		}
		if err := acct.CheckUsable(now); err != nil {
			return err
		}
		if visitorAcct == "" {
			return fmt.Errorf("%w: the account has no balance", ErrInsufficientFunds)
		}
		if _, err := s.events.Emit(tx, partnerID, EventHeld, p.Object()); err != nil {
			return err
		}
		_, err = s.l.PostTxNoSavepoint(ctx, tx, ledger.Batch{Reference: "pay:" + p.ID + ":hold",
			Ops: []ledger.Op{ledger.Move(visitorAcct, escrow.ID, p.Amount)}})
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return fmt.Errorf("%w: %v", ErrInsufficientFunds, err)
		}
		if err != nil {
			return err
		}
		out = p
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// Get returns a payment; partnerID "" reads any partner's (staff).
func (s *Service) Get(ctx context.Context, partnerID, id string) (Payment, error) {
	return paymentByID(ctx, s.d.WithContext(ctx), partnerID, id)
}

// List pages through a partner's payments, newest first.
func (s *Service) List(ctx context.Context, partnerID string, f Filter) (Page, error) {
	if f.Limit == 0 {
		f.Limit = 20
	}
	if f.Limit < 1 || f.Limit > 100 {
		return Page{}, invalid("limit", "must be 1 to 100")
	}
	if f.Status != "" {
		if _, err := ParseStatus(string(f.Status)); err != nil {
			return Page{}, err
		}
	}
	ps, more, err := listPayments(ctx, s.d.WithContext(ctx), partnerID, f)
	if err != nil {
		return Page{}, err
	}
	pg := Page{Payments: ps, HasMore: more}
	if more {
		pg.NextCursor = ps[len(ps)-1].ID
	}
	return pg, nil
}

// Refunds lists a payment's refunds, oldest first.
func (s *Service) Refunds(ctx context.Context, partnerID, paymentID string) ([]Refund, error) {
	if _, err := s.Get(ctx, partnerID, paymentID); err != nil {
		return nil, err
	}
	return refundsOf(ctx, s.d.WithContext(ctx), paymentID)
}

// change runs fn on the payment locked FOR UPDATE, in one transaction that
// ends with then given fn's result.
func change[T any](ctx context.Context, s *Service, partnerID, id string, then []db.Then[T], fn func(tx *db.Tx, p *Payment) (T, error)) (T, error) {
	var out T
	err := s.d.Transact(ctx, func(tx *db.Tx) error {
		p, err := paymentByID(ctx, s.d.ForUpdate(tx), partnerID, id)
		if err != nil {
			return err
		}
		if out, err = fn(tx, &p); err != nil {
			return err
		}
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// Confirm is the buyer's confirmation of receipt: what is in escrow goes to
// the merchant, less the fee. A release is an outflow of the visitor's
// money, so a frozen account refuses it (prepaid.ErrFrozen, 403
// account_frozen); support staff can still Resolve a disputed payment.
//
// What a freeze does not stop, on purpose: a refund (partner or staff)
// and a dispute. A refund moves money back into the visitor's account (an
// inflow, which the freeze keeps where it is), and a dispute only stops
// auto-release. Both leave the frozen money under the bank's control.
func (s *Service) Confirm(ctx context.Context, partnerID, id string, then ...db.Then[Payment]) (Payment, error) {
	if _, err := s.feesAccount(ctx); err != nil {
		return Payment{}, err
	}
	return change(ctx, s, partnerID, id, then, func(tx *db.Tx, p *Payment) (Payment, error) {
		if err := p.checkRelease(); err != nil {
			return Payment{}, err
		}
		if err := s.checkNotFrozen(tx, p.VisitorID); err != nil {
			return Payment{}, err
		}
		if err := s.release(ctx, tx, p, p.Held); err != nil {
			return Payment{}, err
		}
		return *p, nil
	})
}

// release pays amount of p's escrow to the merchant (less the fee), saves
// p and emits payment.released. The payment row and the event are written
// before the ledger batch so that the merchant's payable row, locked by the
// batch, stays locked for as short a time as possible.
func (s *Service) release(ctx context.Context, tx *db.Tx, p *Payment, amount money.Amount) error {
	m, err := s.merchant(ctx, tx, "", p.MerchantID)
	if err != nil {
		return err
	}
	fees := s.fees // ensured by the caller before its transaction
	fee := Fee(amount, s.o.FeeBPS)
	net := amount.Minor() - fee.Minor()
	now := s.now()
	p.Held = p.cny(p.Held.Minor() - amount.Minor())
	p.Released = p.cny(p.Released.Minor() + amount.Minor())
	p.Fee = p.cny(p.Fee.Minor() + fee.Minor())
	p.ReleasedAt, p.UpdatedAt = &now, now
	p.refreshStatus()
	if err := updatePayment(ctx, tx, *p); err != nil {
		return err
	}
	if _, err := s.events.Emit(tx, p.PartnerID, EventReleased, p.Object()); err != nil {
		return err
	}
	var ops []ledger.Op
	if net > 0 {
		shard := m.m.payable[m.next.Add(1)%uint64(len(m.m.payable))]
		ops = append(ops, ledger.Move(p.escrowAccount, shard, p.cny(net)))
	}
	if fee.IsPositive() {
		ops = append(ops, ledger.Move(p.escrowAccount, fees, fee))
	}
	if _, err := s.l.PostTxNoSavepoint(ctx, tx, ledger.Batch{Reference: "pay:" + p.ID + ":release", Ops: ops}); err != nil {
		return fmt.Errorf("escrow: release %s: %w", p.ID, err)
	}
	return nil
}

// maxReason is the one limit of reasons (internal/limits), the same the
// API validates and openapi.yaml documents.
const maxReason = limits.Reason

// Refund returns amount (nil: all that is still refundable) to the buyer:
// from escrow before release, from the merchant's balance after it.
func (s *Service) Refund(ctx context.Context, partnerID, id string, amount *money.Amount, reason string, then ...db.Then[Refund]) (Refund, error) {
	if utf8.RuneCountInString(reason) > maxReason {
		return Refund{}, invalid("reason", "must have at most %d characters", maxReason)
	}
	return change(ctx, s, partnerID, id, then, func(tx *db.Tx, p *Payment) (Refund, error) {
		a, err := p.checkRefund(amount)
		if err != nil {
			return Refund{}, err
		}
		return s.refund(ctx, tx, p, a, reason, "")
	})
}

// refund moves amount back to the visitor, taking it from escrow first and
// the rest from the merchant's payable shards, records the refund, saves p
// and emits payment.refunded.
func (s *Service) refund(ctx context.Context, tx *db.Tx, p *Payment, amount money.Amount, reason, staffID string) (Refund, error) {
	fromEscrow := min(amount.Minor(), p.Held.Minor())
	fromMerchant := amount.Minor() - fromEscrow
	r := Refund{ID: ids.New(ids.Refund), PaymentID: p.ID, Amount: amount, Source: SourceEscrow, Reason: reason,
		CreatedBy: staffID, CreatedAt: s.now()}
	var ops []ledger.Op
	if fromEscrow > 0 {
		ops = append(ops, ledger.Move(p.escrowAccount, p.visitorAccount, p.cny(fromEscrow)))
	}
	if fromMerchant > 0 {
		r.Source = SourceMerchant
		debits, err := s.merchantDebits(ctx, tx, p.MerchantID, fromMerchant)
		if err != nil {
			return Refund{}, err
		}
		for _, d := range debits {
			ops = append(ops, ledger.Move(d.account, p.visitorAccount, p.cny(d.amount)))
		}
	}
	p.Held = p.cny(p.Held.Minor() - fromEscrow)
	p.Refunded = p.cny(p.Refunded.Minor() + amount.Minor())
	p.UpdatedAt = r.CreatedAt
	p.refreshStatus()
	if err := updatePayment(ctx, tx, *p); err != nil {
		return Refund{}, err
	}
	if err := insertRefund(ctx, tx, p.PartnerID, r); err != nil {
		return Refund{}, err
	}
	r.Payment = *p
	if _, err := s.events.Emit(tx, p.PartnerID, EventRefunded, r.Object()); err != nil {
		return Refund{}, err
	}
	_, err := s.l.PostTxNoSavepoint(ctx, tx, ledger.Batch{Reference: "rfd:" + r.ID, Ops: ops})
	if errors.Is(err, ledger.ErrInsufficientFunds) && fromMerchant > 0 {
		// Someone else (a payout, an adjustment) took from the merchant
		// between our read and our post.
		return Refund{}, fmt.Errorf("%w: %v", ErrMerchantInsufficientFunds, err)
	}
	if err != nil {
		return Refund{}, fmt.Errorf("escrow: refund %s: %w", p.ID, err)
	}
	return r, nil
}

type debit struct {
	account string
	amount  int64
}

// merchantDebits splits need over the merchant's payable shards, fullest
// first, under the merchant's row lock so that two refunds of one merchant
// do not both count the same money. Releases only add to the shards, so
// what is read here is at most what is there at commit.
func (s *Service) merchantDebits(ctx context.Context, tx *db.Tx, merchantID string, need int64) ([]debit, error) {
	if err := lockMerchant(ctx, s.d.ForUpdate(tx), merchantID); err != nil {
		return nil, err
	}
	m, err := s.merchant(ctx, tx, "", merchantID)
	if err != nil {
		return nil, err
	}
	var avail []debit
	total := int64(0)
	for _, acct := range m.m.payable {
		b, err := s.l.BalanceTx(ctx, tx, acct)
		if err != nil {
			return nil, err
		}
		if n := b.Available().Minor(); n > 0 {
			avail = append(avail, debit{acct, n})
			total += n
		}
	}
	if total < need {
		return nil, fmt.Errorf("%w: merchant %s has %s", ErrMerchantInsufficientFunds, merchantID, money.New(total, money.CNY))
	}
	// Fullest first (then by account, for a stable lock order within the
	// batch; the ledger sorts its row locks anyway).
	slices.SortFunc(avail, func(a, b debit) int {
		return cmp.Or(cmp.Compare(b.amount, a.amount), cmp.Compare(a.account, b.account))
	})
	var out []debit
	for _, d := range avail {
		if need == 0 {
			break
		}
		take := min(need, d.amount)
		out = append(out, debit{d.account, take})
		need -= take
	}
	return out, nil
}

// Dispute opens a dispute on the money in escrow: auto-release stops until
// support staff resolve it.
func (s *Service) Dispute(ctx context.Context, partnerID, id, reason string, then ...db.Then[Payment]) (Payment, error) {
	if reason == "" || utf8.RuneCountInString(reason) > maxReason {
		return Payment{}, invalid("reason", "must have 1 to %d characters", maxReason)
	}
	return change(ctx, s, partnerID, id, then, func(tx *db.Tx, p *Payment) (Payment, error) {
		if err := p.checkDispute(); err != nil {
			return Payment{}, err
		}
		now := s.now()
		p.DisputeReason, p.DisputedAt, p.UpdatedAt = reason, &now, now
		p.refreshStatus()
		if err := updatePayment(ctx, tx, *p); err != nil {
			return Payment{}, err
		}
		if _, err := s.events.Emit(tx, p.PartnerID, EventDisputed, p.Object()); err != nil {
			return Payment{}, err
		}
		return *p, nil
	})
}

// Resolve ends a dispute (support staff, any partner): amount (nil: all in
// escrow) goes to the merchant for OutcomeRelease or back to the visitor for
// OutcomeRefund, and the rest of the escrow goes the other way.
func (s *Service) Resolve(ctx context.Context, id string, outcome Outcome, amount *money.Amount, staffID, reason string, then ...db.Then[Payment]) (Payment, error) {
	if _, err := ParseOutcome(string(outcome)); err != nil {
		return Payment{}, err
	}
	if reason == "" || utf8.RuneCountInString(reason) > maxReason {
		return Payment{}, invalid("reason", "must have 1 to %d characters", maxReason)
	}
	if staffID == "" {
		return Payment{}, invalid("staff", "is required")
	}
	if _, err := s.feesAccount(ctx); err != nil {
		return Payment{}, err
	}
	return change(ctx, s, "", id, then, func(tx *db.Tx, p *Payment) (Payment, error) {
		rel, ref, err := p.checkResolve(outcome, amount)
		if err != nil {
			return Payment{}, err
		}
		now := s.now()
		p.Resolution, p.ResolvedBy, p.ResolutionReason, p.ResolvedAt = outcome, staffID, reason, &now
		if rel.IsPositive() {
			if err := s.release(ctx, tx, p, rel); err != nil {
				return Payment{}, err
			}
		}
		if ref.IsPositive() {
			if _, err := s.refund(ctx, tx, p, ref, reason, staffID); err != nil {
				return Payment{}, err
			}
		}
		return *p, nil
	})
}

// checkNotFrozen returns prepaid.ErrFrozen when the visitor's account is
// frozen. It reads the account row with a lock (FOR UPDATE on PostgreSQL;
// the SQLite transaction holds the only write lock already), the lock that
// freezing takes too: a freeze either commits before this check sees the
// account or waits until the release has committed, never in between.
func (s *Service) checkNotFrozen(tx *db.Tx, visitorID string) error {
	a, err := s.accounts.ByVisitorTx(s.d.ForUpdate(tx), visitorID)
	if err != nil {
		return fmt.Errorf("escrow: account of %s: %w", visitorID, err)
	}
	if a.Status == prepaid.Frozen {
		return fmt.Errorf("%w: visitor %s", prepaid.ErrFrozen, visitorID)
	}
	return nil
}

// AutoRelease releases every held payment whose auto-release time is at or
// before now, each in its own transaction, and returns how many it
// released. Payments of a frozen visitor wait (they are not claimed) and
// are released by the first run after the unfreeze. Several replicas may run it at once: each claims different
// payments (FOR UPDATE SKIP LOCKED) and re-checks the state under the lock,
// so each payment is released exactly once.
func (s *Service) AutoRelease(ctx context.Context, now time.Time) (int, error) {
	if _, err := s.feesAccount(ctx); err != nil {
		return 0, err
	}
	n := 0
	for n < s.o.ReleaseBatch {
		released := false
		err := s.d.Transact(ctx, func(tx *db.Tx) error {
			released = false
			p, ok, err := claimDue(ctx, s.d.ForUpdateSkipLocked(tx), now)
			if err != nil || !ok {
				return err
			}
			if p.checkRelease() != nil || p.dueAt == nil || p.dueAt.After(now) {
				return nil
			}
			// claimDue skips frozen visitors; this catches a freeze that
			// committed between its read and our lock. The payment stays
			// due and is released on a run after the unfreeze.
			if err := s.checkNotFrozen(tx, p.VisitorID); err != nil {
				if errors.Is(err, prepaid.ErrFrozen) {
					return nil
				}
				return err
			}
			if err := s.release(ctx, tx, &p, p.Held); err != nil {
				return err
			}
			released = true
			return nil
		})
		if err != nil {
			return n, err
		}
		if !released {
			return n, nil
		}
		n++
	}
	return n, nil
}

// autoReleaseBudget bounds one run of the auto-release job: it releases
// batch after batch until none is due or the budget is spent, so a backlog
// (after an outage) drains at full speed, and the next run, a tick later,
// goes on where it stopped. The job's lease is renewed meanwhile.
const autoReleaseBudget = 30 * time.Second

// Job is the auto-release job to register with a jobs.Runner. Its lag is
// the age of the oldest payment due for release.
func (s *Service) Job(every time.Duration) jobs.Job {
	return jobs.Job{Name: "escrow.auto_release", Every: every,
		Run: func(ctx context.Context, now time.Time) error {
			start, base := time.Now(), now
			for {
				n, err := s.AutoRelease(ctx, now)
				if err != nil || n < s.o.ReleaseBatch || time.Since(start) > autoReleaseBudget {
					return err
				}
				// Payments that fell due during the run are due too.
				now = base.Add(time.Since(start))
			}
		},
		Lag: func(ctx context.Context, now time.Time) (time.Duration, error) {
			due, err := oldestDue(ctx, s.d.Gorm, now)
			if err != nil || due == nil {
				return 0, err
			}
			return max(now.Sub(*due), 0), nil
		}}
}
