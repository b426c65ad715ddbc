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

// audited returns ctx whose domain transaction also writes the audit record
// of this admin action, so the change and its record commit together.
// describe names the target and summarises the result: ids, statuses and
// changed field names only, never personal data or secrets (the log is kept
// for ever and every viewer reads it).
func (s *Server) audited(ctx context.Context, c *gin.Context, action, reason string, describe func(result any) (string, audit.Summary)) context.Context {
	st, _ := staffOf(c)
	return db.WithHook(ctx, func(tx *db.Tx, result any) error {
		target, after := describe(result)
		_, err := audit.Record(tx, audit.Entry{
			ActorID: st.ID, ActorRole: st.Role.String(), Action: action, Target: target,
			Reason: reason, RequestID: requestIDOf(c), After: audit.State(after), CreatedAt: s.Now(),
		})
		return err
	})
}

// txResponseOnce is txResponse for a response that shows a secret once (a
// partner key, a staff token). The stored response, which a replay returns
// for 24 h, is render(result, true): the secret replaced by null and marked
// redacted. This request answers with the object the handler passes to
// respond, secret included.
func (s *Server) txResponseOnce(ctx context.Context, c *gin.Context, status int, render func(result any, redacted bool) any) context.Context {
	v, ok := c.Get(ctxIdem)
	if !ok {
		return ctx
	}
	p := v.(*pending)
	return db.WithHook(ctx, func(tx *db.Tx, result any) error {
		body, err := jsonBody(render(result, true))
		if err != nil {
			return err
		}
		if err := s.idem.SaveTx(tx, s.record(p, status, body)); err != nil {
			return err
		}
		// Stored; respond renders the full object for this one answer.
		p.saved, p.body = true, nil
		return nil
	})
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

func describePartner(changed ...string) func(any) (string, audit.Summary) {
	return func(r any) (string, audit.Summary) {
		p := r.(auth.Partner)
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
	ctx := s.txResponseOnce(c.Request.Context(), c, http.StatusCreated, func(r any, redacted bool) any {
		return renderPartner(r.(auth.Partner), key, redacted)
	})
	ctx = s.audited(ctx, c, "partner.create", req.Reason, describePartner("name", "status", "secret_key"))
	p, key, err := s.Auth.CreatePartner(ctx, ids.New(ids.Partner), req.Name, key)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusCreated, renderPartner(p, key, false))
}

func (s *Server) rotatePartnerKey(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	key := auth.NewSecret("sk_")
	ctx := s.txResponseOnce(c.Request.Context(), c, http.StatusOK, func(r any, redacted bool) any {
		return renderPartner(r.(auth.Partner), key, redacted)
	})
	ctx = s.audited(ctx, c, "partner.rotate_key", req.Reason, describePartner("secret_key"))
	p, key, err := s.Auth.RotatePartnerKey(ctx, c.Param("id"), ids.New(ids.Key), key)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderPartner(p, key, false))
}

func (s *Server) disablePartner(c *gin.Context) {
	s.setPartnerStatus(c, "partner.disable", s.Auth.DisablePartner)
}

// enablePartner lets a disabled partner's unrevoked keys work again.
func (s *Server) enablePartner(c *gin.Context) {
	s.setPartnerStatus(c, "partner.enable", s.Auth.EnablePartner)
}

func (s *Server) setPartnerStatus(c *gin.Context, action string, set func(context.Context, string) (auth.Partner, error)) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	ctx := s.txResponse(c.Request.Context(), c, http.StatusOK, func(r any) any { return renderPartner(r.(auth.Partner), "", false) })
	ctx = s.audited(ctx, c, action, req.Reason, describePartner("status"))
	p, err := set(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderPartner(p, "", false))
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

func describeStaff(changed ...string) func(any) (string, audit.Summary) {
	return func(r any) (string, audit.Summary) {
		st := r.(auth.Staff)
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
		ctx := s.txResponse(c.Request.Context(), c, http.StatusAccepted, func(r any) any { return renderStaff(r.(auth.Staff), "", false) })
		ctx = s.audited(ctx, c, "staff.propose", req.Reason, describeStaff("name", "role", "status"))
		st, err := s.Auth.ProposeStaff(ctx, ids.New(ids.Staff), req.Name, role, me)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.respond(c, http.StatusAccepted, renderStaff(st, "", false))
		return
	}
	token := auth.NewSecret("st_")
	ctx := s.txResponseOnce(c.Request.Context(), c, http.StatusCreated, func(r any, redacted bool) any {
		return renderStaff(r.(auth.Staff), token, redacted)
	})
	ctx = s.audited(ctx, c, "staff.create", req.Reason, describeStaff("name", "role", "status", "token"))
	st, token, err := s.Auth.CreateStaff(ctx, ids.New(ids.Staff), req.Name, role, token, me.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusCreated, renderStaff(st, token, false))
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
	ctx := s.txResponseOnce(c.Request.Context(), c, http.StatusOK, func(r any, redacted bool) any {
		return renderStaff(r.(auth.Staff), token, redacted)
	})
	ctx = s.audited(ctx, c, "staff.approve", req.Reason, describeStaff("status", "token"))
	st, token, err := s.Auth.ApproveStaff(ctx, c.Param("id"), me, token)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderStaff(st, token, false))
}

// disableStaff disables a member (or withdraws a pending proposal); the
// token stops working at once.
func (s *Server) disableStaff(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	ctx := s.txResponse(c.Request.Context(), c, http.StatusOK, func(r any) any { return renderStaff(r.(auth.Staff), "", false) })
	ctx = s.audited(ctx, c, "staff.disable", req.Reason, describeStaff("status"))
	st, err := s.Auth.DisableStaff(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderStaff(st, "", false))
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
	ctx := s.txResponseOnce(c.Request.Context(), c, http.StatusOK, func(r any, redacted bool) any {
		return renderStaff(r.(auth.Staff), token, redacted)
	})
	ctx = s.audited(ctx, c, "staff.rotate_token", req.Reason, describeStaff("token"))
	st, token, err := s.Auth.RotateStaffToken(ctx, c.Param("id"), me.ID, token)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, renderStaff(st, token, false))
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
