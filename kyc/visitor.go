package kyc

import "time"

// Visitor is a person onboarded by a partner, as the API shows it: the
// document number appears only masked.
type Visitor struct {
	ID          string
	PartnerID   string
	Status      Status
	Tier        Tier
	Reasons     []Reason
	Surname     string
	GivenNames  string
	Nationality string
	Sex         Sex
	DateOfBirth Date
	Document    Document
	Phone       string
	Email       string
	Entry       Entry // zero when not given
	// DocumentReleasedAt is when support staff ended the visitor's claim on
	// its document; zero while it holds it.
	DocumentReleasedAt time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Document describes the visitor's travel document.
type Document struct {
	Type         string // MRZ document code: "P", "I", "ID", ...
	Format       Format
	IssuingState string
	NumberMasked string // first two and last two characters, see MaskNumber
	ExpiresOn    Date
}

// Active reports whether the visitor holds its document: every status but
// rejected (a visitor in review may still be approved), unless staff
// released the claim.
func (v Visitor) Active() bool { return v.Status != StatusRejected && v.DocumentReleasedAt.IsZero() }

// TierWith is the tier the visitor qualifies for once card binding is
// known: verified needs an approved passport, entry details and a verified
// card whose holder name matched; anything less is basic.
func (v Visitor) TierWith(verifiedCard bool) Tier {
	if v.Status == StatusApproved && !v.Entry.IsZero() && verifiedCard {
		return TierVerified
	}
	return TierBasic
}

// HistoryEntry is one row of a visitor's append-only status history.
type HistoryEntry struct {
	Status  Status
	Reasons []Reason
	Actor   string // "system" or the staff id that decided
	Note    string // the staff member's reason, or "created"
	At      time.Time
}

// ActorSystem is the actor of changes made by the rules, not by a person.
const ActorSystem = "system"

// ScreeningRecord is a stored screening.
type ScreeningRecord struct {
	ID        string
	VisitorID string
	Screening
	CreatedAt time.Time
}

// ReviewStatus is the state of a review.
type ReviewStatus string

// The values of ReviewStatus.
const (
	ReviewOpen     ReviewStatus = "open"
	ReviewApproved ReviewStatus = "approved"
	ReviewRejected ReviewStatus = "rejected"
)

// Review is a visitor in review waiting for, or carrying, a staff decision.
type Review struct {
	ID             string
	VisitorID      string
	PartnerID      string
	Status         ReviewStatus
	Reasons        []Reason
	DecidedBy      string
	DecisionReason string
	DecidedAt      time.Time // zero while open
	CreatedAt      time.Time
}

// Verdict is what a staff member decides on a review.
type Verdict string

// The values of Verdict, as the admin API spells them.
const (
	Approve Verdict = "approve"
	Reject  Verdict = "reject"
)

// Decision is a staff member's decision on a review.
type Decision struct {
	Verdict Verdict
	Reason  string // required: the audit trail must say why
	StaffID string // required
}

// Change describes a status change, for the hooks that run inside its
// transaction (outbox event, audit record, opening the account).
type Change struct {
	Visitor  Visitor
	From     Status // empty when the visitor was just created
	Actor    string // ActorSystem or a staff id
	Reason   string // the staff member's reason; empty for the rules
	ReviewID string // set when a review was opened or decided
}
