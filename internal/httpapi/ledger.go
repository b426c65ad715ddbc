package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/recon"
)

type ledgerAccountResponse struct {
	ID         string       `json:"id"`
	Object     string       `json:"object"`
	Code       string       `json:"code"`
	Currency   string       `json:"currency"`
	Kind       string       `json:"kind"`
	Owner      string       `json:"owner,omitempty"`
	NoNegative bool         `json:"no_negative"`
	Posted     money.Amount `json:"posted"`
	Pending    money.Amount `json:"pending"`
	Available  money.Amount `json:"available"`
	CreatedAt  time.Time    `json:"created_at"`
}

// ledgerAccount finds an account by id, or by code (codes hold a colon:
// "visitor:vis_...:prepaid").
func (s *Server) ledgerAccount(c *gin.Context, idOrCode string) (ledger.Account, error) {
	if strings.Contains(idOrCode, ":") {
		return s.Ledger.AccountByCode(c.Request.Context(), idOrCode)
	}
	return s.Ledger.Account(c.Request.Context(), idOrCode)
}

func (s *Server) adminLedgerAccount(c *gin.Context) {
	a, err := s.ledgerAccount(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	bal, err := s.Ledger.Balance(c.Request.Context(), a.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, ledgerAccountResponse{ID: a.ID, Object: "ledger_account", Code: a.Code, Currency: a.Currency.Code(),
		Kind: a.Kind.String(), Owner: a.Owner, NoNegative: a.NoNegative, Posted: bal.Posted(), Pending: bal.Pending(),
		Available: bal.Available(), CreatedAt: a.CreatedAt})
}

type ledgerEntryResponse struct {
	Seq          int64         `json:"seq"`
	Transfer     string        `json:"transfer"`
	Reference    string        `json:"reference"`
	Kind         string        `json:"kind"`
	Counterparty string        `json:"counterparty"`
	Amount       money.Amount  `json:"amount"`
	BalanceAfter *money.Amount `json:"balance_after,omitempty"`
	Hold         string        `json:"hold,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
}

// adminLedgerTransfers is an account's statement, keyset-paginated by the
// transfer sequence.
func (s *Server) adminLedgerTransfers(c *gin.Context) {
	id := c.Query("account_id")
	if id == "" {
		s.fail(c, newError("parameter_missing", "account_id", "account_id is required."))
		return
	}
	limit, cursor, err := pageParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var after int64
	if cursor != "" {
		if after, err = strconv.ParseInt(cursor, 10, 64); err != nil || after < 0 {
			s.fail(c, newError("parameter_invalid", "cursor", "cursor is not one this API returned."))
			return
		}
	}
	a, err := s.ledgerAccount(c, id)
	if err != nil {
		s.fail(c, withParam(err, "account_id"))
		return
	}
	page, err := s.Ledger.Statement(c.Request.Context(), a.ID, after, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]ledgerEntryResponse, len(page.Entries))
	for i, e := range page.Entries {
		out[i] = ledgerEntryResponse{Seq: e.Seq, Transfer: e.TransferID, Reference: e.Reference, Kind: e.Kind.String(),
			Counterparty: e.Counterparty, Amount: e.Amount, Hold: e.HoldID, CreatedAt: e.CreatedAt}
		if e.HasBalance {
			b := e.BalanceAfter
			out[i].BalanceAfter = &b
		}
	}
	s.respond(c, http.StatusOK, newList(out, page.Next != 0, func(e ledgerEntryResponse) string { return strconv.FormatInt(e.Seq, 10) }))
}

// reconciliation lists every break: the ledger's invariants, escrow held
// against open payments, the day's settlement at the card networks
// against credited loads and succeeded unloads, and refunds to each card
// against its captures (all days). {"breaks": []} is clean.
func (s *Server) reconciliation(c *gin.Context) {
	day := s.Now().UTC()
	if d := c.Query("date"); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			s.fail(c, newError("parameter_invalid", "date", "date must be YYYY-MM-DD."))
			return
		}
		day = t
	}
	breaks, err := s.Reconcile(c.Request.Context(), day)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, gin.H{"object": "reconciliation", "date": day.Format(time.DateOnly), "checked_at": s.Now(), "breaks": breaks})
}

// Reconcile runs every reconciliation check for day (the admin API's
// GET /admin/v1/reconciliation and the support console share it) and
// returns the breaks; none is clean.
func (s *Server) Reconcile(ctx context.Context, day time.Time) ([]recon.Break, error) {
	breaks := []recon.Break{}
	lb, err := s.Ledger.Verify(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range lb {
		breaks = append(breaks, recon.Break{Check: "ledger", Rule: b.Rule, Currency: b.Currency, Account: b.Account, Detail: b.Detail})
	}
	held, err := s.Escrow.EscrowHeld(ctx)
	if err != nil {
		return nil, err
	}
	if held.LedgerHeld != held.PaymentsHeld {
		breaks = append(breaks, recon.Break{Check: "escrow", Rule: "escrow_held_equals_open_payments", Currency: "CNY",
			Detail: "ledger escrow " + held.LedgerHeld.Value() + ", open payments " + held.PaymentsHeld.Value()})
	}
	for _, m := range held.Mismatches {
		breaks = append(breaks, recon.Break{Check: "escrow", Rule: "payment_escrow_balance", Currency: "CNY", Detail: m})
	}
	report, err := s.Settlement.Settlement(ctx, day)
	if err != nil {
		return nil, err
	}
	network, err := recon.NetworkSide(report)
	if err != nil {
		return nil, err
	}
	ledgerSide, err := recon.LedgerSide(ctx, s.DB, day)
	if err != nil {
		return nil, err
	}
	breaks = append(breaks, recon.Match(network, ledgerSide)...)
	cards, err := recon.CardRefunds(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	return append(breaks, cards...), nil
}
