package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/webhook"
)

type webhookEndpointResponse struct {
	ID          string    `json:"id"`
	Object      string    `json:"object"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description,omitempty"`
	Status      string    `json:"status"`
	Secret      string    `json:"secret,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

func renderEndpoint(e webhook.Endpoint, secret string) webhookEndpointResponse {
	return webhookEndpointResponse{ID: e.ID, Object: "webhook_endpoint", URL: e.URL, Events: e.Events,
		Description: e.Description, Status: e.Status, Secret: secret, CreatedAt: e.CreatedAt}
}

func (s *Server) createWebhookEndpoint(c *gin.Context) {
	var req struct {
		URL         string   `json:"url" validate:"required,max_url"`
		Events      []string `json:"events" validate:"required,min=1,max=32"`
		Description string   `json:"description" validate:"max_webhook_description"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	p, _ := partnerOf(c)
	// The stored (sealed) response of a replay shows the secret too.
	a := reply(http.StatusCreated, func(e webhook.CreatedEndpoint) any { return renderEndpoint(e.Endpoint, e.Secret) })
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[webhook.CreatedEndpoint]) (webhook.CreatedEndpoint, error) {
		e, secret, err := s.Webhooks.CreateEndpoint(ctx, p.ID, req.URL, req.Events, req.Description, then...)
		return webhook.CreatedEndpoint{Endpoint: e, Secret: secret}, err
	})
}

func (s *Server) listWebhookEndpoints(c *gin.Context) {
	limit, cursor, err := pageParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p, _ := partnerOf(c)
	eps, more, err := s.Webhooks.Endpoints(c.Request.Context(), p.ID, cursor, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]webhookEndpointResponse, len(eps))
	for i, e := range eps {
		out[i] = renderEndpoint(e, "")
	}
	s.respond(c, http.StatusOK, newList(out, more, func(e webhookEndpointResponse) string { return e.ID }))
}

func (s *Server) getWebhookEndpoint(c *gin.Context) {
	p, _ := partnerOf(c)
	e, err := s.Webhooks.Endpoint(c.Request.Context(), p.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderEndpoint(e, ""))
}

func (s *Server) deleteWebhookEndpoint(c *gin.Context) {
	p, _ := partnerOf(c)
	e, err := s.Webhooks.DeleteEndpoint(c.Request.Context(), p.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderEndpoint(e, ""))
}
