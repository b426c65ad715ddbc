package kyc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
)

// Hooks run inside the store's transactions, so what they write commits or
// rolls back with the KYC change itself. Both are optional.
type Hooks struct {
	// Approved runs when a visitor becomes approved, at registration or by
	// a review decision: opening the prepaid account here means there is
	// never an approved visitor without an account, nor the reverse.
	Approved func(ctx context.Context, tx *gorm.DB, v Visitor) error
	// Changed runs on every status change, creation included: the place for
	// the outbox event (visitor.approved, .review, .rejected) and, for a
	// staff decision, the audit record.
	Changed func(ctx context.Context, tx *gorm.DB, c Change) error
	// Rescreened runs when the re-screening job sends an approved visitor
	// to review: freeze the account and write the audit record here.
	Rescreened func(ctx context.Context, tx *gorm.DB, c Change) error
}

// GormStore is the Store on the project's database (PostgreSQL or SQLite).
type GormStore struct {
	db    *db.DB
	hooks Hooks
}

// NewStore returns the gorm Store.
func NewStore(d *db.DB, h Hooks) *GormStore { return &GormStore{db: d, hooks: h} }

var _ Store = (*GormStore)(nil)

type visitorRow struct {
	ID                 string `gorm:"primaryKey"`
	PartnerID          string
	Status             string
	Tier               string
	Reasons            string
	Surname            string
	GivenNames         string
	Nationality        string
	Sex                string
	DateOfBirth        string
	DocumentType       string
	DocumentFormat     string
	IssuingState       string
	NumberSealed       string
	NumberIndex        string
	NumberMasked       string
	ExpiresOn          string
	Phone              string
	Email              string
	VisaType           string
	EntryDate          string
	PlannedDeparture   string
	DocumentReleasedAt *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
	ErasedAt           *time.Time
}

func (visitorRow) TableName() string { return "visitors" }

type historyRow struct {
	ID        int64 `gorm:"primaryKey;autoIncrement"`
	VisitorID string
	Status    string
	Reasons   string
	Actor     string
	Note      string
	CreatedAt time.Time
}

func (historyRow) TableName() string { return "visitor_history" }

type screeningRow struct {
	ID          string `gorm:"primaryKey"`
	VisitorID   string
	ListVersion string
	Outcome     string
	Candidates  string
	CreatedAt   time.Time
}

func (screeningRow) TableName() string { return "screenings" }

type reviewRow struct {
	ID             string `gorm:"primaryKey"`
	VisitorID      string
	PartnerID      string
	Status         string
	Reasons        string
	DecidedBy      string
	DecisionReason string
	DecidedAt      *time.Time
	CreatedAt      time.Time
}

func (reviewRow) TableName() string { return "reviews" }

func joinReasons(rs []Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func splitReasons(s string) []Reason {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]Reason, len(parts))
	for i, p := range parts {
		out[i] = Reason(p)
	}
	return out
}

func toVisitorRow(v Visitor, sealed, index string) visitorRow {
	return visitorRow{
		ID: v.ID, PartnerID: v.PartnerID, Status: string(v.Status), Tier: string(v.Tier),
		Reasons: joinReasons(v.Reasons), Surname: v.Surname, GivenNames: v.GivenNames,
		Nationality: v.Nationality, Sex: string(v.Sex), DateOfBirth: v.DateOfBirth.String(),
		DocumentType: v.Document.Type, DocumentFormat: string(v.Document.Format),
		IssuingState: v.Document.IssuingState, NumberSealed: sealed, NumberIndex: index,
		NumberMasked: v.Document.NumberMasked, ExpiresOn: v.Document.ExpiresOn.String(),
		Phone: v.Phone, Email: v.Email, VisaType: v.Entry.VisaType(),
		EntryDate: v.Entry.EntryDate().String(), PlannedDeparture: v.Entry.PlannedDeparture().String(),
		CreatedAt: v.CreatedAt.UTC(), UpdatedAt: v.UpdatedAt.UTC(),
	}
}

func (r visitorRow) visitor() (Visitor, error) {
	var dob Date
	if err := dob.UnmarshalText([]byte(r.DateOfBirth)); err != nil { // empty once erased
		return Visitor{}, fmt.Errorf("kyc: visitor %s: %w", r.ID, err)
	}
	exp, err := ParseDate(r.ExpiresOn)
	if err != nil {
		return Visitor{}, fmt.Errorf("kyc: visitor %s: %w", r.ID, err)
	}
	var entry Entry
	if r.VisaType != "" {
		if entry, err = NewEntry(r.VisaType, r.EntryDate, r.PlannedDeparture); err != nil {
			return Visitor{}, fmt.Errorf("kyc: visitor %s: %w", r.ID, err)
		}
	}
	var released time.Time
	if r.DocumentReleasedAt != nil {
		released = r.DocumentReleasedAt.UTC()
	}
	return Visitor{
		ID: r.ID, PartnerID: r.PartnerID, Status: Status(r.Status), Tier: Tier(r.Tier),
		Reasons: splitReasons(r.Reasons), Surname: r.Surname, GivenNames: r.GivenNames,
		Nationality: r.Nationality, Sex: Sex(r.Sex), DateOfBirth: dob,
		Document: Document{
			Type: r.DocumentType, Format: Format(r.DocumentFormat), IssuingState: r.IssuingState,
			NumberMasked: r.NumberMasked, ExpiresOn: exp,
		},
		Phone: r.Phone, Email: r.Email, Entry: entry, DocumentReleasedAt: released,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

func (r reviewRow) review() Review {
	rv := Review{
		ID: r.ID, VisitorID: r.VisitorID, PartnerID: r.PartnerID, Status: ReviewStatus(r.Status),
		Reasons: splitReasons(r.Reasons), DecidedBy: r.DecidedBy, DecisionReason: r.DecisionReason,
		CreatedAt: r.CreatedAt.UTC(),
	}
	if r.DecidedAt != nil {
		rv.DecidedAt = r.DecidedAt.UTC()
	}
	return rv
}

func toReviewRow(r Review) reviewRow {
	row := reviewRow{
		ID: r.ID, VisitorID: r.VisitorID, PartnerID: r.PartnerID, Status: string(r.Status),
		Reasons: joinReasons(r.Reasons), DecidedBy: r.DecidedBy, DecisionReason: r.DecisionReason,
		CreatedAt: r.CreatedAt.UTC(),
	}
	if !r.DecidedAt.IsZero() {
		t := r.DecidedAt.UTC()
		row.DecidedAt = &t
	}
	return row
}

func history(v Visitor, actor, note string, at time.Time) historyRow {
	return historyRow{
		VisitorID: v.ID, Status: string(v.Status), Reasons: joinReasons(v.Reasons),
		Actor: actor, Note: note, CreatedAt: at.UTC(),
	}
}

// holdsClaim selects the visitors holding their document's claim.
const holdsClaim = "status <> 'rejected' AND document_released_at IS NULL"

// Create implements Store.
func (s *GormStore) Create(ctx context.Context, r Registration, then []db.Then[Change]) (Visitor, error) {
	cands, err := json.Marshal(r.Screening.Candidates)
	if err != nil {
		return Visitor{}, err
	}
	// An approval that loses a race with a concurrent one for the same
	// document (unique index) is tried once more: the check then sees the
	// winner and answers 409 or review like any later application.
	for attempt := 0; ; attempt++ {
		v, err := s.create(ctx, r, cands, then)
		if err != nil && db.IsUniqueViolation(err) {
			if attempt == 0 && r.Visitor.Status == StatusApproved {
				continue
			}
			return Visitor{}, ErrDuplicateDocument
		}
		return v, err
	}
}

func (s *GormStore) create(ctx context.Context, r Registration, cands []byte, then []db.Then[Change]) (Visitor, error) {
	var out Visitor
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		v := r.Visitor
		// Only an application that would be approved is compared with the
		// holders: rejected and review outcomes are stored as they are, so
		// they tell the partner nothing about other partners' visitors.
		if v.Status == StatusApproved {
			var holders []string
			if err := tx.Model(&visitorRow{}).Where("number_index = ? AND "+holdsClaim, r.NumberIndex).
				Pluck("partner_id", &holders).Error; err != nil {
				return err
			}
			for _, p := range holders {
				if p == v.PartnerID {
					// The partner's own visitor: it may be told.
					return ErrDuplicateDocument
				}
			}
			if len(holders) > 0 {
				// Another partner's visitor: staff decide; the partner
				// sees a review like any other.
				v.Status, v.Reasons = StatusReview, []Reason{ReasonDuplicateDocument}
			}
		}
		row := toVisitorRow(v, r.NumberSealed, r.NumberIndex)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		h := history(v, ActorSystem, "created", v.CreatedAt)
		if err := tx.Create(&h).Error; err != nil {
			return err
		}
		sc := screeningRow{
			ID: r.Screening.ID, VisitorID: v.ID, ListVersion: r.Screening.ListVersion,
			Outcome: string(r.Screening.Outcome), Candidates: string(cands),
			CreatedAt: r.Screening.CreatedAt.UTC(),
		}
		if err := tx.Create(&sc).Error; err != nil {
			return err
		}
		reviewID := ""
		if v.Status == StatusReview {
			if r.ReviewID == "" {
				return errors.New("kyc: create: a visitor in review needs a review id")
			}
			reviewID = r.ReviewID
			rv := toReviewRow(Review{
				ID: reviewID, VisitorID: v.ID, PartnerID: v.PartnerID, Status: ReviewOpen,
				Reasons: v.Reasons, CreatedAt: v.CreatedAt,
			})
			if err := tx.Create(&rv).Error; err != nil {
				return err
			}
		}
		if err := s.runHooks(ctx, tx, Change{Visitor: v, Actor: ActorSystem, ReviewID: reviewID}, then); err != nil {
			return err
		}
		out = v
		return nil
	})
	return out, err
}

// runHooks runs the store's hooks of a change, then the caller's thens.
func (s *GormStore) runHooks(ctx context.Context, tx *gorm.DB, c Change, then []db.Then[Change]) error {
	if c.Visitor.Status == StatusApproved && s.hooks.Approved != nil {
		if err := s.hooks.Approved(ctx, tx, c.Visitor); err != nil {
			return fmt.Errorf("kyc: approved hook: %w", err)
		}
	}
	if s.hooks.Changed != nil {
		if err := s.hooks.Changed(ctx, tx, c); err != nil {
			return fmt.Errorf("kyc: changed hook: %w", err)
		}
	}
	return db.RunThen(tx, c, then...)
}

// Get implements Store.
func (s *GormStore) Get(ctx context.Context, id string) (Visitor, error) {
	var row visitorRow
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Visitor{}, fmt.Errorf("kyc: visitor %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Visitor{}, err
	}
	return row.visitor()
}

// FindByDocumentIndex implements Store.
func (s *GormStore) FindByDocumentIndex(ctx context.Context, index string) ([]Visitor, error) {
	var rows []visitorRow
	if err := s.db.WithContext(ctx).Where("number_index = ?", index).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Visitor, 0, len(rows))
	for _, r := range rows {
		v, err := r.visitor()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// History implements Store.
func (s *GormStore) History(ctx context.Context, visitorID string) ([]HistoryEntry, error) {
	var rows []historyRow
	if err := s.db.WithContext(ctx).Where("visitor_id = ?", visitorID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]HistoryEntry, len(rows))
	for i, r := range rows {
		out[i] = HistoryEntry{
			Status: Status(r.Status), Reasons: splitReasons(r.Reasons),
			Actor: r.Actor, Note: r.Note, At: r.CreatedAt.UTC(),
		}
	}
	return out, nil
}

// Screenings implements Store.
func (s *GormStore) Screenings(ctx context.Context, visitorID string) ([]ScreeningRecord, error) {
	var rows []screeningRow
	if err := s.db.WithContext(ctx).Where("visitor_id = ?", visitorID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]ScreeningRecord, len(rows))
	for i, r := range rows {
		out[i] = ScreeningRecord{
			ID: r.ID, VisitorID: r.VisitorID, CreatedAt: r.CreatedAt.UTC(),
			Screening: Screening{ListVersion: r.ListVersion, Outcome: ScreeningOutcome(r.Outcome)},
		}
		if err := json.Unmarshal([]byte(r.Candidates), &out[i].Candidates); err != nil {
			return nil, fmt.Errorf("kyc: screening %s: %w", r.ID, err)
		}
	}
	return out, nil
}

// Reviews implements Store.
func (s *GormStore) Reviews(ctx context.Context, status ReviewStatus, after string, limit int) ([]Review, error) {
	q := s.db.WithContext(ctx).Model(&reviewRow{})
	if status != "" {
		q = q.Where("status = ?", string(status))
	}
	if after != "" {
		q = q.Where("id > ?", after)
	}
	var rows []reviewRow
	if err := q.Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Review, len(rows))
	for i, r := range rows {
		out[i] = r.review()
	}
	return out, nil
}

// Review implements Store.
func (s *GormStore) Review(ctx context.Context, id string) (Review, error) {
	var row reviewRow
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Review{}, fmt.Errorf("kyc: review %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Review{}, err
	}
	return row.review(), nil
}

// Decide implements Store.
func (s *GormStore) Decide(ctx context.Context, reviewID string, decide func(Review, Visitor) (Review, Visitor, Change, error), then []db.Then[Change]) (Review, Visitor, error) {
	var outR Review
	var outV Visitor
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		var rr reviewRow
		err := s.db.ForUpdate(tx).Where("id = ?", reviewID).Take(&rr).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("kyc: review %s: %w", reviewID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		var vr visitorRow
		if err := s.db.ForUpdate(tx).Where("id = ?", rr.VisitorID).Take(&vr).Error; err != nil {
			return err
		}
		v, err := vr.visitor()
		if err != nil {
			return err
		}
		from := v.Status
		r, v, change, err := decide(rr.review(), v)
		if err != nil {
			return err
		}
		if v.Status == StatusApproved && from != StatusApproved && v.DocumentReleasedAt.IsZero() {
			// One approved holder per document (the unique index is the
			// guarantee; this gives the clear error without aborting).
			var n int64
			if err := tx.Model(&visitorRow{}).Where("number_index = ? AND id <> ? AND status = ? AND document_released_at IS NULL",
				vr.NumberIndex, v.ID, string(StatusApproved)).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("kyc: review %s: %w", r.ID, ErrDuplicateDocument)
			}
		}
		nr := toReviewRow(r)
		if err := tx.Model(&reviewRow{}).Where("id = ?", r.ID).Updates(map[string]any{
			"status": nr.Status, "decided_by": nr.DecidedBy,
			"decision_reason": nr.DecisionReason, "decided_at": nr.DecidedAt,
		}).Error; err != nil {
			return err
		}
		if err := tx.Model(&visitorRow{}).Where("id = ?", v.ID).Updates(map[string]any{
			"status": string(v.Status), "tier": string(v.Tier),
			"reasons": joinReasons(v.Reasons), "updated_at": v.UpdatedAt.UTC(),
		}).Error; err != nil {
			return err
		}
		h := history(v, change.Actor, change.Reason, v.UpdatedAt)
		if err := tx.Create(&h).Error; err != nil {
			return err
		}
		if err := s.runHooks(ctx, tx, change, then); err != nil {
			return err
		}
		outR, outV = r, v
		return nil
	})
	if db.IsUniqueViolation(err) {
		// A concurrent approval of the same document won.
		return Review{}, Visitor{}, fmt.Errorf("kyc: review %s: %w", reviewID, ErrDuplicateDocument)
	}
	return outR, outV, err
}

// ReleaseDocument implements Store.
func (s *GormStore) ReleaseDocument(ctx context.Context, visitorID, staffID, reason string, at time.Time, then []db.Then[Visitor]) (Visitor, error) {
	var out Visitor
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		var vr visitorRow
		err := s.db.ForUpdate(tx).Where("id = ?", visitorID).Take(&vr).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("kyc: visitor %s: %w", visitorID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		v, err := vr.visitor()
		if err != nil {
			return err
		}
		if !v.Active() {
			return fmt.Errorf("kyc: visitor %s: %w", visitorID, ErrDocumentNotHeld)
		}
		at = at.UTC()
		if err := tx.Model(&visitorRow{}).Where("id = ?", v.ID).Updates(map[string]any{
			"document_released_at": at, "updated_at": at,
		}).Error; err != nil {
			return err
		}
		v.DocumentReleasedAt, v.UpdatedAt = at, at
		h := history(v, staffID, "document released: "+reason, at)
		if err := tx.Create(&h).Error; err != nil {
			return err
		}
		out = v
		return db.RunThen(tx, v, then...)
	})
	return out, err
}

// PromoteTx lifts an approved visitor who gave entry details to the
// verified tier, inside tx (the transaction that verified a card whose
// holder name matched the passport). It reports whether the tier changed.
func (s *GormStore) PromoteTx(tx *gorm.DB, visitorID string, now time.Time) (bool, error) {
	res := tx.Exec(`UPDATE visitors SET tier = ?, updated_at = ? WHERE id = ? AND status = ? AND tier = ? AND visa_type <> ''`,
		string(TierVerified), now.UTC(), visitorID, string(StatusApproved), string(TierBasic))
	if res.Error != nil {
		return false, fmt.Errorf("kyc: promote %s: %w", visitorID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ActiveVisitors implements Store.
func (s *GormStore) ActiveVisitors(ctx context.Context, after string, limit int) ([]Visitor, error) {
	var rows []visitorRow
	if err := s.db.WithContext(ctx).Where("id > ? AND status IN ?", after, []string{string(StatusApproved), string(StatusReview)}).
		Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Visitor, 0, len(rows))
	for _, r := range rows {
		v, err := r.visitor()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Rescreen implements Store.
func (s *GormStore) Rescreen(ctx context.Context, rec ScreeningRecord, flag func(Visitor) (Visitor, Change, string, bool)) error {
	cands, err := json.Marshal(rec.Candidates)
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		var vr visitorRow
		if err := s.db.ForUpdate(tx).Where("id = ?", rec.VisitorID).Take(&vr).Error; err != nil {
			return err
		}
		sc := screeningRow{ID: rec.ID, VisitorID: rec.VisitorID, ListVersion: rec.ListVersion,
			Outcome: string(rec.Outcome), Candidates: string(cands), CreatedAt: rec.CreatedAt.UTC()}
		if err := tx.Create(&sc).Error; err != nil {
			return err
		}
		cur, err := vr.visitor()
		if err != nil {
			return err
		}
		v, change, reviewID, changed := flag(cur)
		if !changed {
			return nil
		}
		if err := tx.Model(&visitorRow{}).Where("id = ?", v.ID).Updates(map[string]any{
			"status": string(v.Status), "reasons": joinReasons(v.Reasons), "updated_at": v.UpdatedAt.UTC(),
		}).Error; err != nil {
			return err
		}
		h := history(v, change.Actor, change.Reason, v.UpdatedAt)
		if err := tx.Create(&h).Error; err != nil {
			return err
		}
		rv := toReviewRow(Review{ID: reviewID, VisitorID: v.ID, PartnerID: v.PartnerID, Status: ReviewOpen,
			Reasons: v.Reasons, CreatedAt: v.UpdatedAt})
		if err := tx.Create(&rv).Error; err != nil {
			return err
		}
		if err := s.runHooks(ctx, tx, change, nil); err != nil {
			return err
		}
		if s.hooks.Rescreened != nil {
			if err := s.hooks.Rescreened(ctx, tx, change); err != nil {
				return fmt.Errorf("kyc: rescreened hook: %w", err)
			}
		}
		return nil
	})
}

// Erase implements Store.
func (s *GormStore) Erase(ctx context.Context, visitorIDs []string, rejectedBefore, now time.Time) (int, error) {
	n := 0
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		var ids []string
		if len(visitorIDs) > 0 {
			if err := tx.Model(&visitorRow{}).Where("id IN ? AND erased_at IS NULL", visitorIDs).Pluck("id", &ids).Error; err != nil {
				return err
			}
		}
		var rejected []string
		if err := tx.Model(&visitorRow{}).Where("status = ? AND updated_at < ? AND erased_at IS NULL", string(StatusRejected), rejectedBefore.UTC()).
			Pluck("id", &rejected).Error; err != nil {
			return err
		}
		for _, id := range append(ids, rejected...) {
			// The index becomes a value derived from the visitor id, not
			// the passport: unique (the active-document index needs it) and
			// no longer linking the row to the document.
			res := tx.Model(&visitorRow{}).Where("id = ? AND erased_at IS NULL", id).Updates(map[string]any{
				"surname": "", "given_names": "", "date_of_birth": "", "number_sealed": "",
				"number_index": "erased:" + id, "number_masked": "", "phone": "", "email": "",
				"erased_at": now.UTC(), "updated_at": now.UTC(),
			})
			if res.Error != nil {
				return res.Error
			}
			n += int(res.RowsAffected)
		}
		return nil
	})
	return n, err
}
