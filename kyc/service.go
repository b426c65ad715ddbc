package kyc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/vault"
)

// Vault labels. A sealed value only opens under its label, so a passport
// ciphertext copied into a card column does not decrypt.
const (
	passportLabel = "passport"
)

// Store keeps visitors, their history, screenings and reviews. The gorm
// implementation is in store.go; every write method is one transaction.
type Store interface {
	// Create stores a new visitor with its first history entry, its
	// screening and, when the visitor ends in review, its open review, and
	// returns the visitor as stored. Only a visitor that would be approved
	// is checked against the active holders of its document index: one of
	// the same partner is ErrDuplicateDocument; one of another partner
	// turns the visitor into a review with ReasonDuplicateDocument, which
	// tells the applying partner nothing about the holder.
	Create(ctx context.Context, r Registration, then []db.Then[Change]) (Visitor, error)
	// Get returns a visitor of any partner, or ErrNotFound.
	Get(ctx context.Context, id string) (Visitor, error)
	// FindByDocumentIndex returns every visitor, active or not, holding the
	// document with that index, oldest first.
	FindByDocumentIndex(ctx context.Context, index string) ([]Visitor, error)
	// History returns a visitor's status history, oldest first.
	History(ctx context.Context, visitorID string) ([]HistoryEntry, error)
	// Screenings returns a visitor's screenings, oldest first.
	Screenings(ctx context.Context, visitorID string) ([]ScreeningRecord, error)
	// Reviews returns up to limit reviews with the status (all when empty)
	// and an id after the cursor (from the start when empty), by id.
	Reviews(ctx context.Context, status ReviewStatus, after string, limit int) ([]Review, error)
	// Review returns one review, or ErrNotFound.
	Review(ctx context.Context, id string) (Review, error)
	// ActiveVisitors returns up to limit visitors that are approved or in
	// review, with an id after the cursor, by id.
	ActiveVisitors(ctx context.Context, after string, limit int) ([]Visitor, error)
	// Rescreen stores a new screening of a visitor and, in the same
	// transaction, lets flag change the locked visitor: when flag reports
	// true, the visitor is saved with a history entry, the review (reviewID)
	// is opened, and the Changed and Rescreened hooks run.
	Rescreen(ctx context.Context, rec ScreeningRecord, flag func(Visitor) (Visitor, Change, string, bool)) error
	// Erase pseudonymises, in one transaction, the visitors of visitorIDs
	// and the rejected visitors last changed before rejectedBefore, unless
	// already erased: name, birth date, sealed passport number, its index,
	// phone and email are cleared and erased_at set. It returns how many it
	// erased.
	Erase(ctx context.Context, visitorIDs []string, rejectedBefore, now time.Time) (int, error)
	// Decide locks the review and its visitor, lets decide change them, and
	// saves both with a history entry, in one transaction. decide may be
	// called more than once if the transaction is retried.
	// An approval is refused with ErrDuplicateDocument while another
	// approved visitor holds the document.
	Decide(ctx context.Context, reviewID string, decide func(Review, Visitor) (Review, Visitor, Change, error), then []db.Then[Change]) (Review, Visitor, error)
	// ReleaseDocument ends the visitor's claim on its document at at, with
	// a history entry by staffID noting reason, and runs the context's
	// db hooks with the visitor (the audit record). A rejected or released
	// visitor is ErrDocumentNotHeld.
	ReleaseDocument(ctx context.Context, visitorID, staffID, reason string, at time.Time, then []db.Then[Visitor]) (Visitor, error)
}

// Registration is what Store.Create writes: the visitor and what must never
// appear in Visitor itself.
type Registration struct {
	Visitor      Visitor
	NumberSealed string // vault.Seal("passport", number)
	NumberIndex  string // DocumentIndex of the document
	Screening    ScreeningRecord
	ReviewID     string // used when the visitor ends in review
}

// Options tune a Service. The zero value is usable.
type Options struct {
	Policy Policy
	// Now is the clock; nil is time.Now. Tests set it to decide expiry and
	// age against a fixed day.
	Now func() time.Time
}

// Service is the KYC use cases the HTTP layer calls.
type Service struct {
	store    Store
	screener Screener
	vault    *vault.Vault
	policy   Policy
	now      func() time.Time
}

// NewService builds a Service. The screener is usually a *SanctionsList
// (LoadSanctions); the vault seals passport numbers and keys their index.
func NewService(store Store, screener Screener, v *vault.Vault, o Options) *Service {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, screener: screener, vault: v, policy: o.Policy, now: now}
}

// Application is a partner's request to onboard a visitor.
type Application struct {
	MRZ   []string // the raw lines; never stored, never logged
	Phone string
	Email string
	Entry Entry // zero when not given; build it with NewEntry
}

// Register onboards a visitor: it parses the MRZ, screens the name, applies
// the rules and stores the visitor with its outcome. A valid MRZ always
// gives a visitor, approved, in review or rejected; errors are a
// *FieldError (ErrMRZInvalid, ErrMRZCheckDigit), ErrDuplicateDocument when
// the application would be approved but another active visitor of the same
// partner holds the document, or a storage failure. Only an application
// that would be approved is checked for duplicates: checking a rejected one
// (an expired, fabricated MRZ) would let a partner probe whether a passport
// is registered anywhere. A duplicate held under another partner sends the
// visitor to review (ReasonDuplicateDocument).
func (s *Service) Register(ctx context.Context, partnerID string, a Application, then ...db.Then[Change]) (Visitor, error) {
	now := s.now().UTC()
	m, err := ParseMRZ(a.MRZ, now)
	if err != nil {
		return Visitor{}, err
	}
	screening := s.screener.Screen(m.Surname, m.GivenNames, m.DateOfBirth)
	as := Assess(m, screening, now, s.policy)
	v := Visitor{
		ID:          ids.New(ids.Visitor),
		PartnerID:   partnerID,
		Status:      as.Status,
		Tier:        as.Tier,
		Reasons:     as.Reasons,
		Surname:     m.Surname,
		GivenNames:  m.GivenNames,
		Nationality: m.Nationality,
		Sex:         m.Sex,
		DateOfBirth: m.DateOfBirth,
		Document: Document{
			Type:         m.DocumentCode,
			Format:       m.Format,
			IssuingState: m.IssuingState,
			NumberMasked: MaskNumber(m.DocumentNumber),
			ExpiresOn:    m.ExpiryDate,
		},
		Phone:     strings.TrimSpace(a.Phone),
		Email:     strings.TrimSpace(a.Email),
		Entry:     a.Entry,
		CreatedAt: now,
		UpdatedAt: now,
	}
	reg := Registration{
		Visitor:      v,
		NumberSealed: s.vault.Seal(passportLabel, []byte(m.DocumentNumber)),
		NumberIndex:  s.DocumentIndex(m.IssuingState, m.DocumentNumber),
		Screening: ScreeningRecord{
			ID: ids.New("scr"), VisitorID: v.ID, Screening: screening, CreatedAt: now,
		},
	}
	if v.Status != StatusRejected {
		reg.ReviewID = ids.New(ids.Review)
	}
	v, err = s.store.Create(ctx, reg, then)
	if err != nil {
		return Visitor{}, fmt.Errorf("kyc: register: %w", err)
	}
	return v, nil
}

// ReleaseDocument ends, for support staff, the visitor's claim on its
// passport, so that another visitor with the same passport can be approved
// (someone registered a stranger's passport number first, or the holder
// was re-onboarded by another partner). The visitor keeps its status; the
// history records who released it and why. A rejected or already released
// visitor is ErrDocumentNotHeld; a missing reason or staff id is
// ErrInvalidRelease.
func (s *Service) ReleaseDocument(ctx context.Context, visitorID, staffID, reason string, then ...db.Then[Visitor]) (Visitor, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || staffID == "" {
		return Visitor{}, ErrInvalidRelease
	}
	return s.store.ReleaseDocument(ctx, visitorID, staffID, reason, s.now().UTC(), then)
}

// DocumentIndex is the keyed hash identifying a document across partners:
// issuing state and number, normalised so that "DEU" and "D", or a number
// typed with spaces or in lower case, give the same index.
func (s *Service) DocumentIndex(issuingState, number string) string {
	return DocumentIndex(s.vault, issuingState, number)
}

// DocumentIndex is Service.DocumentIndex under vault v (internal/keys uses
// it to find which key the stored indexes were made with).
func DocumentIndex(v *vault.Vault, issuingState, number string) string {
	return v.Index(passportLabel, canonicalState(issuingState), canonicalNumber(number))
}

func canonicalNumber(n string) string {
	n = strings.ToUpper(n)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '<' || r == '-' {
			return -1
		}
		return r
	}, n)
}

// Get returns the partner's visitor. Another partner's visitor is
// ErrNotFound, exactly like a visitor that does not exist.
func (s *Service) Get(ctx context.Context, partnerID, id string) (Visitor, error) {
	v, err := s.store.Get(ctx, id)
	if err != nil {
		return Visitor{}, err
	}
	if v.PartnerID != partnerID {
		return Visitor{}, fmt.Errorf("kyc: visitor %s: %w", id, ErrNotFound)
	}
	return v, nil
}

// GetAny returns a visitor of any partner, for support staff.
func (s *Service) GetAny(ctx context.Context, id string) (Visitor, error) {
	return s.store.Get(ctx, id)
}

// FindByPassport finds, for support staff, every visitor (active or not,
// of any partner) holding the document, through its keyed index: no
// plain-text number is searched or kept.
func (s *Service) FindByPassport(ctx context.Context, issuingState, number string) ([]Visitor, error) {
	return s.store.FindByDocumentIndex(ctx, s.DocumentIndex(issuingState, number))
}

// History returns the visitor's status history, oldest first.
func (s *Service) History(ctx context.Context, visitorID string) ([]HistoryEntry, error) {
	return s.store.History(ctx, visitorID)
}

// Screenings returns the visitor's sanctions screenings, oldest first.
func (s *Service) Screenings(ctx context.Context, visitorID string) ([]ScreeningRecord, error) {
	return s.store.Screenings(ctx, visitorID)
}

// ReviewQuery selects reviews for the admin list.
type ReviewQuery struct {
	Status ReviewStatus // empty: any
	Limit  int          // 1-100; 0 means 20
	Cursor string       // the NextCursor of the previous page
}

// ReviewPage is one page of reviews, by id (so by creation time).
type ReviewPage struct {
	Reviews    []Review
	HasMore    bool
	NextCursor string
}

// Reviews lists reviews, keyset-paginated by id.
func (s *Service) Reviews(ctx context.Context, q ReviewQuery) (ReviewPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	rs, err := s.store.Reviews(ctx, q.Status, q.Cursor, limit+1)
	if err != nil {
		return ReviewPage{}, err
	}
	p := ReviewPage{Reviews: rs}
	if len(rs) > limit {
		p.Reviews, p.HasMore = rs[:limit], true
		p.NextCursor = rs[limit-1].ID
	}
	return p, nil
}

// Review returns one review, or ErrNotFound.
func (s *Service) Review(ctx context.Context, id string) (Review, error) {
	return s.store.Review(ctx, id)
}

// Decide records a staff decision on an open review. Approving approves the
// visitor (and runs the store's approval hook, which opens the account, in
// the same transaction); rejecting rejects it with ReasonManualRejection
// added, which frees its document for a later application. A decided
// review is ErrReviewClosed; a decision without verdict, reason or staff id
// is ErrInvalidDecision.
func (s *Service) Decide(ctx context.Context, reviewID string, d Decision, then ...db.Then[Change]) (Review, Visitor, error) {
	d.Reason = strings.TrimSpace(d.Reason)
	if (d.Verdict != Approve && d.Verdict != Reject) || d.Reason == "" || d.StaffID == "" {
		return Review{}, Visitor{}, ErrInvalidDecision
	}
	return s.store.Decide(ctx, reviewID, func(r Review, v Visitor) (Review, Visitor, Change, error) {
		if r.Status != ReviewOpen || v.Status != StatusReview {
			return r, v, Change{}, fmt.Errorf("kyc: review %s: %w", r.ID, ErrReviewClosed)
		}
		now := s.now().UTC()
		from := v.Status
		r.DecidedBy, r.DecisionReason, r.DecidedAt = d.StaffID, d.Reason, now
		if d.Verdict == Approve {
			r.Status = ReviewApproved
			// The reasons were for the reviewer; an approved visitor
			// carries none. The history keeps them.
			v.Status, v.Reasons = StatusApproved, nil
		} else {
			r.Status = ReviewRejected
			v.Status = StatusRejected
			v.Reasons = append(append([]Reason{}, v.Reasons...), ReasonManualRejection)
		}
		v.UpdatedAt = now
		return r, v, Change{Visitor: v, From: from, Actor: d.StaffID, Reason: d.Reason, ReviewID: r.ID}, nil
	}, then)
}
