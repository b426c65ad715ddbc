package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
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

// reconciliationBreak is one thing that does not add up, with what support
// needs to act on it.
type reconciliationBreak struct {
	Check    string `json:"check"`
	Rule     string `json:"rule"`
	Currency string `json:"currency,omitempty"`
	Account  string `json:"account,omitempty"`
	Detail   string `json:"detail"`
}

func (s *Server) reconciliation(c *gin.Context) {
	breaks := []reconciliationBreak{}
	lb, err := s.Ledger.Verify(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	for _, b := range lb {
		breaks = append(breaks, reconciliationBreak{Check: "ledger", Rule: b.Rule, Currency: b.Currency, Account: b.Account, Detail: b.Detail})
	}
	s.respond(c, http.StatusOK, gin.H{"object": "reconciliation", "checked_at": s.Now(), "breaks": breaks})
}
