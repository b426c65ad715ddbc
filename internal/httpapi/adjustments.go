package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/adjustment"
	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/money"
)

type adjustmentResponse struct {
	ID           string       `json:"id"`
	Object       string       `json:"object"`
	AccountID    string       `json:"account_id"`
	AccountCode  string       `json:"account_code"`
	Amount       money.Amount `json:"amount"`
	Reason       string       `json:"reason"`
	Status       string       `json:"status"`
	ProposedBy   string       `json:"proposed_by"`
	ApprovedBy   string       `json:"approved_by,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
	ApprovedAt   *time.Time   `json:"approved_at,omitempty"`
	RejectedBy   string       `json:"rejected_by,omitempty"`
	RejectedAt   *time.Time   `json:"rejected_at,omitempty"`
	RejectReason string       `json:"reject_reason,omitempty"`
}

func renderAdjustment(a adjustment.Adjustment) adjustmentResponse {
	return adjustmentResponse{ID: a.ID, Object: "adjustment", AccountID: a.AccountID, AccountCode: a.AccountCode, Amount: a.Amount,
		Reason: a.Reason, Status: string(a.Status), ProposedBy: a.ProposedBy, ApprovedBy: a.ApprovedBy, CreatedAt: a.CreatedAt, ApprovedAt: a.ApprovedAt,
		RejectedBy: a.RejectedBy, RejectedAt: a.RejectedAt, RejectReason: a.RejectReason}
}

func describeAdjustment(changed ...string) func(adjustment.Adjustment) (string, audit.Summary) {
	return func(a adjustment.Adjustment) (string, audit.Summary) {
		return a.ID, audit.Summary{Object: "adjustment", ID: a.ID, Status: string(a.Status), Changed: changed,
			AccountID: a.AccountID, ProposedBy: a.ProposedBy, ApprovedBy: a.ApprovedBy}
	}
}

// proposeAdjustment records a signed correction; nothing moves until a
// second, independent supervisor approves it (maker-checker). The amount is
// bounded by the adjustment ceiling; a closed account takes none.
func (s *Server) proposeAdjustment(c *gin.Context) {
	var req struct {
		AccountID string        `json:"account_id" validate:"required"`
		Amount    *money.Amount `json:"amount" validate:"required"`
		Reason    string        `json:"reason" validate:"required,max_reason"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	st, _ := staffOf(c)
	account, err := s.ledgerAccount(c, req.AccountID)
	if err != nil {
		s.fail(c, withParam(err, "account_id"))
		return
	}
	a := reply(http.StatusCreated, func(a adjustment.Adjustment) any { return renderAdjustment(a) })
	a = audited(s, c, a, "adjustment.propose", req.Reason, describeAdjustment("account_id", "amount", "status"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[adjustment.Adjustment]) (adjustment.Adjustment, error) {
		adj, err := s.Adjustments.Propose(ctx, account.ID, *req.Amount, req.Reason, st.ID, then...)
		if errors.Is(err, adjustment.ErrAboveCeiling) || errors.Is(err, adjustment.ErrZeroAmount) {
			err = withParam(err, "amount.value")
		}
		if errors.Is(err, adjustment.ErrAccountClosed) {
			err = withParam(err, "account_id")
		}
		return adj, err
	})
}

func (s *Server) approveAdjustment(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	st, _ := staffOf(c)
	a := reply(http.StatusOK, func(a adjustment.Adjustment) any { return renderAdjustment(a) })
	a = audited(s, c, a, "adjustment.approve", req.Reason, describeAdjustment("status", "approved_by"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[adjustment.Adjustment]) (adjustment.Adjustment, error) {
		return s.Adjustments.Approve(ctx, c.Param("id"), st, then...)
	})
}

// rejectAdjustment turns a proposed adjustment down (a supervisor): it is
// decided and never posts; approving it afterwards is 409 invalid_state.
func (s *Server) rejectAdjustment(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	st, _ := staffOf(c)
	a := reply(http.StatusOK, func(a adjustment.Adjustment) any { return renderAdjustment(a) })
	a = audited(s, c, a, "adjustment.reject", req.Reason, describeAdjustment("status", "rejected_by", "reject_reason"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[adjustment.Adjustment]) (adjustment.Adjustment, error) {
		return s.Adjustments.Reject(ctx, c.Param("id"), st, req.Reason, then...)
	})
}

func (s *Server) getAdjustment(c *gin.Context) {
	a, err := s.Adjustments.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderAdjustment(a))
}
