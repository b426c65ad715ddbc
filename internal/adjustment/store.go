package adjustment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
)

type row struct {
	ID           string `gorm:"primaryKey"`
	AccountID    string
	AccountCode  string
	AmountMinor  int64
	Currency     string
	Reason       string
	Status       string
	ProposedBy   string
	ApprovedBy   string
	CreatedAt    time.Time
	ApprovedAt   *time.Time
	RejectedBy   string
	RejectedAt   *time.Time
	RejectReason string
}

func (row) TableName() string { return "adjustments" }

func (r row) adjustment() (Adjustment, error) {
	cur, err := money.LookupCurrency(r.Currency)
	if err != nil {
		return Adjustment{}, err
	}
	return Adjustment{ID: r.ID, AccountID: r.AccountID, AccountCode: r.AccountCode, Amount: money.New(r.AmountMinor, cur),
		Reason: r.Reason, Status: Status(r.Status), ProposedBy: r.ProposedBy, ApprovedBy: r.ApprovedBy,
		CreatedAt: r.CreatedAt, ApprovedAt: r.ApprovedAt, RejectedBy: r.RejectedBy, RejectedAt: r.RejectedAt, RejectReason: r.RejectReason}, nil
}

// Service proposes and approves adjustments.
type Service struct {
	db     *db.DB
	ledger *ledger.Ledger
	o      Options
	now    func() time.Time
}

// New returns the service.
func New(d *db.DB, l *ledger.Ledger, o Options) (*Service, error) {
	if o.Staff == nil {
		return nil, errors.New("adjustment: no staff directory")
	}
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().UTC() }
	}
	if o.Ceiling.Currency().IsZero() {
		o.Ceiling = DefaultCeiling
	}
	if o.Ceiling.Currency() != money.CNY || !o.Ceiling.IsPositive() {
		return nil, fmt.Errorf("adjustment: ceiling must be a positive CNY amount, not %s", o.Ceiling)
	}
	return &Service{db: d, ledger: l, o: o, now: o.Now}, nil
}

// Ceiling is the bound of one adjustment.
func (s *Service) Ceiling() money.Amount { return s.o.Ceiling }

// checkCeiling refuses an amount whose absolute value, in CNY, is above the
// ceiling. Checking before anything is stored also keeps amounts near the
// int64 limit out of the ledger.
func (s *Service) checkCeiling(ctx context.Context, amount money.Amount) error {
	abs := amount
	if abs.IsNegative() {
		abs = abs.Neg()
	}
	if abs.Currency() != money.CNY {
		if s.o.ToCNY == nil {
			return fmt.Errorf("%w: no rate to count %s against it", ErrAboveCeiling, abs.Currency())
		}
		cny, err := s.o.ToCNY(ctx, abs)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrAboveCeiling, err)
		}
		abs = cny
	}
	if c, err := abs.Cmp(s.o.Ceiling); err != nil || c > 0 {
		return fmt.Errorf("%w (%s)", ErrAboveCeiling, s.o.Ceiling)
	}
	return nil
}

func (s *Service) checkOpen(tx *gorm.DB, code string) error {
	if s.o.Accounts == nil {
		return nil
	}
	closed, err := s.o.Accounts.LedgerAccountClosedTx(tx, code)
	if err != nil {
		return err
	}
	if closed {
		return ErrAccountClosed
	}
	return nil
}

// Propose records a proposal; nothing moves yet. The amount's currency must
// be the account's.
func (s *Service) Propose(ctx context.Context, accountID string, amount money.Amount, reason, staffID string, then ...db.Then[Adjustment]) (Adjustment, error) {
	if amount.IsZero() {
		return Adjustment{}, ErrZeroAmount
	}
	if strings.TrimSpace(reason) == "" || staffID == "" {
		return Adjustment{}, ErrInvalidInput
	}
	acct, err := s.ledger.Account(ctx, accountID)
	if err != nil {
		return Adjustment{}, err
	}
	if acct.Currency != amount.Currency() {
		return Adjustment{}, fmt.Errorf("%w: account is in %s", money.ErrCurrencyMismatch, acct.Currency)
	}
	if err := s.checkCeiling(ctx, amount); err != nil {
		return Adjustment{}, err
	}
	r := row{ID: ids.New(ids.Adjustment), AccountID: acct.ID, AccountCode: acct.Code, AmountMinor: amount.Minor(),
		Currency: amount.Currency().Code(), Reason: strings.TrimSpace(reason), Status: string(Proposed), ProposedBy: staffID,
		CreatedAt: s.now().Truncate(time.Microsecond)}
	var out Adjustment
	err = s.db.Transact(ctx, func(tx *gorm.DB) error {
		if err := s.checkOpen(tx, acct.Code); err != nil {
			return err
		}
		if err := tx.Create(&r).Error; err != nil {
			return fmt.Errorf("adjustment: propose: %w", err)
		}
		var err error
		if out, err = r.adjustment(); err != nil {
			return err
		}
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// Approve posts a proposed adjustment. The approver must pass
// auth.CheckFourEyes against the proposer as of the proposal: another
// active supervisor, not created by the proposer, holding no token the
// proposer has seen (nor the reverse), active before the proposal. The
// amount must still be within the ceiling and the account open. Lowering a
// no-negative account below zero fails with ledger.ErrInsufficientFunds and
// leaves the proposal open.
func (s *Service) Approve(ctx context.Context, id string, approver auth.Staff, then ...db.Then[Adjustment]) (Adjustment, error) {
	// Proposer and creation time never change: read them, and the staff
	// rows, before the transaction (SQLite has one connection).
	prop, err := s.Get(ctx, id)
	if err != nil {
		return Adjustment{}, err
	}
	proposer, err := s.o.Staff.StaffMember(ctx, prop.ProposedBy)
	if err != nil {
		return Adjustment{}, fmt.Errorf("adjustment: proposer %s: %w", prop.ProposedBy, err)
	}
	if prop.Status == Proposed {
		if err := auth.CheckFourEyes(proposer, approver, prop.CreatedAt); err != nil {
			return Adjustment{}, err
		}
		if err := s.checkCeiling(ctx, prop.Amount); err != nil {
			return Adjustment{}, err
		}
	}
	approverID := approver.ID
	var out Adjustment
	err = s.db.Transact(ctx, func(tx *gorm.DB) error {
		var r row
		err := s.db.ForUpdate(tx).Take(&r, "id = ?", id).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if Status(r.Status) != Proposed {
			return ErrNotProposed
		}
		a, err := r.adjustment()
		if err != nil {
			return err
		}
		acct, err := s.ledger.Account(ctx, r.AccountID)
		if err != nil {
			return err
		}
		if err := s.checkOpen(tx, acct.Code); err != nil {
			return err
		}
		counter, err := s.ledger.EnsureAccountTx(ctx, tx, ledger.AccountSpec{Code: CounterCode(a.Amount.Currency()),
			Currency: a.Amount.Currency(), Kind: ledger.Expense, Slots: 4})
		if err != nil {
			return err
		}
		// Raising a credit-normal account (liability, revenue) credits it;
		// raising a debit-normal one (asset, expense) debits it.
		debit, credit := counter.ID, acct.ID
		if acct.Kind == ledger.Asset || acct.Kind == ledger.Expense {
			debit, credit = acct.ID, counter.ID
		}
		amt := a.Amount
		if amt.IsNegative() {
			debit, credit, amt = credit, debit, amt.Neg()
		}
		if _, err := s.ledger.PostTx(ctx, tx, ledger.Batch{Reference: a.Reference(), Ops: []ledger.Op{ledger.Move(debit, credit, amt)}}); err != nil {
			return err
		}
		now := s.now().Truncate(time.Microsecond)
		if err := tx.Model(&row{}).Where("id = ? AND status = ?", id, string(Proposed)).
			Updates(map[string]any{"status": string(Approved), "approved_by": approverID, "approved_at": now}).Error; err != nil {
			return err
		}
		a.Status, a.ApprovedBy, a.ApprovedAt = Approved, approverID, &now
		out = a
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// Reject turns a proposed adjustment down: it is decided, records who
// rejected it, when and why, and never posts (no ledger entry is written).
// The rejector must be an active supervisor; unlike approval, rejecting
// needs no independence from the proposer, since nothing moves. An
// adjustment already approved or rejected fails with ErrNotProposed.
func (s *Service) Reject(ctx context.Context, id string, rejector auth.Staff, reason string, then ...db.Then[Adjustment]) (Adjustment, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || rejector.ID == "" {
		return Adjustment{}, ErrInvalidInput
	}
	if !rejector.Role.Allows(auth.Supervisor) || rejector.Status != auth.StaffActive {
		return Adjustment{}, auth.ErrForbidden
	}
	var out Adjustment
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		var r row
		err := s.db.ForUpdate(tx).Take(&r, "id = ?", id).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if Status(r.Status) != Proposed {
			return ErrNotProposed
		}
		now := s.now().Truncate(time.Microsecond)
		res := tx.Model(&row{}).Where("id = ? AND status = ?", id, string(Proposed)).
			Updates(map[string]any{"status": string(Rejected), "rejected_by": rejector.ID, "rejected_at": now, "reject_reason": reason})
		if res.Error != nil {
			return fmt.Errorf("adjustment: reject: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return ErrNotProposed
		}
		r.Status, r.RejectedBy, r.RejectedAt, r.RejectReason = string(Rejected), rejector.ID, &now, reason
		if out, err = r.adjustment(); err != nil {
			return err
		}
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// Get returns one adjustment.
func (s *Service) Get(ctx context.Context, id string) (Adjustment, error) {
	var r row
	err := s.db.WithContext(ctx).Take(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Adjustment{}, ErrNotFound
	}
	if err != nil {
		return Adjustment{}, err
	}
	return r.adjustment()
}
