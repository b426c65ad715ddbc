// Package ledger is Inbound's double-entry ledger: accounts, transfers,
// two-phase holds and balances. Every yuan that moves, moves here, and only
// this package writes balances; other packages post transfers.
//
// # Model
//
// An account has a currency, a kind (asset, liability, revenue, expense),
// an owner reference and optionally the rule "must not go negative". Its
// balance is kept as four counters, as in TigerBeetle: debits and credits,
// posted and pending; the kind says which side is the normal one.
//
// A transfer moves a positive amount of one currency from a debit account to
// a credit account. A business operation is a Batch of operations committed
// atomically under a unique Reference: posting the same reference again
// returns the first result and moves nothing, and the same reference with
// other content fails with ErrReferenceConflict. A refused batch records
// nothing, so its reference can be posted again later. Post runs a batch in
// its own transaction; PostTx runs it inside the caller's, so that a
// payment row, an outbox event and the money commit together.
//
// A hold (a pending transfer) reserves funds: it counts against the
// available balance of the account it debits. It is later posted, in full
// or in part (the rest is released), or voided, exactly once: the open hold
// is a row of ledger_holds that the resolution deletes, and a unique index
// on the resolving transfer's hold_id backs that up. A hold with an expiry
// is resolved by ExpireHolds with its expiry action (void or post).
//
// Transfers, operations and accounts are never updated or deleted:
// triggers refuse it in both engines, and no code path tries. A mistake is
// corrected by a new transfer. Verify checks the invariants: per currency
// debits equal credits, no constrained account is below zero (holds
// included), the stored counters equal the sums of the transfers, and the
// open holds are exactly the unresolved ones.
//
// # Concurrency
//
// A batch changes each balance row it touches with one UPDATE that carries
// the balance check in its WHERE clause: on PostgreSQL the row lock, the
// check against the latest committed balance and the change are one step,
// with no SELECT ... FOR UPDATE round trip. Every transaction takes these
// row locks in one total order (single-row accounts before slotted ones,
// each by account id and slot), so no two transactions wait for each other
// in a cycle; serialization failures that do happen are retried by
// db.Transact. On SQLite the transaction is IMMEDIATE (one writer), so the
// same statements simply run one after the other.
//
// # Hot accounts
//
// A constrained account has exactly one balance row: its check needs the
// whole balance under one lock. An unconstrained account written by nearly
// every operation (a card network's settlement account, an FX position,
// revenue, a big merchant without a constraint) is created with several
// balance slots (AccountSpec.Slots), and its balance is the sum of the
// slots. A batch adds to one slot: on PostgreSQL the first one, from a
// random start, that no other transaction holds (FOR UPDATE SKIP LOCKED
// inside the UPDATE), so it waits only when all S slots are busy; on SQLite
// a random one. Reading the balance stays O(S), independent of the number
// of entries. Slotted rows are also updated last, after the transfer rows
// are inserted, so their locks are held only from their UPDATE to the
// commit.
//
// Slots were chosen over deferred aggregation (append entries now, fold
// them into the balance later) because the balance stays exact at commit
// time, with no background job to run, watch and catch up, and no lag for
// reconciliation to reason about; the price is S rows per hot account and
// no running balance on its statement (below). docs/BENCHMARKS.md has the
// measurements.
//
// # Statements
//
// Each transfer row stores, for each single-slot account it touches, that
// account's posted balance right after it. The balance row stays locked
// from its UPDATE to the commit and the transfer's sequence number is drawn
// under that lock, so for a single-slot account sequence order is commit
// order, each stored balance is exact, and keyset paging never misses a
// row. A slotted account's transfers commit in no single order, so its
// entries carry no running balance; see Statement.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/money"
)

// Errors of the ledger. They are wrapped with detail; test with errors.Is.
var (
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	ErrReferenceConflict = errors.New("ledger: reference already used for a different operation")
	ErrAccountNotFound   = errors.New("ledger: account not found")
	ErrAccountConflict   = errors.New("ledger: account code already exists with other attributes")
	ErrInvalidAccount    = errors.New("ledger: invalid account")
	ErrCurrencyMismatch  = errors.New("ledger: currency does not match the account")
	ErrInvalidAmount     = errors.New("ledger: invalid amount")
	ErrInvalidTransfer   = errors.New("ledger: invalid transfer")
	ErrHoldNotFound      = errors.New("ledger: hold not found")
	ErrHoldNotPending    = errors.New("ledger: hold is no longer pending")
)

// MaxAmount bounds one transfer (10^15 minor units, ten trillion yuan) so the
// int64 balance counters cannot overflow in any realistic life of the system.
const MaxAmount = 1_000_000_000_000_000

// MaxOps bounds the operations in one batch.
const MaxOps = 100

// ExpiryAction is what ExpireHolds does with a hold whose time is up.
type ExpiryAction string

// The expiry actions. A hold without expiry has ExpireNone.
const (
	ExpireNone ExpiryAction = ""
	ExpireVoid              = ExpiryAction("void")
	ExpirePost              = ExpiryAction("post")
)

// String is the action's stored name.
func (e ExpiryAction) String() string { return string(e) }

func parseExpiry(s string) ExpiryAction {
	switch s {
	case "void":
		return ExpireVoid
	case "post":
		return ExpirePost
	}
	return ExpireNone
}

// TransferKind says what a stored transfer did.
type TransferKind string

// The kinds of transfer rows.
const (
	// TransferPosted moved money at once.
	TransferPosted = TransferKind("posted")
	// TransferPending is a hold: it reserved money.
	TransferPending = TransferKind("pending")
	// TransferPostPending posted a hold (Amount is the posted part; the rest
	// of the hold was released).
	TransferPostPending = TransferKind("post_pending")
	// TransferVoidPending released a hold (Amount is the hold's amount).
	TransferVoidPending = TransferKind("void_pending")
)

// String is the kind's stored name.
func (k TransferKind) String() string { return string(k) }

func parseTransferKind(s string) TransferKind {
	for _, k := range []TransferKind{TransferPosted, TransferPending, TransferPostPending, TransferVoidPending} {
		if string(k) == s {
			return k
		}
	}
	return TransferKind(s)
}

type opKind int

const (
	opMove opKind = iota + 1
	opHold
	opPost
	opVoid
)

// Op is one operation of a batch, built by Move, Hold, PostHold or VoidHold.
type Op struct {
	kind      opKind
	debit     string
	credit    string
	amount    money.Amount
	holdID    string
	expiresAt time.Time
	onExpiry  ExpiryAction
}

// Move transfers amount from the debit account to the credit account now.
func Move(debit, credit string, amount money.Amount) Op {
	return Op{kind: opMove, debit: debit, credit: credit, amount: amount}
}

// Hold reserves amount on the debit account for the credit account. A zero
// expiresAt means the hold waits until posted or voided; otherwise
// ExpireHolds applies onExpiry once expiresAt has passed, and PostHold and
// VoidHold refuse it from then on.
func Hold(debit, credit string, amount money.Amount, expiresAt time.Time, onExpiry ExpiryAction) Op {
	return Op{kind: opHold, debit: debit, credit: credit, amount: amount, expiresAt: expiresAt, onExpiry: onExpiry}
}

// PostHold posts the hold holdID: amount (at most the hold's amount) moves,
// the rest of the hold is released. A zero amount posts the whole hold.
func PostHold(holdID string, amount money.Amount) Op {
	return Op{kind: opPost, holdID: holdID, amount: amount}
}

// VoidHold releases the whole hold holdID.
func VoidHold(holdID string) Op { return Op{kind: opVoid, holdID: holdID} }

// Batch is one business operation: its Ops commit together or not at all.
type Batch struct {
	// Reference is the idempotency key, unique across the ledger, e.g.
	// "payment:pay_x:capture".
	Reference string
	Ops       []Op
}

// validate checks the batch's shape. Rules that depend on the clock are
// checked only when the batch is new (see plan), so that a replay long after
// the first post still returns the first result.
func (b Batch) validate() error {
	if b.Reference == "" || len(b.Reference) > maxCodeLen {
		return fmt.Errorf("%w: reference must have 1 to %d bytes", ErrInvalidTransfer, maxCodeLen)
	}
	if len(b.Ops) == 0 || len(b.Ops) > MaxOps {
		return fmt.Errorf("%w: a batch has 1 to %d operations", ErrInvalidTransfer, MaxOps)
	}
	for i, op := range b.Ops {
		if err := op.validate(); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
	}
	return nil
}

func (op Op) validate() error {
	switch op.kind {
	case opMove, opHold:
		if op.debit == "" || op.credit == "" {
			return fmt.Errorf("%w: debit and credit accounts are required", ErrInvalidTransfer)
		}
		if op.debit == op.credit {
			return fmt.Errorf("%w: debit and credit are the same account", ErrInvalidTransfer)
		}
		if err := checkAmount(op.amount); err != nil {
			return err
		}
		if op.kind == opHold && !op.expiresAt.IsZero() && op.onExpiry != ExpireVoid && op.onExpiry != ExpirePost {
			return fmt.Errorf("%w: hold with expiry needs an expiry action", ErrInvalidTransfer)
		}
	case opPost, opVoid:
		if op.holdID == "" {
			return fmt.Errorf("%w: hold id is required", ErrInvalidTransfer)
		}
		if op.kind == opPost && !op.amount.IsZero() {
			return checkAmount(op.amount)
		}
	default:
		return fmt.Errorf("%w: empty operation", ErrInvalidTransfer)
	}
	return nil
}

func checkAmount(a money.Amount) error {
	switch {
	case a.Currency().IsZero():
		return fmt.Errorf("%w: no currency", ErrInvalidAmount)
	case !a.IsPositive():
		return fmt.Errorf("%w: %s is not positive", ErrInvalidAmount, a)
	case a.Minor() > MaxAmount:
		return fmt.Errorf("%w: %s is too large", ErrInvalidAmount, a)
	}
	return nil
}

// fingerprint identifies a batch's content, so a replay of the reference
// can be told from a different operation that reuses it.
// Fingerprint is the digest of the batch's content stored with its
// reference: a repeat of the reference with the same fingerprint is a
// replay. Bulk writers that bypass Post (internal/seed) store it too, so
// posting one of their references again behaves as for any other batch.
func (b Batch) Fingerprint() string { return b.fingerprint() }

func (b Batch) fingerprint() string {
	h := sha256.New()
	for _, op := range b.Ops {
		var exp int64
		if !op.expiresAt.IsZero() {
			exp = op.expiresAt.UnixMicro()
		}
		fmt.Fprintf(h, "%d|%q|%q|%d|%s|%q|%d|%s\n", op.kind, op.debit, op.credit,
			op.amount.Minor(), op.amount.Currency().Code(), op.holdID, exp, string(op.onExpiry))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Transfer is a stored transfer.
type Transfer struct {
	Seq       int64
	ID        string
	Reference string
	Kind      TransferKind
	Debit     string // account id
	Credit    string // account id
	Amount    money.Amount
	// HoldID is, for TransferPostPending and TransferVoidPending, the hold
	// they resolve.
	HoldID string
	// ExpiresAt and OnExpiry are set on holds that expire.
	ExpiresAt time.Time
	OnExpiry  ExpiryAction
	CreatedAt time.Time
}

// Operation is the result of posting a batch.
type Operation struct {
	Reference string
	CreatedAt time.Time
	// Transfers are in batch order; a hold's ID is the id to post or void.
	Transfers []Transfer
	// Replayed reports that the reference had been posted before and
	// nothing moved this time.
	Replayed bool
}

// transferRow is a transfer with the running balances stored beside it.
type transferRow struct {
	Transfer
	debitAfter, creditAfter *int64
}

// hold is a row of the open-holds queue.
type hold struct {
	id        string
	debit     string
	credit    string
	amount    money.Amount
	expiresAt time.Time
	onExpiry  ExpiryAction
}

// store is what the ledger needs from the database, inside one transaction.
// store.go implements it with gorm.
type store interface {
	account(ctx context.Context, id string) (Account, error)
	accountByCode(ctx context.Context, code string) (Account, error)
	accountsByOwner(ctx context.Context, owner string) ([]Account, error)
	// createAccount inserts the account and its balance rows unless the code
	// exists; it reports whether it inserted.
	createAccount(ctx context.Context, a Account) (bool, error)
	// claimReference records the operation unless the reference exists; it
	// reports whether it recorded it. A concurrent claim of the same
	// reference waits for the first to commit or roll back.
	claimReference(ctx context.Context, ref, fingerprint string, at time.Time) (bool, error)
	operation(ctx context.Context, ref string) (fingerprint string, at time.Time, ts []Transfer, err error)
	// adjust adds d to one balance row and returns the row after. With
	// guard, the row is changed only if its available balance in kind's
	// direction is at least need; ok is false if no row changed.
	// An account with more than one slot may have the change on another
	// slot than the one asked for, one that no other transaction holds.
	adjust(ctx context.Context, accountID string, slot, slots int, d counters, guard bool, kind Kind, need int64) (after counters, ok bool, err error)
	balanceRowExists(ctx context.Context, accountID string, slot int) (bool, error)
	insertTransfers(ctx context.Context, rows []transferRow) error
	insertHolds(ctx context.Context, hs []hold) error
	// takeHold removes an open hold and returns it; ok is false if it is not
	// open (never existed, or resolved by someone else first).
	takeHold(ctx context.Context, id string) (h hold, ok bool, err error)
	transfer(ctx context.Context, id string) (Transfer, error)
	// resolution is the transfer that posted or voided a hold, if any.
	resolution(ctx context.Context, holdID string) (Transfer, bool, error)
	balance(ctx context.Context, accountID string) (counters, error)
	statement(ctx context.Context, accountID string, after int64, limit int) ([]transferRow, error)
	// claimExpired locks up to limit open holds due at now, skipping holds
	// another replica has locked.
	claimExpired(ctx context.Context, now time.Time, limit int) ([]string, error)

	// For Verify.
	allAccounts(ctx context.Context) ([]Account, error)
	storedSums(ctx context.Context) (map[string]counters, error)
	entrySums(ctx context.Context, from int64) (map[string]counters, error)
	holdMismatches(ctx context.Context) (missing, orphans []string, err error)
	foreignTransfers(ctx context.Context, from int64) ([]string, error)

	// For checkpoints.
	lastCheckpoint(ctx context.Context) (int64, error)
	postedSumsUpTo(seq int64) (map[string]counters, error)
	entrySumsOfCheckpoint(seq int64) (map[string]counters, error)
	quiescedMaxSeq(ctx context.Context) (int64, error)
	writeCheckpoint(ctx context.Context, prev, seq int64, at time.Time) (Checkpoint, error)
}

// Ledger posts transfers and reads balances. It is safe for concurrent use.
type Ledger struct {
	tx  transactor
	now func() time.Time

	// accounts caches accounts by id. Their fields never change, so a cached
	// account is never stale; an account cached from a transaction that
	// rolled back is caught when its balance row is missing (see apply).
	mu       sync.RWMutex
	accounts map[string]Account
}

// transactor runs a function against a store inside a transaction.
type transactor interface {
	transact(ctx context.Context, readOnly bool, fn func(store) error) error
	// snapshot runs fn in a read-only transaction that sees one consistent
	// state of the database.
	snapshot(ctx context.Context, fn func(store) error) error
}

// Option configures a Ledger.
type Option func(*Ledger)

// WithClock replaces time.Now, for tests of expiry.
func WithClock(now func() time.Time) Option { return func(l *Ledger) { l.now = now } }

func newLedger(t transactor, opts ...Option) *Ledger {
	l := &Ledger{tx: t, now: time.Now, accounts: map[string]Account{}}
	for _, o := range opts {
		o(l)
	}
	return l
}

func (l *Ledger) clock() time.Time { return l.now().UTC().Truncate(time.Microsecond) }

// EnsureAccount returns the account with spec.Code, creating it if it does
// not exist. An existing account with other attributes is an
// ErrAccountConflict: codes are meant to be derived from what the account is.
func (l *Ledger) EnsureAccount(ctx context.Context, spec AccountSpec) (Account, error) {
	var a Account
	err := l.tx.transact(ctx, false, func(s store) error {
		var err error
		a, err = l.ensureAccount(ctx, s, spec)
		return err
	})
	return a, err
}

func (l *Ledger) ensureAccount(ctx context.Context, s store, spec AccountSpec) (Account, error) {
	spec, err := spec.normalized()
	if err != nil {
		return Account{}, err
	}
	a := Account{
		ID: ids.New(ids.Account), Code: spec.Code, Currency: spec.Currency, Kind: spec.Kind,
		Owner: spec.Owner, NoNegative: spec.NoNegative, Slots: spec.Slots, CreatedAt: l.clock(),
	}
	created, err := s.createAccount(ctx, a)
	if err != nil {
		return Account{}, fmt.Errorf("ledger: create account %s: %w", spec.Code, err)
	}
	if !created {
		if a, err = s.accountByCode(ctx, spec.Code); err != nil {
			return Account{}, err
		}
		if !a.matches(spec) {
			return Account{}, fmt.Errorf("%w: %s", ErrAccountConflict, spec.Code)
		}
	}
	l.remember(a)
	return a, nil
}

// Account returns the account with the given id.
func (l *Ledger) Account(ctx context.Context, id string) (Account, error) {
	var a Account
	err := l.tx.transact(ctx, true, func(s store) error {
		var err error
		a, err = l.account(ctx, s, id)
		return err
	})
	return a, err
}

// AccountByCode returns the account with the given code.
func (l *Ledger) AccountByCode(ctx context.Context, code string) (Account, error) {
	var a Account
	err := l.tx.transact(ctx, true, func(s store) error {
		var err error
		a, err = s.accountByCode(ctx, code)
		return err
	})
	return a, err
}

func (l *Ledger) account(ctx context.Context, s store, id string) (Account, error) {
	l.mu.RLock()
	a, ok := l.accounts[id]
	l.mu.RUnlock()
	if ok {
		return a, nil
	}
	a, err := s.account(ctx, id)
	if err != nil {
		return Account{}, err
	}
	l.remember(a)
	return a, nil
}

func (l *Ledger) remember(a Account) {
	l.mu.Lock()
	l.accounts[a.ID] = a
	l.mu.Unlock()
}

func (l *Ledger) forget(id string) {
	l.mu.Lock()
	delete(l.accounts, id)
	l.mu.Unlock()
}

// Balance returns an account's balance: one read of at most MaxSlots rows.
func (l *Ledger) Balance(ctx context.Context, accountID string) (Balance, error) {
	var b Balance
	err := l.tx.transact(ctx, true, func(s store) error {
		a, err := l.account(ctx, s, accountID)
		if err != nil {
			return err
		}
		c, err := s.balance(ctx, accountID)
		if err != nil {
			return err
		}
		b = Balance{Account: a, DebitsPosted: c.debitsPosted, CreditsPosted: c.creditsPosted,
			DebitsPending: c.debitsPending, CreditsPending: c.creditsPending}
		return nil
	})
	return b, err
}

// Post commits a batch in its own transaction, retrying serialization
// failures. See Batch for idempotency.
func (l *Ledger) Post(ctx context.Context, b Batch) (Operation, error) {
	var op Operation
	err := l.tx.transact(ctx, false, func(s store) error {
		var err error
		op, err = l.post(ctx, s, b, false)
		return err
	})
	if err != nil {
		return Operation{}, err
	}
	return op, nil
}

// key names one balance row.
type key struct {
	account string
	slot    int
}

// effect is one transfer's change to one balance row.
type effect struct {
	key   key
	delta counters
}

// plan collects a batch's changes before they touch the database, so that
// every row is updated once and in a fixed order.
type plan struct {
	accounts map[string]Account
	slots    map[string]int
	rows     []transferRow
	effects  [][2]effect // per row: debit side, credit side
	holds    []hold
}

func (p *plan) slot(a Account) int {
	if s, ok := p.slots[a.ID]; ok {
		return s
	}
	s := 0
	if a.Slots > 1 {
		s = rand.IntN(a.Slots) //nolint:gosec // spreads writes over balance slots; nothing secret or guessable matters here
	}
	p.slots[a.ID] = s
	p.accounts[a.ID] = a
	return s
}

func (p *plan) add(t Transfer, debit, credit Account, d, c counters) {
	p.rows = append(p.rows, transferRow{Transfer: t})
	p.effects = append(p.effects, [2]effect{
		{key{debit.ID, p.slot(debit)}, d},
		{key{credit.ID, p.slot(credit)}, c},
	})
}

func (l *Ledger) post(ctx context.Context, s store, b Batch, byExpiry bool) (Operation, error) {
	now := l.clock()
	if err := b.validate(); err != nil {
		return Operation{}, err
	}
	if !byExpiry && strings.HasPrefix(b.Reference, reservedPrefix) {
		// Otherwise a caller could take an expiry's reference first and
		// leave the hold unexpirable.
		return Operation{}, fmt.Errorf("%w: references starting with %q are the ledger's own", ErrInvalidTransfer, reservedPrefix)
	}
	fp := b.fingerprint()
	claimed, err := s.claimReference(ctx, b.Reference, fp, now)
	if err != nil {
		return Operation{}, fmt.Errorf("ledger: %s: %w", b.Reference, err)
	}
	if !claimed {
		return l.replay(ctx, s, b.Reference, fp)
	}
	p := &plan{accounts: map[string]Account{}, slots: map[string]int{}}
	for i, op := range b.Ops {
		if err := l.plan(ctx, s, p, b.Reference, op, now, byExpiry); err != nil {
			return Operation{}, fmt.Errorf("ledger: %s: op %d: %w", b.Reference, i, err)
		}
	}
	// Single-row balances first: they may refuse the batch, and their
	// running balances go into the transfer rows. Slotted balances last,
	// after the inserts, so the hot rows stay locked only from their UPDATE
	// to the commit.
	if err := l.apply(ctx, s, p, false); err != nil {
		return Operation{}, fmt.Errorf("ledger: %s: %w", b.Reference, err)
	}
	if err := s.insertTransfers(ctx, p.rows); err != nil {
		return Operation{}, fmt.Errorf("ledger: %s: %w", b.Reference, err)
	}
	if len(p.holds) > 0 {
		if err := s.insertHolds(ctx, p.holds); err != nil {
			return Operation{}, fmt.Errorf("ledger: %s: %w", b.Reference, err)
		}
	}
	if err := l.apply(ctx, s, p, true); err != nil {
		return Operation{}, fmt.Errorf("ledger: %s: %w", b.Reference, err)
	}
	out := Operation{Reference: b.Reference, CreatedAt: now, Transfers: make([]Transfer, len(p.rows))}
	for i, r := range p.rows {
		out.Transfers[i] = r.Transfer
	}
	return out, nil
}

func (l *Ledger) replay(ctx context.Context, s store, ref, fp string) (Operation, error) {
	stored, at, ts, err := s.operation(ctx, ref)
	if err != nil {
		return Operation{}, fmt.Errorf("ledger: replay %s: %w", ref, err)
	}
	if stored != fp {
		return Operation{}, fmt.Errorf("%w: %s", ErrReferenceConflict, ref)
	}
	return Operation{Reference: ref, CreatedAt: at, Transfers: ts, Replayed: true}, nil
}

// plan adds one operation's transfer and balance effects to p.
func (l *Ledger) plan(ctx context.Context, s store, p *plan, ref string, op Op, now time.Time, byExpiry bool) error {
	t := Transfer{ID: ids.New(ids.Transfer), Reference: ref, CreatedAt: now}
	var amount, held int64
	switch op.kind {
	case opMove, opHold:
		t.Debit, t.Credit, t.Amount = op.debit, op.credit, op.amount
		t.Kind = TransferPosted
		if op.kind == opHold {
			if !op.expiresAt.IsZero() && !op.expiresAt.After(now) {
				return fmt.Errorf("%w: hold expiry %s is not in the future", ErrInvalidTransfer, op.expiresAt.Format(time.RFC3339))
			}
			t.Kind, t.ExpiresAt, t.OnExpiry = TransferPending, op.expiresAt.UTC().Truncate(time.Microsecond), op.onExpiry
		}
	case opPost, opVoid:
		h, ok, err := s.takeHold(ctx, op.holdID)
		if err != nil {
			return err
		}
		if !ok {
			return l.notPending(ctx, s, op.holdID)
		}
		if !byExpiry && !h.expiresAt.IsZero() && !now.Before(h.expiresAt) {
			return fmt.Errorf("%w: %s expired at %s", ErrHoldNotPending, op.holdID, h.expiresAt.Format(time.RFC3339))
		}
		t.Debit, t.Credit, t.HoldID = h.debit, h.credit, h.id
		held = h.amount.Minor()
		t.Kind, t.Amount = TransferVoidPending, h.amount
		if op.kind == opPost {
			t.Kind = TransferPostPending
			if !op.amount.IsZero() {
				if op.amount.Currency() != h.amount.Currency() {
					return fmt.Errorf("%w: hold %s is in %s, not %s", ErrCurrencyMismatch, h.id, h.amount.Currency(), op.amount.Currency())
				}
				if op.amount.Minor() > held {
					return fmt.Errorf("%w: %s is more than hold %s of %s", ErrInvalidAmount, op.amount, h.id, h.amount)
				}
				t.Amount = op.amount
			}
		}
	}
	amount = t.Amount.Minor()
	debit, err := l.account(ctx, s, t.Debit)
	if err != nil {
		return fmt.Errorf("debit %s: %w", t.Debit, err)
	}
	credit, err := l.account(ctx, s, t.Credit)
	if err != nil {
		return fmt.Errorf("credit %s: %w", t.Credit, err)
	}
	for _, a := range []Account{debit, credit} {
		if a.Currency != t.Amount.Currency() {
			return fmt.Errorf("%w: %s is %s, transfer is %s", ErrCurrencyMismatch, a.Code, a.Currency, t.Amount.Currency())
		}
	}
	var d, c counters
	switch t.Kind {
	case TransferPosted:
		d.debitsPosted, c.creditsPosted = amount, amount
	case TransferPending:
		d.debitsPending, c.creditsPending = amount, amount
		p.holds = append(p.holds, hold{id: t.ID, debit: t.Debit, credit: t.Credit, amount: t.Amount, expiresAt: t.ExpiresAt, onExpiry: t.OnExpiry})
	case TransferPostPending:
		d.debitsPending, c.creditsPending = -held, -held
		d.debitsPosted, c.creditsPosted = amount, amount
	case TransferVoidPending:
		d.debitsPending, c.creditsPending = -held, -held
	}
	p.add(t, debit, credit, d, c)
	return nil
}

// notPending explains why a hold could not be taken.
func (l *Ledger) notPending(ctx context.Context, s store, id string) error {
	t, err := s.transfer(ctx, id)
	if errors.Is(err, errNoRow) || (err == nil && t.Kind != TransferPending) {
		return fmt.Errorf("%w: %s", ErrHoldNotFound, id)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrHoldNotPending, id)
}

// errNoRow is the store's "no such row", distinct from the public errors so
// the ledger decides which one the caller sees.
var errNoRow = errors.New("ledger: no row")

// apply updates the balance rows of a plan, either the single-row accounts
// or the slotted ones, with one conditional UPDATE per row. Every
// transaction takes its row locks in one total order (single-row accounts
// before slotted ones, then by account id and slot), so no two wait for each
// other in a cycle. For single-row accounts it fills in the running balances.
func (l *Ledger) apply(ctx context.Context, s store, p *plan, slotted bool) error {
	totals := map[key]counters{}
	for _, e := range p.effects {
		for _, side := range e {
			if (p.accounts[side.key.account].Slots > 1) == slotted {
				totals[side.key] = totals[side.key].add(side.delta)
			}
		}
	}
	keys := make([]key, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.account, b.account); c != 0 {
			return c
		}
		return a.slot - b.slot
	})
	running := map[key]counters{}
	for _, k := range keys {
		a := p.accounts[k.account]
		d := totals[k]
		// Only a change that lowers the available balance is checked: money
		// coming in is always welcome, even on an account that is short.
		guard := a.NoNegative && d.available(a.Kind) < 0
		after, ok, err := s.adjust(ctx, k.account, k.slot, a.Slots, d, guard, a.Kind, -d.available(a.Kind))
		if err != nil {
			return err
		}
		if !ok {
			exists, err := s.balanceRowExists(ctx, k.account, k.slot)
			if err != nil {
				return err
			}
			if !exists {
				l.forget(k.account)
				return fmt.Errorf("%w: %s", ErrAccountNotFound, k.account)
			}
			return fmt.Errorf("%w: %s", ErrInsufficientFunds, a.Code)
		}
		running[k] = after.sub(d)
	}
	if slotted {
		return nil // a slotted account has no running balance
	}
	for i := range p.rows {
		for side, e := range p.effects[i] {
			a := p.accounts[e.key.account]
			if a.Slots != 1 {
				continue
			}
			running[e.key] = running[e.key].add(e.delta)
			v := running[e.key].posted(a.Kind)
			if side == 0 {
				p.rows[i].debitAfter = &v
			} else {
				p.rows[i].creditAfter = &v
			}
		}
	}
	return nil
}

// expiryReference is the reference of the operation that resolves an
// expired hold, so a retried or concurrent expiry is a replay.
func expiryReference(holdID string) string { return reservedPrefix + "expire:" + holdID }

// reservedPrefix starts the references the ledger makes for itself.
const reservedPrefix = "ledger:"

// expireBatch bounds the holds one ExpireHolds transaction resolves.
const expireBatch = 100

// ExpireHolds resolves every hold whose expiry is at or before now with its
// expiry action, and returns how many it resolved. It is meant to run from a
// periodic job on any number of replicas: each claims different holds
// (SKIP LOCKED on PostgreSQL).
func (l *Ledger) ExpireHolds(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n := 0
		err := l.tx.transact(ctx, false, func(s store) error {
			n = 0
			due, err := s.claimExpired(ctx, now, expireBatch)
			if err != nil {
				return err
			}
			for _, id := range due {
				op, err := l.expiryOp(ctx, s, id)
				if err != nil {
					return err
				}
				if _, err := l.post(ctx, s, Batch{Reference: expiryReference(id), Ops: []Op{op}}, true); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		total += n
		if err != nil {
			return total - n, fmt.Errorf("ledger: expire holds: %w", err)
		}
		if n < expireBatch {
			return total, nil
		}
	}
}

func (l *Ledger) expiryOp(ctx context.Context, s store, id string) (Op, error) {
	t, err := s.transfer(ctx, id)
	if err != nil {
		return Op{}, fmt.Errorf("hold %s: %w", id, err)
	}
	if t.OnExpiry == ExpirePost {
		return PostHold(id, money.Amount{}), nil
	}
	return VoidHold(id), nil
}

// Entry is one line of an account's statement.
type Entry struct {
	Seq        int64
	TransferID string
	Reference  string
	Kind       TransferKind
	// Counterparty is the account on the other side.
	Counterparty string
	// Amount is signed: positive when the transfer raises the account's
	// balance on its normal side.
	Amount money.Amount
	// BalanceAfter is the posted balance right after this transfer; it is
	// known only for single-slot accounts (HasBalance).
	BalanceAfter money.Amount
	HasBalance   bool
	HoldID       string
	CreatedAt    time.Time
}

// StatementPage is one keyset page of a statement.
type StatementPage struct {
	Account Account
	Entries []Entry
	// Next is the cursor for the following page, or 0 at the end.
	Next int64
}

// MaxPage bounds a statement page.
const MaxPage = 500

// Statement lists an account's transfers after the cursor (0 for the
// start), at most limit of them (MaxPage if limit is out of range).
//
// For a single-slot account the order is commit order and every entry
// carries the posted balance after it, so paging never misses an entry.
// A slotted account's transfers commit in no single order: an entry may
// appear below a cursor already handed out, so a reader that must see every
// entry of a slotted account pages only through entries older than the
// longest transaction (a few seconds) and reads the balance with Balance.
func (l *Ledger) Statement(ctx context.Context, accountID string, after int64, limit int) (StatementPage, error) {
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	var page StatementPage
	err := l.tx.transact(ctx, true, func(s store) error {
		a, err := l.account(ctx, s, accountID)
		if err != nil {
			return err
		}
		rows, err := s.statement(ctx, accountID, after, limit+1)
		if err != nil {
			return err
		}
		page = StatementPage{Account: a}
		if len(rows) > limit {
			rows = rows[:limit]
			page.Next = rows[limit-1].Seq
		}
		for _, r := range rows {
			page.Entries = append(page.Entries, entryFor(a, r))
		}
		return nil
	})
	return page, err
}

func entryFor(a Account, r transferRow) Entry {
	e := Entry{Seq: r.Seq, TransferID: r.ID, Reference: r.Reference, Kind: r.Kind,
		HoldID: r.HoldID, CreatedAt: r.CreatedAt}
	debited := r.Debit == a.ID
	after := r.creditAfter
	e.Counterparty = r.Debit
	if debited {
		after = r.debitAfter
		e.Counterparty = r.Credit
	}
	sign := int64(1)
	if debited != a.Kind.debitNormal() {
		sign = -1
	}
	e.Amount = money.New(sign*r.Amount.Minor(), r.Amount.Currency())
	if after != nil {
		e.BalanceAfter, e.HasBalance = money.New(*after, a.Currency), true
	}
	return e
}
