package prepaid

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
)

// LimitsView is the limits part of the account view (docs/API.md): the
// profile, its caps, what was loaded this year and the room left.
type LimitsView struct {
	Profile    Profile      `json:"profile"`
	BalanceCap money.Amount `json:"balance_cap"`
	// AnnualLoadCap is nil for a profile without an annual limit (basic).
	AnnualLoadCap *money.Amount `json:"annual_load_cap"`
	// LoadedThisYear is the USD at mid of this calendar year's loads
	// (succeeded or in flight).
	LoadedThisYear money.Amount `json:"loaded_this_year"`
	// LoadRoom is the most CNY a load can still credit: the room under the
	// balance cap (loads in flight counted), and under the annual limit
	// converted at the current USD mid, whichever is less.
	LoadRoom money.Amount `json:"load_room"`
}

// View is the prepaid account as GET /v1/visitors/{id}/account shows it.
type View struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Status Status `json:"status"`
	// Available is what can be spent or unloaded; Held is reserved by
	// unloads in flight and by escrow payments not yet ended (Deps.Escrow);
	// Balance is their sum.
	Balance   money.Amount `json:"balance"`
	Available money.Amount `json:"available"`
	Held      money.Amount `json:"held"`
	ExpiresAt time.Time    `json:"expires_at"`
	Limits    LimitsView   `json:"limits"`
}

// View returns the visitor's account with its balances and limits.
func (s *Service) View(ctx context.Context, partnerID, visitorID string) (View, error) {
	a, err := s.st.ByVisitor(ctx, partnerID, visitorID)
	if err != nil {
		return View{}, err
	}
	posted, avail := money.New(0, money.CNY), money.New(0, money.CNY)
	la, err := s.led.AccountByCode(ctx, a.LedgerCode)
	switch {
	case errors.Is(err, ledger.ErrAccountNotFound):
		// Never loaded: the ledger account is made with the first load.
	case err != nil:
		return View{}, err
	default:
		b, err := s.led.Balance(ctx, la.ID)
		if err != nil {
			return View{}, err
		}
		posted, avail = b.Posted(), b.Available()
	}
	now := s.now()
	inFlight, loaded, err := s.st.usage(ctx, a.ID, yearStart(now))
	if err != nil {
		return View{}, err
	}
	p := s.d.Limits.profile(a.Profile)
	usd := money.MustCurrency("USD")
	lv := LimitsView{Profile: a.Profile, BalanceCap: p.BalanceCap, LoadedThisYear: money.New(loaded, usd)}
	lv.LoadRoom = roomOf(p.BalanceCap, money.New(posted.Minor()+inFlight, money.CNY))
	if p.Annual.IsPositive() {
		capAmount := p.Annual
		lv.AnnualLoadCap = &capAmount
		t, err := s.d.Rates.Rates(ctx)
		if err != nil {
			return View{}, err
		}
		mid, err := t.Mid(usd)
		if err != nil {
			return View{}, err
		}
		annual, err := usdToCNY(roomOf(p.Annual, lv.LoadedThisYear), mid)
		if err != nil {
			return View{}, err
		}
		if annual.Minor() < lv.LoadRoom.Minor() {
			lv.LoadRoom = annual
		}
	}
	// Held: reserved in the account (unloads in flight, holds) plus what
	// escrow took out for payments not yet ended; Balance = Available + Held.
	held := posted.Minor() - avail.Minor()
	if s.d.Escrow != nil {
		e, err := s.d.Escrow.HeldFor(ctx, visitorID)
		if err != nil {
			return View{}, err
		}
		held += e.Minor()
	}
	return View{
		ID: a.ID, Object: "account", Status: a.Status, Balance: money.New(avail.Minor()+held, money.CNY), Available: avail,
		Held: money.New(held, money.CNY), ExpiresAt: a.ExpiresAt.UTC(), Limits: lv,
	}, nil
}

// TxType is the kind of an account movement.
type TxType string

// The movement types of GET /v1/visitors/{id}/transactions.
const (
	TxLoad       TxType = "load"
	TxPayment    TxType = "payment"
	TxRefund     TxType = "refund"
	TxUnload     TxType = "unload"
	TxFee        TxType = "fee"
	TxAdjustment TxType = "adjustment"
)

// txPrefixes map ledger reference prefixes to movement types. Escrow
// posts "pay:" and "rfd:" (docs/API.md ids); staff corrections "adj:".
var txPrefixes = []struct {
	prefix string
	typ    TxType
}{
	{"load:", TxLoad}, {"unl:", TxUnload}, {"pay:", TxPayment}, {"payment:", TxPayment},
	{"rfd:", TxRefund}, {"refund:", TxRefund}, {"fee:", TxFee}, {"adj:", TxAdjustment},
}

// TypeOf derives a movement's type from its ledger reference; anything
// unknown is an adjustment.
func TypeOf(reference string) TxType {
	for _, p := range txPrefixes {
		if strings.HasPrefix(reference, p.prefix) {
			return p.typ
		}
	}
	return TxAdjustment
}

// Transaction is one movement of the account's balance.
type Transaction struct {
	ID           string       `json:"id"`
	Type         TxType       `json:"type"`
	Amount       money.Amount `json:"amount"`
	BalanceAfter money.Amount `json:"balance_after"`
	Reference    string       `json:"reference"`
	CreatedAt    time.Time    `json:"created_at"`
}

// TransactionPage is one page of the list.
type TransactionPage struct {
	Data       []Transaction
	HasMore    bool
	NextCursor string
}

// ErrInvalidCursor: a cursor this list did not hand out (400
// invalid_request_error / cursor_invalid, param cursor).
var ErrInvalidCursor = errors.New("prepaid: invalid cursor")

// Transactions lists the account's posted movements oldest first, limit
// (1-100, else 20) per page, after cursor ("" for the start). Holds and
// their releases move no posted money and are left out; a posted hold
// (an escrow capture, an unload) shows once, when it moved the balance.
func (s *Service) Transactions(ctx context.Context, partnerID, visitorID, cursor string, limit int) (TransactionPage, error) {
	if limit < 1 || limit > 100 {
		limit = 20
	}
	var after int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			return TransactionPage{}, fmt.Errorf("%w: %q", ErrInvalidCursor, cursor)
		}
		after = n
	}
	a, err := s.st.ByVisitor(ctx, partnerID, visitorID)
	if err != nil {
		return TransactionPage{}, err
	}
	la, err := s.led.AccountByCode(ctx, a.LedgerCode)
	if errors.Is(err, ledger.ErrAccountNotFound) {
		return TransactionPage{Data: []Transaction{}}, nil
	}
	if err != nil {
		return TransactionPage{}, err
	}
	out := TransactionPage{Data: []Transaction{}}
	var lastSeq int64
	for {
		page, err := s.led.Statement(ctx, la.ID, after, limit+1)
		if err != nil {
			return TransactionPage{}, err
		}
		for _, e := range page.Entries {
			after = e.Seq
			if e.Kind != ledger.TransferPosted && e.Kind != ledger.TransferPostPending {
				continue
			}
			if len(out.Data) == limit {
				out.HasMore, out.NextCursor = true, strconv.FormatInt(lastSeq, 10)
				return out, nil
			}
			out.Data = append(out.Data, Transaction{ID: e.TransferID, Type: TypeOf(e.Reference), Amount: e.Amount,
				BalanceAfter: e.BalanceAfter, Reference: e.Reference, CreatedAt: e.CreatedAt.UTC()})
			lastSeq = e.Seq
		}
		if page.Next == 0 {
			return out, nil
		}
	}
}
