package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/prepaid"
)

type accountStatusResponse struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	VisitorID string `json:"visitor_id"`
	// Visitor is the deprecated name of visitor_id.
	Visitor   string    `json:"visitor"`
	Partner   string    `json:"partner"`
	Status    string    `json:"status"`
	Profile   string    `json:"profile"`
	ExpiresAt time.Time `json:"expires_at"`
}

func renderAccountStatus(a prepaid.Account) accountStatusResponse {
	return accountStatusResponse{ID: a.ID, Object: "account", VisitorID: a.VisitorID, Visitor: a.VisitorID, Partner: a.PartnerID,
		Status: string(a.Status), Profile: string(a.Profile), ExpiresAt: a.ExpiresAt}
}

func (s *Server) freezeVisitor(c *gin.Context)   { s.setFrozen(c, true) }
func (s *Server) unfreezeVisitor(c *gin.Context) { s.setFrozen(c, false) }

// setFrozen freezes or unfreezes a visitor's prepaid account, with the
// outbox event and the audit record in the same transaction.
func (s *Server) setFrozen(c *gin.Context, frozen bool) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	action := "account.unfreeze"
	if frozen {
		action = "account.freeze"
	}
	visitorID := c.Param("id")
	a := reply(http.StatusOK, func(a prepaid.Account) any { return renderAccountStatus(a) })
	a = audited(s, c, a, action, req.Reason, func(a prepaid.Account) (string, audit.Summary) {
		return visitorID, audit.Summary{Object: "account", ID: a.ID, Status: string(a.Status), Changed: []string{"status"}, VisitorID: a.VisitorID}
	})
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[prepaid.Account]) (prepaid.Account, error) {
		return s.Accounts.SetFrozen(ctx, visitorID, frozen, s.Webhooks, then...)
	})
}
