package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
)

// reasonOnly is the body of admin actions that take nothing but a reason.
type reasonOnly struct {
	Reason string `json:"reason" validate:"required,max=1000"`
}

// audited returns ctx whose domain transaction also writes the audit record
// of this admin action, so the change and its record commit together.
func (s *Server) audited(ctx context.Context, c *gin.Context, action, reason string, target func(result any) string) context.Context {
	st, _ := staffOf(c)
	return db.WithHook(ctx, func(tx *db.Tx, result any) error {
		_, err := audit.Record(tx, audit.Entry{
			ActorID: st.ID, ActorRole: st.Role.String(), Action: action, Target: target(result),
			Reason: reason, RequestID: requestIDOf(c), After: audit.Snapshot(result), CreatedAt: s.Now(),
		})
		return err
	})
}

type partnerResponse struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	SecretKey string    `json:"secret_key,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func renderPartner(p auth.Partner, key string) partnerResponse {
	return partnerResponse{ID: p.ID, Object: "partner", Name: p.Name, Status: p.Status, SecretKey: key, CreatedAt: p.CreatedAt}
}

func partnerTarget(result any) string { return result.(auth.Partner).ID }

func (s *Server) createPartner(c *gin.Context) {
	var req struct {
		Name   string `json:"name" validate:"required,max=200"`
		Reason string `json:"reason" validate:"required,max=1000"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	key := auth.NewSecret("sk_")
	ctx := s.txResponse(c.Request.Context(), c, http.StatusCreated, func(r any) any { return renderPartner(r.(auth.Partner), key) })
	ctx = s.audited(ctx, c, "partner.create", req.Reason, partnerTarget)
	p, key, err := s.Auth.CreatePartner(ctx, ids.New(ids.Partner), req.Name, key)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusCreated, renderPartner(p, key))
}

func (s *Server) rotatePartnerKey(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	key := auth.NewSecret("sk_")
	ctx := s.txResponse(c.Request.Context(), c, http.StatusOK, func(r any) any { return renderPartner(r.(auth.Partner), key) })
	ctx = s.audited(ctx, c, "partner.rotate_key", req.Reason, partnerTarget)
	p, key, err := s.Auth.RotatePartnerKey(ctx, c.Param("id"), ids.New(ids.Key), key)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderPartner(p, key))
}

func (s *Server) disablePartner(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	ctx := s.txResponse(c.Request.Context(), c, http.StatusOK, func(r any) any { return renderPartner(r.(auth.Partner), "") })
	ctx = s.audited(ctx, c, "partner.disable", req.Reason, partnerTarget)
	p, err := s.Auth.DisablePartner(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderPartner(p, ""))
}

type staffResponse struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Token     string    `json:"token,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func renderStaff(st auth.Staff, token string) staffResponse {
	return staffResponse{ID: st.ID, Object: "staff", Name: st.Name, Role: st.Role.String(), Token: token, CreatedAt: st.CreatedAt}
}

func (s *Server) createStaff(c *gin.Context) {
	var req struct {
		Name   string `json:"name" validate:"required,max=200"`
		Role   string `json:"role" validate:"required,oneof=viewer agent supervisor"`
		Reason string `json:"reason" validate:"required,max=1000"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		s.fail(c, newError("parameter_invalid", "role", "role must be one of: viewer, agent, supervisor."))
		return
	}
	token := auth.NewSecret("st_")
	ctx := s.txResponse(c.Request.Context(), c, http.StatusCreated, func(r any) any { return renderStaff(r.(auth.Staff), token) })
	ctx = s.audited(ctx, c, "staff.create", req.Reason, func(r any) string { return r.(auth.Staff).ID })
	st, token, err := s.Auth.CreateStaff(ctx, ids.New(ids.Staff), req.Name, role, token)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusCreated, renderStaff(st, token))
}

func (s *Server) listAudit(c *gin.Context) {
	limit, cursor, err := pageParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	entries, more, err := audit.List(c.Request.Context(), s.DB, audit.Filter{Actor: c.Query("actor"), Target: c.Query("target"), After: cursor, Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, newList(entries, more, func(e audit.Entry) string { return e.ID }))
}
