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

type reconBreakResponse struct {
	Check    string `json:"check"`
	Rule     string `json:"rule"`
	Currency string `json:"currency,omitempty"`
	Account  string `json:"account,omitempty"`
	Network  string `json:"network,omitempty"`
	STAN     string `json:"stan,omitempty"`
	RRN      string `json:"rrn,omitempty"`
	Object   string `json:"object,omitempty"`
	Detail   string `json:"detail"`
}

type reconRuleResponse struct {
	Rule    string   `json:"rule"`
	Count   int      `json:"count"`
	Objects []string `json:"objects"`
}

type reconciliationResponse struct {
	Object    string               `json:"object"`
	Date      string               `json:"date"`
	CheckedAt time.Time            `json:"checked_at"`
	Breaks    []reconBreakResponse `json:"breaks"`
	ByRule    []reconRuleResponse  `json:"by_rule"`
}

// reconciliation runs recon.Service for a settlement day (query day, or
// its older name date; default today, UTC) and lists every break, and
// the breaks grouped by rule with the id each is about. {"breaks": []} is
// clean.
func (s *Server) reconciliation(c *gin.Context) {
	day := recon.Today(s.Now())
	for _, param := range []string{"date", "day"} {
		d := c.Query(param)
		if d == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			s.fail(c, newError("parameter_invalid", param, param+" must be YYYY-MM-DD."))
			return
		}
		day = t
	}
	res, err := s.recon.Run(c.Request.Context(), day)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, reconciliationBody(res))
}

func reconciliationBody(res recon.Result) reconciliationResponse {
	out := reconciliationResponse{Object: "reconciliation", Date: res.Day.Format(time.DateOnly), CheckedAt: res.CheckedAt,
		Breaks: make([]reconBreakResponse, len(res.Breaks)), ByRule: []reconRuleResponse{}}
	for i, b := range res.Breaks {
		out.Breaks[i] = reconBreakResponse{Check: b.Check, Rule: b.Rule, Currency: b.Currency, Account: b.Account,
			Network: b.Network, STAN: b.STAN, RRN: b.RRN, Object: b.Object, Detail: b.Detail}
	}
	for _, r := range res.ByRule() {
		out.ByRule = append(out.ByRule, reconRuleResponse{Rule: r.Rule, Count: r.Count, Objects: r.Objects})
	}
	return out
}

// Reconcile runs every reconciliation check for day (recon.Service, which
// the admin API's GET /admin/v1/reconciliation also runs) and returns the
// breaks; none is clean. The support console shows them.
func (s *Server) Reconcile(ctx context.Context, day time.Time) ([]recon.Break, error) {
	res, err := s.recon.Run(ctx, day)
	if err != nil {
		return nil, err
	}
	return res.Breaks, nil
}
