package httpapi

import (
	"context"
	"encoding/json"
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
	Reason string `json:"reason" validate:"required,max_reason"`
}

// replyOnce is reply for a response that shows a secret once (a partner
// key, a staff token): this request answers render(result, false), secret
// included; the stored response, which a replay returns for 24 h, is
// render(result, true), the secret replaced by null and marked redacted.
func replyOnce[T any](status int, render func(result T, redacted bool) any) answer[T] {
	a := reply(status, func(r T) any { return render(r, false) })
	a.stored = func(r T) any { return render(r, true) }
	return a
}

// shownOnce is a secret in a response: its value the first time, null with
// a "<field>_redacted": true marker on an idempotent replay.
type shownOnce struct {
	value    string
	redacted bool
}

// IsZero leaves the field out of responses that carry no secret.
func (s shownOnce) IsZero() bool { return s.value == "" && !s.redacted }

// MarshalJSON writes the secret, or null once redacted.
func (s shownOnce) MarshalJSON() ([]byte, error) {
	if s.redacted {
		return []byte("null"), nil
	}
	return json.Marshal(s.value)
}

func secretOf(value string, redacted bool) shownOnce {
	if redacted {
		return shownOnce{redacted: value != ""}
	}
	return shownOnce{value: value}
}

type partnerResponse struct {
	ID                string    `json:"id"`
	Object            string    `json:"object"`
	Name              string    `json:"name"`
	Status            string    `json:"status"`
	SecretKey         shownOnce `json:"secret_key,omitzero"`
	SecretKeyRedacted bool      `json:"secret_key_redacted,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
}

func renderPartner(p auth.Partner, key string, redacted bool) partnerResponse {
	sk := secretOf(key, redacted)
	return partnerResponse{ID: p.ID, Object: "partner", Name: p.Name, Status: p.Status, SecretKey: sk,
		SecretKeyRedacted: sk.redacted, CreatedAt: p.CreatedAt}
}

func describePartner(changed ...string) func(auth.Partner) (string, audit.Summary) {
	return func(p auth.Partner) (string, audit.Summary) {
		return p.ID, audit.Summary{Object: "partner", ID: p.ID, Status: p.Status, Changed: changed}
	}
}

func (s *Server) createPartner(c *gin.Context) {
	var req struct {
		Name   string `json:"name" validate:"required,max_name"`
		Reason string `json:"reason" validate:"required,max_reason"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	key := auth.NewSecret("sk_")
	a := replyOnce(http.StatusCreated, func(p auth.Partner, redacted bool) any { return renderPartner(p, key, redacted) })
	a = audited(s, c, a, "partner.create", req.Reason, describePartner("name", "status", "secret_key"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[auth.Partner]) (auth.Partner, error) {
		p, _, err := s.Auth.CreatePartner(ctx, ids.New(ids.Partner), req.Name, key, then...)
		return p, err
	})
}

func (s *Server) rotatePartnerKey(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	key := auth.NewSecret("sk_")
	a := replyOnce(http.StatusOK, func(p auth.Partner, redacted bool) any { return renderPartner(p, key, redacted) })
	a = audited(s, c, a, "partner.rotate_key", req.Reason, describePartner("secret_key"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[auth.Partner]) (auth.Partner, error) {
		p, _, err := s.Auth.RotatePartnerKey(ctx, c.Param("id"), ids.New(ids.Key), key, then...)
		return p, err
	})
}

func (s *Server) disablePartner(c *gin.Context) {
	s.setPartnerStatus(c, "partner.disable", s.Auth.DisablePartner)
}

// enablePartner lets a disabled partner's unrevoked keys work again.
func (s *Server) enablePartner(c *gin.Context) {
	s.setPartnerStatus(c, "partner.enable", s.Auth.EnablePartner)
}

func (s *Server) setPartnerStatus(c *gin.Context, action string, set func(context.Context, string, ...db.Then[auth.Partner]) (auth.Partner, error)) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	a := reply(http.StatusOK, func(p auth.Partner) any { return renderPartner(p, "", false) })
	a = audited(s, c, a, action, req.Reason, describePartner("status"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[auth.Partner]) (auth.Partner, error) {
		return set(ctx, c.Param("id"), then...)
	})
}

type staffResponse struct {
	ID            string     `json:"id"`
	Object        string     `json:"object"`
	Name          string     `json:"name"`
	Role          string     `json:"role"`
	Status        string     `json:"status"`
	CreatedBy     string     `json:"created_by"`
	ApprovedBy    string     `json:"approved_by,omitempty"`
	Token         shownOnce  `json:"token,omitzero"`
	TokenRedacted bool       `json:"token_redacted,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	ActivatedAt   *time.Time `json:"activated_at,omitempty"`
}

func renderStaff(st auth.Staff, token string, redacted bool) staffResponse {
	tok := secretOf(token, redacted)
	return staffResponse{ID: st.ID, Object: "staff", Name: st.Name, Role: st.Role.String(), Status: st.Status,
		CreatedBy: st.CreatedBy, ApprovedBy: st.ApprovedBy, Token: tok, TokenRedacted: tok.redacted,
		CreatedAt: st.CreatedAt, ActivatedAt: st.ActivatedAt}
}

func describeStaff(changed ...string) func(auth.Staff) (string, audit.Summary) {
	return func(st auth.Staff) (string, audit.Summary) {
		return st.ID, audit.Summary{Object: "staff", ID: st.ID, Status: st.Status, Role: st.Role.String(),
			Changed: changed, CreatedBy: st.CreatedBy, ApprovedBy: st.ApprovedBy}
	}
}

// createStaff creates a viewer or agent at once (201, token shown once).
// A supervisor is a two-person action: this proposes one (202, status
// pending, no token) and another supervisor approves it (approveStaff).
func (s *Server) createStaff(c *gin.Context) {
	var req struct {
		Name   string `json:"name" validate:"required,max_name"`
		Role   string `json:"role" validate:"required,oneof=viewer agent supervisor"`
		Reason string `json:"reason" validate:"required,max_reason"`
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
	me, _ := staffOf(c)
	if role == auth.Supervisor {
		a := reply(http.StatusAccepted, func(st auth.Staff) any { return renderStaff(st, "", false) })
		a = audited(s, c, a, "staff.propose", req.Reason, describeStaff("name", "role", "status"))
		mutate(s, c, a, func(ctx context.Context, then ...db.Then[auth.Staff]) (auth.Staff, error) {
			return s.Auth.ProposeStaff(ctx, ids.New(ids.Staff), req.Name, role, me, then...)
		})
		return
	}
	token := auth.NewSecret("st_")
	a := replyOnce(http.StatusCreated, func(st auth.Staff, redacted bool) any { return renderStaff(st, token, redacted) })
	a = audited(s, c, a, "staff.create", req.Reason, describeStaff("name", "role", "status", "token"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[auth.Staff]) (auth.Staff, error) {
		st, _, err := s.Auth.CreateStaff(ctx, ids.New(ids.Staff), req.Name, role, token, me.ID, then...)
		return st, err
	})
}

// approveStaff activates a proposed supervisor: the caller must be another
// supervisor, independent of the proposer and active before the proposal.
// The token is shown once, to the approver, who hands it over.
func (s *Server) approveStaff(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	me, _ := staffOf(c)
	token := auth.NewSecret("st_")
	a := replyOnce(http.StatusOK, func(st auth.Staff, redacted bool) any { return renderStaff(st, token, redacted) })
	a = audited(s, c, a, "staff.approve", req.Reason, describeStaff("status", "token"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[auth.Staff]) (auth.Staff, error) {
		st, _, err := s.Auth.ApproveStaff(ctx, c.Param("id"), me, token, then...)
		return st, err
	})
}

// disableStaff disables a member (or withdraws a pending proposal); the
// token stops working at once.
func (s *Server) disableStaff(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	a := reply(http.StatusOK, func(st auth.Staff) any { return renderStaff(st, "", false) })
	a = audited(s, c, a, "staff.disable", req.Reason, describeStaff("status"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[auth.Staff]) (auth.Staff, error) {
		return s.Auth.DisableStaff(ctx, c.Param("id"), then...)
	})
}

// rotateStaffToken issues a new token (shown once) and voids the old one.
// The caller has now seen the member's token, which the four-eyes rule
// records.
func (s *Server) rotateStaffToken(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	me, _ := staffOf(c)
	token := auth.NewSecret("st_")
	a := replyOnce(http.StatusOK, func(st auth.Staff, redacted bool) any { return renderStaff(st, token, redacted) })
	a = audited(s, c, a, "staff.rotate_token", req.Reason, describeStaff("token"))
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[auth.Staff]) (auth.Staff, error) {
		st, _, err := s.Auth.RotateStaffToken(ctx, c.Param("id"), me.ID, token, then...)
		return st, err
	})
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
