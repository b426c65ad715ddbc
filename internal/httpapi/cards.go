package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
)

// visitorRef loads the partner's visitor for card binding.
func (s *Server) visitorRef(c *gin.Context) (gateway.VisitorRef, error) {
	p, _ := partnerOf(c)
	v, err := s.KYC.Get(c.Request.Context(), p.ID, c.Param("id"))
	if err != nil {
		return gateway.VisitorRef{}, err
	}
	return gateway.VisitorRef{ID: v.ID, Surname: v.Surname, GivenNames: v.GivenNames, Status: v.Status}, nil
}

func (s *Server) bindCard(c *gin.Context) {
	var req struct {
		Number     string `json:"number" validate:"required,max=32"`
		ExpMonth   int    `json:"exp_month" validate:"required"`
		ExpYear    int    `json:"exp_year" validate:"required"`
		CVC        string `json:"cvc" validate:"required,max=8"`
		HolderName string `json:"holder_name" validate:"required,max=200"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	ref, err := s.visitorRef(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p, _ := partnerOf(c)
	in := gateway.CardInput{Number: req.Number, ExpMonth: req.ExpMonth, ExpYear: req.ExpYear, CVC: req.CVC, HolderName: req.HolderName}
	mutate(s, c, reply(http.StatusCreated, cardAnswer), func(ctx context.Context, then ...db.Then[gateway.Card]) (gateway.Card, error) {
		return s.Cards.Bind(ctx, p.ID, ref, in, then...)
	})
}

type cardResponse struct {
	Object string `json:"object"`
	gateway.Card
}

func renderCard(card gateway.Card) cardResponse { return cardResponse{Object: "card", Card: card} }

func cardAnswer(card gateway.Card) any { return renderCard(card) }

// MarshalJSON is the card's own JSON (gateway.Card.MarshalJSON, which adds
// visitor_id) with "object" first; without it the embedded card's method
// would be promoted and drop "object".
func (r cardResponse) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(r.Card)
	if err != nil {
		return nil, err
	}
	obj, err := json.Marshal(r.Object)
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"object":`), obj...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, b[1:]...), nil
}

func (s *Server) verifyCard(c *gin.Context) {
	var req struct {
		OTP string `json:"otp" validate:"required,max=16"`
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
	mutate(s, c, reply(http.StatusOK, cardAnswer), func(ctx context.Context, then ...db.Then[gateway.Card]) (gateway.Card, error) {
		return s.Cards.Verify(ctx, p.ID, c.Param("id"), c.Param("card_id"), req.OTP, then...)
	})
}

func (s *Server) listCards(c *gin.Context) {
	p, _ := partnerOf(c)
	if _, err := s.KYC.Get(c.Request.Context(), p.ID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	cards, err := s.Cards.List(c.Request.Context(), p.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]cardResponse, len(cards))
	for i, card := range cards {
		out[i] = renderCard(card)
	}
	s.respond(c, http.StatusOK, newList(out, false, func(c cardResponse) string { return c.ID }))
}

func (s *Server) unbindCard(c *gin.Context) {
	p, _ := partnerOf(c)
	card, err := s.Cards.Unbind(c.Request.Context(), p.ID, c.Param("id"), c.Param("card_id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderCard(card))
}
