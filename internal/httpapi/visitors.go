package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/kyc"
	"github.com/inbound-gateway/inbound/prepaid"
)

type visitorKYC struct {
	Status  string   `json:"status"`
	Tier    string   `json:"tier"`
	Reasons []string `json:"reasons"`
}

type visitorName struct {
	Surname    string `json:"surname"`
	GivenNames string `json:"given_names"`
}

type visitorDocument struct {
	Type         string `json:"type"`
	IssuingState string `json:"issuing_state"`
	NumberMasked string `json:"number_masked"`
	ExpiresOn    string `json:"expires_on"`
}

type visitorEntry struct {
	VisaType         string `json:"visa_type"`
	EntryDate        string `json:"entry_date"`
	PlannedDeparture string `json:"planned_departure"`
}

type accountSummary struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Status    string    `json:"status"`
	Profile   string    `json:"profile"`
	ExpiresAt time.Time `json:"expires_at"`
}

type visitorResponse struct {
	ID          string          `json:"id"`
	Object      string          `json:"object"`
	Partner     string          `json:"partner,omitempty"`
	KYC         visitorKYC      `json:"kyc"`
	Name        visitorName     `json:"name"`
	Nationality string          `json:"nationality"`
	Sex         string          `json:"sex"`
	DateOfBirth string          `json:"date_of_birth"`
	Document    visitorDocument `json:"document"`
	Entry       *visitorEntry   `json:"entry"`
	Phone       string          `json:"phone,omitempty"`
	Email       string          `json:"email,omitempty"`
	Account     *accountSummary `json:"account"`
	// DocumentReleasedAt is shown to staff only: when a staff member ended
	// the visitor's claim on its passport.
	DocumentReleasedAt *time.Time `json:"document_released_at,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
}

// forStaff adds to a rendered visitor what only support staff see.
func (r visitorResponse) forStaff(v kyc.Visitor) visitorResponse {
	r.Partner = v.PartnerID
	if !v.DocumentReleasedAt.IsZero() {
		t := v.DocumentReleasedAt
		r.DocumentReleasedAt = &t
	}
	return r
}

func renderVisitor(v kyc.Visitor, acct *prepaid.Account) visitorResponse {
	reasons := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		reasons[i] = string(r)
	}
	out := visitorResponse{
		ID: v.ID, Object: "visitor",
		KYC:         visitorKYC{Status: string(v.Status), Tier: string(v.Tier), Reasons: reasons},
		Name:        visitorName{Surname: v.Surname, GivenNames: v.GivenNames},
		Nationality: v.Nationality, Sex: string(v.Sex), DateOfBirth: v.DateOfBirth.String(),
		Document: visitorDocument{Type: v.Document.Type, IssuingState: v.Document.IssuingState,
			NumberMasked: v.Document.NumberMasked, ExpiresOn: v.Document.ExpiresOn.String()},
		Phone: v.Phone, Email: v.Email, CreatedAt: v.CreatedAt,
	}
	if !v.Entry.IsZero() {
		out.Entry = &visitorEntry{VisaType: v.Entry.VisaType(), EntryDate: v.Entry.EntryDate().String(),
			PlannedDeparture: v.Entry.PlannedDeparture().String()}
	}
	if acct != nil {
		out.Account = &accountSummary{ID: acct.ID, Object: "account", Status: string(acct.Status), Profile: string(acct.Profile), ExpiresAt: acct.ExpiresAt}
	}
	return out
}

// renderVisitorTx renders the visitor of a kyc change inside its
// transaction, with the account opened by the same transaction.
func (s *Server) renderVisitorTx(tx *db.Tx, v kyc.Visitor) (visitorResponse, error) {
	a, err := s.Accounts.ByVisitorTx(tx, v.ID)
	if errors.Is(err, prepaid.ErrNotFound) {
		return renderVisitor(v, nil), nil
	}
	if err != nil {
		return visitorResponse{}, err
	}
	return renderVisitor(v, &a), nil
}

func (s *Server) visitorWithAccount(c *gin.Context, v kyc.Visitor, partnerID string) (visitorResponse, error) {
	a, err := s.Accounts.ByVisitor(c.Request.Context(), partnerID, v.ID)
	if errors.Is(err, prepaid.ErrNotFound) {
		return renderVisitor(v, nil), nil
	}
	if err != nil {
		return visitorResponse{}, err
	}
	return renderVisitor(v, &a), nil
}

func (s *Server) createVisitor(c *gin.Context) {
	var req struct {
		MRZ   []string `json:"mrz" validate:"required,min=2,max=3,dive,max=44"`
		Phone string   `json:"phone" validate:"omitempty,e164"`
		Email string   `json:"email" validate:"omitempty,email,max=254"`
		Entry *struct {
			VisaType         string `json:"visa_type" validate:"required,max=16"`
			EntryDate        string `json:"entry_date" validate:"required"`
			PlannedDeparture string `json:"planned_departure" validate:"required"`
		} `json:"entry"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	app := kyc.Application{MRZ: req.MRZ, Phone: req.Phone, Email: req.Email}
	if req.Entry != nil {
		e, err := kyc.NewEntry(req.Entry.VisaType, req.Entry.EntryDate, req.Entry.PlannedDeparture)
		if err != nil {
			s.fail(c, err)
			return
		}
		app.Entry = e
	}
	p, _ := partnerOf(c)
	a := replyTx(http.StatusCreated, func(tx *db.Tx, ch kyc.Change) (any, error) { return s.renderVisitorTx(tx, ch.Visitor) })
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[kyc.Change]) (kyc.Change, error) {
		v, err := s.KYC.Register(ctx, p.ID, app, then...)
		return kyc.Change{Visitor: v}, err
	})
}

func (s *Server) getVisitor(c *gin.Context) {
	p, _ := partnerOf(c)
	v, err := s.KYC.Get(c.Request.Context(), p.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	out, err := s.visitorWithAccount(c, v, p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, out)
}

// adminGetVisitor shows any partner's visitor; the document number stays
// masked for staff too.
func (s *Server) adminGetVisitor(c *gin.Context) {
	v, err := s.KYC.GetAny(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	out, err := s.visitorWithAccount(c, v, "")
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respond(c, http.StatusOK, out.forStaff(v))
}

// releaseDocument ends a visitor's claim on its passport (agent), so that
// another visitor with the same passport can be approved; audited.
func (s *Server) releaseDocument(c *gin.Context) {
	var req reasonOnly
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	st, _ := staffOf(c)
	a := replyTx(http.StatusOK, func(tx *db.Tx, v kyc.Visitor) (any, error) {
		out, err := s.renderVisitorTx(tx, v)
		if err != nil {
			return nil, err
		}
		return out.forStaff(v), nil
	})
	a = audited(s, c, a, "visitor.release_document", req.Reason, func(v kyc.Visitor) (string, audit.Summary) {
		return v.ID, audit.Summary{Object: "visitor", ID: v.ID, Status: string(v.Status), Changed: []string{"document_released_at"}}
	})
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[kyc.Visitor]) (kyc.Visitor, error) {
		return s.KYC.ReleaseDocument(ctx, c.Param("id"), st.ID, req.Reason, then...)
	})
}

// adminFindVisitors looks a passport up through its keyed hash: an exact
// match only, never a scan of plain text.
func (s *Server) adminFindVisitors(c *gin.Context) {
	number, state := c.Query("passport_number"), c.Query("issuing_state")
	if number == "" {
		s.fail(c, newError("parameter_missing", "passport_number", "passport_number is required."))
		return
	}
	if state == "" {
		s.fail(c, newError("parameter_missing", "issuing_state", "issuing_state is required."))
		return
	}
	vs, err := s.KYC.FindByPassport(c.Request.Context(), state, number)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]visitorResponse, 0, len(vs))
	for _, v := range vs {
		r, err := s.visitorWithAccount(c, v, "")
		if err != nil {
			s.fail(c, err)
			return
		}
		out = append(out, r.forStaff(v))
	}
	s.respond(c, http.StatusOK, newList(out, false, func(v visitorResponse) string { return v.ID }))
}

type reviewResponse struct {
	ID             string     `json:"id"`
	Object         string     `json:"object"`
	Visitor        string     `json:"visitor"`
	Partner        string     `json:"partner"`
	Status         string     `json:"status"`
	Reasons        []string   `json:"reasons"`
	DecidedBy      string     `json:"decided_by,omitempty"`
	DecisionReason string     `json:"decision_reason,omitempty"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	// Screening is the visitor's latest sanctions screening: the list
	// version and, for each candidate, the list entry that matched, the
	// fields that agreed and the score, so the reviewer sees why.
	Screening *kyc.Screening `json:"screening,omitempty"`
}

// withScreening adds the visitor's latest screening to a rendered review.
func (s *Server) withScreening(ctx context.Context, r reviewResponse) (reviewResponse, error) {
	recs, err := s.KYC.Screenings(ctx, r.Visitor)
	if err != nil {
		return r, err
	}
	if len(recs) > 0 {
		sc := recs[len(recs)-1].Screening
		r.Screening = &sc
	}
	return r, nil
}

func renderReview(r kyc.Review) reviewResponse {
	reasons := make([]string, len(r.Reasons))
	for i, x := range r.Reasons {
		reasons[i] = string(x)
	}
	out := reviewResponse{ID: r.ID, Object: "review", Visitor: r.VisitorID, Partner: r.PartnerID, Status: string(r.Status),
		Reasons: reasons, DecidedBy: r.DecidedBy, DecisionReason: r.DecisionReason, CreatedAt: r.CreatedAt}
	if !r.DecidedAt.IsZero() {
		t := r.DecidedAt
		out.DecidedAt = &t
	}
	return out
}

func (s *Server) listReviews(c *gin.Context) {
	limit, cursor, err := pageParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	status := c.DefaultQuery("status", "open")
	switch status {
	case "open", "approved", "rejected":
	case "all":
		status = ""
	default:
		s.fail(c, newError("parameter_invalid", "status", "status must be one of: open, approved, rejected, all."))
		return
	}
	page, err := s.KYC.Reviews(c.Request.Context(), kyc.ReviewQuery{Status: kyc.ReviewStatus(status), Limit: limit, Cursor: cursor})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]reviewResponse, len(page.Reviews))
	for i, r := range page.Reviews {
		if out[i], err = s.withScreening(c.Request.Context(), renderReview(r)); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.respond(c, http.StatusOK, newList(out, page.HasMore, func(r reviewResponse) string { return r.ID }))
}

type decisionResponse struct {
	Review  reviewResponse  `json:"review"`
	Visitor visitorResponse `json:"visitor"`
}

func (s *Server) decideReview(c *gin.Context) {
	var req struct {
		Decision string `json:"decision" validate:"required,oneof=approve reject"`
		Reason   string `json:"reason" validate:"required,max_reason"`
	}
	if err := s.decodeJSON(bodyOf(c), &req); err != nil {
		s.fail(c, err)
		return
	}
	st, _ := staffOf(c)
	reviewID := c.Param("id")
	a := replyTx(http.StatusOK, func(tx *db.Tx, ch kyc.Change) (any, error) {
		vr, err := s.renderVisitorTx(tx, ch.Visitor)
		if err != nil {
			return nil, err
		}
		rv, err := s.KYC.Review(c.Request.Context(), reviewID)
		if err != nil {
			return nil, err
		}
		// The review row is updated in this transaction: show the
		// decision as made.
		rv.Status = kyc.ReviewApproved
		if req.Decision == "reject" {
			rv.Status = kyc.ReviewRejected
		}
		rv.DecidedBy, rv.DecisionReason, rv.DecidedAt = st.ID, req.Reason, ch.Visitor.UpdatedAt
		vr.Partner = ch.Visitor.PartnerID
		return decisionResponse{Review: renderReview(rv), Visitor: vr}, nil
	})
	a = audited(s, c, a, "review."+req.Decision, req.Reason, func(ch kyc.Change) (string, audit.Summary) {
		return reviewID, audit.Summary{Object: "review", ID: reviewID, Status: req.Decision + "d",
			Changed: []string{"status", "decided_by", "decision_reason"}, VisitorID: ch.Visitor.ID}
	})
	mutate(s, c, a, func(ctx context.Context, then ...db.Then[kyc.Change]) (kyc.Change, error) {
		_, v, err := s.KYC.Decide(ctx, reviewID, kyc.Decision{Verdict: kyc.Verdict(req.Decision), Reason: req.Reason, StaffID: st.ID}, then...)
		return kyc.Change{Visitor: v}, err
	})
}
