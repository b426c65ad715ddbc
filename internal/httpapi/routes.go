package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/auth"
)

// partnerRoutes lists the whole partner API (docs/API.md).
func (s *Server) partnerRoutes(r *gin.Engine) {
	v1 := r.Group("/v1", s.partnerAuth, s.rateLimit)

	v1.POST("/visitors", s.idempotent(true), s.createVisitor)
	v1.GET("/visitors/:id", s.getVisitor)
	v1.POST("/visitors/:id/cards", s.idempotent(true), s.bindCard)
	v1.GET("/visitors/:id/cards", s.listCards)
	v1.DELETE("/visitors/:id/cards/:card_id", s.unbindCard)
	v1.POST("/visitors/:id/cards/:card_id/verify", s.idempotent(false), s.verifyCard)

	v1.POST("/visitors/:id/loads", s.idempotent(true), s.createLoad)
	v1.GET("/loads/:id", s.getLoad)
	v1.POST("/loads/:id/authenticate", s.idempotent(false), s.authenticateLoad)
	v1.GET("/visitors/:id/account", s.getAccount)
	v1.GET("/visitors/:id/transactions", s.listTransactions)
	v1.POST("/visitors/:id/unloads", s.idempotent(true), s.createUnload)

	v1.POST("/merchants", s.idempotent(true), s.createMerchant)
	v1.GET("/merchants/:id", s.getMerchant)
	v1.POST("/payments", s.idempotent(true), s.createPayment)
	v1.GET("/payments", s.listPayments)
	v1.GET("/payments/:id", s.getPayment)
	v1.POST("/payments/:id/confirm", s.idempotent(true), s.confirmPayment)
	v1.POST("/payments/:id/refunds", s.idempotent(true), s.refundPayment)
	v1.POST("/payments/:id/dispute", s.idempotent(false), s.disputePayment)

	v1.GET("/fx/rates", s.fxRates)
	v1.POST("/fx/quotes", s.idempotent(false), s.createQuote)

	v1.POST("/webhook_endpoints", s.idempotent(true), s.createWebhookEndpoint)
	v1.GET("/webhook_endpoints", s.listWebhookEndpoints)
	v1.GET("/webhook_endpoints/:id", s.getWebhookEndpoint)
	v1.DELETE("/webhook_endpoints/:id", s.deleteWebhookEndpoint)
}

// adminRoutes lists the whole admin API (docs/ADMIN.md).
func (s *Server) adminRoutes(r *gin.Engine) {
	a := r.Group("/admin/v1", s.staffAuth, s.staffRateLimit)
	viewer := a.Group("", s.role(auth.Viewer))
	supervisor := a.Group("", s.role(auth.Supervisor), s.idempotent(false))

	agent := a.Group("", s.role(auth.Agent), s.idempotent(false))

	viewer.GET("/audit", s.listAudit)
	viewer.GET("/visitors", s.adminFindVisitors)
	viewer.GET("/visitors/:id", s.adminGetVisitor)
	viewer.GET("/reviews", s.listReviews)
	viewer.GET("/ledger/accounts/:id", s.adminLedgerAccount)
	viewer.GET("/ledger/transfers", s.adminLedgerTransfers)
	viewer.GET("/reconciliation", s.reconciliation)
	agent.POST("/reviews/:id/decision", s.decideReview)
	agent.POST("/visitors/:id/freeze", s.freezeVisitor)
	agent.POST("/visitors/:id/unfreeze", s.unfreezeVisitor)
	agent.POST("/visitors/:id/release_document", s.releaseDocument)
	agent.POST("/adjustments", s.proposeAdjustment)
	agent.POST("/payments/:id/resolve", s.resolvePayment)
	viewer.GET("/adjustments/:id", s.getAdjustment)
	supervisor.POST("/adjustments/:id/approve", s.approveAdjustment)
	supervisor.POST("/adjustments/:id/reject", s.rejectAdjustment)

	supervisor.POST("/partners", s.createPartner)
	supervisor.POST("/partners/:id/rotate_key", s.rotatePartnerKey)
	supervisor.POST("/partners/:id/disable", s.disablePartner)
	supervisor.POST("/partners/:id/enable", s.enablePartner)
	supervisor.POST("/staff", s.createStaff)
	supervisor.POST("/staff/:id/approve", s.approveStaff)
	supervisor.POST("/staff/:id/disable", s.disableStaff)
	supervisor.POST("/staff/:id/rotate_token", s.rotateStaffToken)
}
