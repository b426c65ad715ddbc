package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/money"
)

type rateResponse struct {
	Object     string    `json:"object"`
	Currency   string    `json:"currency"`
	To         string    `json:"to"`
	MidRate    string    `json:"mid_rate"`
	LoadRate   string    `json:"load_rate"`
	UnloadRate string    `json:"unload_rate"`
	AsOf       time.Time `json:"as_of"`
}

// fxRates lists indicative rates to CNY: mid, and the customer rates of a
// load (card currency to CNY) and an unload (back), spread included.
func (s *Server) fxRates(c *gin.Context) {
	rates, err := s.FX.Rates(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]rateResponse, len(rates))
	for i, r := range rates {
		out[i] = rateResponse{Object: "fx_rate", Currency: r.Currency.Code(), To: "CNY", MidRate: r.MidString(),
			LoadRate: r.LoadString(), UnloadRate: r.UnloadString(), AsOf: r.AsOf.UTC()}
	}
	s.respond(c, http.StatusOK, newList(out, false, func(r rateResponse) string { return r.Currency }))
}

type quoteResponse struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	CardID    string `json:"card_id"`
	VisitorID string `json:"visitor_id"`
	// Visitor is the deprecated name of visitor_id.
	Visitor   string       `json:"visitor"`
	Sell      money.Amount `json:"sell"`
	Buy       money.Amount `json:"buy"`
	Rate      string       `json:"rate"`
	MidRate   string       `json:"mid_rate"`
	Fee       money.Amount `json:"fee"`
	Credited  money.Amount `json:"credited"`
	ExpiresAt time.Time    `json:"expires_at"`
	CreatedAt time.Time    `json:"created_at"`
}

func renderQuote(q fx.Quote) quoteResponse {
	return quoteResponse{ID: q.ID(), Object: "fx_quote", CardID: q.CardID(), VisitorID: q.Owner().VisitorID, Visitor: q.Owner().VisitorID, Sell: q.Sell(), Buy: q.Buy(),
		Rate: q.RateString(), MidRate: q.MidRateString(), Fee: q.Fee(), Credited: q.Credited(), ExpiresAt: q.ExpiresAt(), CreatedAt: q.CreatedAt()}
}

// createQuote prices a load on a verified card: give either the CNY to buy
// or the card currency to sell. The quote is usable once, before it expires.
func (s *Server) createQuote(c *gin.Context) {
	var req struct {
		CardID string        `json:"card_id" validate:"required"`
		Buy    *money.Amount `json:"buy"`
		Sell   *money.Amount `json:"sell"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	if (req.Buy == nil) == (req.Sell == nil) {
		s.fail(c, newError("parameter_invalid", "buy", "Give exactly one of buy (CNY) or sell (the card's currency)."))
		return
	}
	p, _ := partnerOf(c)
	card, err := s.Cards.CardOf(c.Request.Context(), p.ID, req.CardID)
	if err != nil {
		s.fail(c, withParam(err, "card_id"))
		return
	}
	if card.Status != gateway.StatusVerified {
		s.fail(c, withParam(gateway.ErrCardNotUsable, "card_id"))
		return
	}
	cardCur, err := money.LookupCurrency(card.Currency)
	if err != nil {
		s.fail(c, err)
		return
	}
	amount := req.Sell
	if req.Buy != nil {
		amount = req.Buy
		if amount.Currency() != money.CNY {
			s.fail(c, newError("currency_unsupported", "buy.currency", "buy must be in CNY."))
			return
		}
	} else if amount.Currency() != cardCur {
		s.fail(c, newError("currency_unsupported", "sell.currency", "sell must be in the card's currency, "+cardCur.Code()+"."))
		return
	}
	if !amount.IsPositive() {
		param := "sell.value"
		if req.Buy != nil {
			param = "buy.value"
		}
		s.fail(c, newError("amount_invalid", param, "The amount must be positive."))
		return
	}
	// The stored idempotent response commits with the quote.
	in := fx.Request{Owner: fx.Owner{PartnerID: p.ID, VisitorID: card.VisitorID}, CardID: card.ID, Card: cardCur, Amount: *amount}
	a := reply(http.StatusCreated, func(q fx.Quote) any { return renderQuote(q) })
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[fx.Quote]) (fx.Quote, error) {
		return s.FX.Quote(ctx, in, then...)
	})
}
