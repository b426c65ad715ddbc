package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/prepaid"
)

// loadFailure adds the failed load to a decline, as Stripe adds the
// payment intent: the partner sees which load failed and why.
func loadFailure(err error, l prepaid.Load) error {
	var de *gateway.DeclineError
	if l.ID == "" || !errors.As(err, &de) {
		return err
	}
	var ae *gateway.AuthenticationError
	if errors.As(err, &ae) {
		e := authenticationFailed(ae)
		e.Extra["load"] = l
		return e
	}
	e := newError("card_declined", "", "")
	e.DeclineCode = de.Code
	e.Extra = map[string]any{"load": l}
	return e
}

// createLoad charges the quote's sell amount on the card and credits the
// quote's CNY, less the fee, to the prepaid account.
func (s *Server) createLoad(c *gin.Context) {
	var req struct {
		CardID  string `json:"card_id" validate:"required"`
		QuoteID string `json:"quote_id" validate:"required"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	p, _ := partnerOf(c)
	if _, err := s.KYC.Get(c.Request.Context(), p.ID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	mutate(s, c, reply(http.StatusCreated, loadAnswer), func(ctx context.Context, then ...db.Then[prepaid.Load]) (prepaid.Load, error) {
		l, err := s.Prepaid.Load(ctx, prepaid.LoadInput{PartnerID: p.ID, VisitorID: c.Param("id"), CardID: req.CardID,
			QuoteID: req.QuoteID, RequestKey: requestKeyOf(c)}, then...)
		if err != nil {
			return l, loadFailure(err, l)
		}
		return l, nil
	})
}

func loadAnswer(l prepaid.Load) any { return l }

// authenticateLoad finishes a requires_action load with the issuer's OTP.
func (s *Server) authenticateLoad(c *gin.Context) {
	var req struct {
		OTP string `json:"otp" validate:"required,max=16"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	p, _ := partnerOf(c)
	mutate(s, c, reply(http.StatusOK, loadAnswer), func(ctx context.Context, then ...db.Then[prepaid.Load]) (prepaid.Load, error) {
		l, err := s.Prepaid.Authenticate(ctx, p.ID, c.Param("id"), req.OTP, then...)
		if err != nil {
			return l, loadFailure(err, l)
		}
		return l, nil
	})
}

func (s *Server) getLoad(c *gin.Context) {
	p, _ := partnerOf(c)
	l, err := s.Prepaid.GetLoad(c.Request.Context(), p.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, l)
}

func (s *Server) getAccount(c *gin.Context) {
	p, _ := partnerOf(c)
	v, err := s.Prepaid.View(c.Request.Context(), p.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, v)
}

func (s *Server) listTransactions(c *gin.Context) {
	limit, cursor, err := pageParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p, _ := partnerOf(c)
	page, err := s.Prepaid.Transactions(c.Request.Context(), p.ID, c.Param("id"), cursor, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := list[prepaid.Transaction]{Object: "list", Data: page.Data, HasMore: page.HasMore, NextCursor: page.NextCursor}
	if out.Data == nil {
		out.Data = []prepaid.Transaction{}
	}
	s.respond(c, http.StatusOK, out)
}

// createUnload sends the available balance back to a card that funded the
// account, as a network refund at a fresh quote, within what that card paid
// in; with close the rest goes to the other funding cards and the account
// closes after.
func (s *Server) createUnload(c *gin.Context) {
	var req struct {
		CardID string `json:"card_id" validate:"required"`
		Close  bool   `json:"close"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	p, _ := partnerOf(c)
	a := reply(http.StatusCreated, func(u prepaid.Unload) any { return u })
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[prepaid.Unload]) (prepaid.Unload, error) {
		return s.Prepaid.Unload(ctx, prepaid.UnloadInput{PartnerID: p.ID, VisitorID: c.Param("id"), CardID: req.CardID,
			Close: req.Close, RequestKey: requestKeyOf(c)}, then...)
	})
}
