package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/money"
)

// The JSON of merchants, payments and refunds is the escrow package's
// Object(): the API and the payment.* webhook events show the same shape.
func renderMerchant(m escrow.Merchant) any { return m.Object() }

func (s *Server) createMerchant(c *gin.Context) {
	var req struct {
		Name string `json:"name" validate:"required,max_name"`
		MCC  string `json:"mcc" validate:"required,len=4,numeric"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	p, _ := partnerOf(c)
	mutate(s, c, reply(http.StatusCreated, renderMerchant), func(ctx context.Context, then ...db.Then[escrow.Merchant]) (escrow.Merchant, error) {
		return s.Escrow.CreateMerchant(ctx, p.ID, escrow.MerchantInput{Name: req.Name, MCC: req.MCC}, then...)
	})
}

func (s *Server) getMerchant(c *gin.Context) {
	p, _ := partnerOf(c)
	m, err := s.Escrow.Merchant(c.Request.Context(), p.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderMerchant(m))
}

func renderPayment(p escrow.Payment) any { return p.Object() }

// paymentOf renders the payment an escrow operation produced (a refund
// carries the payment after it).
func paymentStatus(p escrow.Payment) int {
	if p.Existing {
		return http.StatusOK
	}
	return http.StatusCreated
}

// createPayment moves the amount from the visitor's available balance into
// escrow. A repeated out_trade_no with the same fields returns the payment
// (200); with other fields it is 409 out_trade_no_conflict.
func (s *Server) createPayment(c *gin.Context) {
	var req struct {
		VisitorID string `json:"visitor_id"`
		// Visitor is the deprecated name of visitor_id, accepted for a
		// deprecation period (see visitorParam).
		Visitor          string        `json:"visitor"`
		MerchantID       string        `json:"merchant_id" validate:"required"`
		Amount           *money.Amount `json:"amount" validate:"required"`
		OutTradeNo       string        `json:"out_trade_no" validate:"required,max_out_trade_no"`
		Description      string        `json:"description" validate:"max_payment_description"`
		AutoReleaseAfter string        `json:"auto_release_after"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	visitorID, err := visitorParam(c, req.VisitorID, req.Visitor, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	req.VisitorID = visitorID
	var after time.Duration
	if req.AutoReleaseAfter != "" {
		d, err := time.ParseDuration(req.AutoReleaseAfter)
		if err != nil {
			s.fail(c, newError("parameter_invalid", "auto_release_after", "auto_release_after must be a duration such as \"240h\"."))
			return
		}
		after = d
	}
	p, _ := partnerOf(c)
	in := escrow.PaymentInput{VisitorID: req.VisitorID, MerchantID: req.MerchantID, Amount: *req.Amount,
		OutTradeNo: req.OutTradeNo, Description: req.Description, AutoReleaseAfter: after}
	a := answer[escrow.Payment]{status: paymentStatus, render: func(_ *db.Tx, pay escrow.Payment) (any, error) { return renderPayment(pay), nil }}
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[escrow.Payment]) (escrow.Payment, error) {
		return s.Escrow.Create(ctx, p.ID, in, then...)
	})
}

func (s *Server) getPayment(c *gin.Context) {
	p, _ := partnerOf(c)
	pay, err := s.Escrow.Get(c.Request.Context(), p.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderPayment(pay))
}

func (s *Server) listPayments(c *gin.Context) {
	limit, cursor, err := pageParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	visitorID, err := visitorParam(c, c.Query("visitor_id"), c.Query("visitor"), false)
	if err != nil {
		s.fail(c, err)
		return
	}
	f := escrow.Filter{VisitorID: visitorID, Cursor: cursor, Limit: limit}
	if st := c.Query("status"); st != "" {
		if f.Status, err = escrow.ParseStatus(st); err != nil {
			s.fail(c, err)
			return
		}
	}
	p, _ := partnerOf(c)
	page, err := s.Escrow.List(c.Request.Context(), p.ID, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]any, len(page.Payments))
	for i, pay := range page.Payments {
		out[i] = renderPayment(pay)
	}
	s.respond(c, http.StatusOK, list[any]{Object: "list", Data: out, HasMore: page.HasMore, NextCursor: page.NextCursor})
}

// paymentAction runs a state change of a payment and answers with it.
func (s *Server) paymentAction(c *gin.Context, do func(ctx context.Context, partnerID, id string, then ...db.Then[escrow.Payment]) (escrow.Payment, error)) {
	p, _ := partnerOf(c)
	mutate(s, c, reply(http.StatusOK, renderPayment), func(ctx context.Context, then ...db.Then[escrow.Payment]) (escrow.Payment, error) {
		return do(ctx, p.ID, c.Param("id"), then...)
	})
}

func (s *Server) confirmPayment(c *gin.Context) {
	if err := s.decodeJSON(bodyOf(c), &struct{}{}); err != nil {
		s.fail(c, err)
		return
	}
	s.paymentAction(c, s.Escrow.Confirm)
}

func (s *Server) disputePayment(c *gin.Context) {
	var req struct {
		Reason string `json:"reason" validate:"required,max_reason"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	s.paymentAction(c, func(ctx context.Context, partnerID, id string, then ...db.Then[escrow.Payment]) (escrow.Payment, error) {
		return s.Escrow.Dispute(ctx, partnerID, id, req.Reason, then...)
	})
}

func renderRefund(r escrow.Refund) any { return r.Object() }

// refundPayment refunds all that is left, or amount: from escrow while the
// payment is held, from the merchant's balance after release.
func (s *Server) refundPayment(c *gin.Context) {
	var req struct {
		Amount *money.Amount `json:"amount"`
		Reason string        `json:"reason" validate:"max_reason"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	p, _ := partnerOf(c)
	mutate(s, c, reply(http.StatusCreated, renderRefund), func(ctx context.Context, then ...db.Then[escrow.Refund]) (escrow.Refund, error) {
		return s.Escrow.Refund(ctx, p.ID, c.Param("id"), req.Amount, req.Reason, then...)
	})
}

// resolvedField is the payment field a resolution changes besides status.
func resolvedField(outcome string) string {
	if outcome == "refund" {
		return "refunded"
	}
	return "released"
}

// resolvePayment ends a dispute (support staff): release or refund, the
// amount (default: all in escrow) one way and the rest the other.
func (s *Server) resolvePayment(c *gin.Context) {
	var req struct {
		Outcome string        `json:"outcome" validate:"required,oneof=release refund"`
		Amount  *money.Amount `json:"amount"`
		Reason  string        `json:"reason" validate:"required,max_reason"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	outcome, err := escrow.ParseOutcome(req.Outcome)
	if err != nil {
		s.fail(c, err)
		return
	}
	st, _ := staffOf(c)
	id := c.Param("id")
	a := audited(s, c, reply(http.StatusOK, renderPayment), "payment.resolve."+req.Outcome, req.Reason, func(pay escrow.Payment) (string, audit.Summary) {
		return id, audit.Summary{Object: "payment", ID: id, Status: string(pay.Status), Changed: []string{"status", resolvedField(req.Outcome)}}
	})
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[escrow.Payment]) (escrow.Payment, error) {
		return s.Escrow.Resolve(ctx, id, outcome, req.Amount, st.ID, req.Reason, then...)
	})
}

// visitorParam resolves the visitor reference of a request body or query.
// visitor_id is the name every request uses (as the payment body always
// did, and as Stripe's "customer" is one name everywhere); "visitor", the
// name of the field in response objects, is still accepted for a
// deprecation period, with a Deprecation header and a Warning naming the
// replacement. Both given and different is 400; required and neither
// given is 400 parameter_missing.
func visitorParam(c *gin.Context, current, old string, required bool) (string, error) {
	if old != "" {
		c.Header("Deprecation", "true")
		c.Header("Warning", `299 inbound "visitor is deprecated; use visitor_id"`)
		if current != "" && current != old {
			return "", newError("parameter_invalid", "visitor", "visitor and visitor_id name different visitors; send visitor_id only.")
		}
		current = old
	}
	if current == "" && required {
		return "", newError("parameter_missing", "visitor_id", "visitor_id is required.")
	}
	return current, nil
}
