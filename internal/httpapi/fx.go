package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
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
