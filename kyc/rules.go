package kyc

import (
	"strings"
	"time"
)

// Status is a visitor's KYC status.
type Status string

// The values of Status.
const (
	StatusApproved Status = "approved"
	StatusReview   Status = "review"
	StatusRejected Status = "rejected"
)

// Tier is the limit profile a visitor qualifies for.
type Tier string

// The values of Tier.
const (
	// TierBasic: passport approved (TourPass limits).
	TierBasic Tier = "basic"
	// TierVerified: passport approved, entry details given and a verified
	// card whose holder name matched (PBOC registered-card limits).
	TierVerified Tier = "verified"
)

// Reason is a machine-readable code explaining a review or a rejection.
type Reason string

// The reason codes of the API.
const (
	ReasonDocumentExpired        Reason = "document_expired"         // rejects
	ReasonUnderage               Reason = "underage"                 // rejects
	ReasonSanctionsMatch         Reason = "sanctions_match"          // rejects
	ReasonSanctionsPossibleMatch Reason = "sanctions_possible_match" // review
	ReasonStatelessOrRefugee     Reason = "stateless_or_refugee"     // review
	ReasonNameAmbiguous          Reason = "name_ambiguous"           // review
	// ReasonDuplicateDocument: another partner's visitor holds the
	// passport; staff decide (review).
	ReasonDuplicateDocument Reason = "duplicate_document"
	// ReasonManualRejection: support staff rejected the visitor in review.
	ReasonManualRejection Reason = "manual_rejection"
)

// rejects lists the reasons that reject outright; every other reason sends
// the visitor to review.
var rejects = map[Reason]bool{
	ReasonDocumentExpired: true, ReasonUnderage: true,
	ReasonSanctionsMatch: true, ReasonManualRejection: true,
}

// DefaultMinAge is the minimum age of a visitor (docs/API.md).
const DefaultMinAge = 18

// Policy holds the configurable rules. The zero Policy uses the defaults.
type Policy struct {
	MinAge int // 0 means DefaultMinAge
}

func (p Policy) minAge() int {
	if p.MinAge <= 0 {
		return DefaultMinAge
	}
	return p.MinAge
}

// Assessment is the outcome of the rules for one document and person.
type Assessment struct {
	Status  Status
	Tier    Tier
	Reasons []Reason // in a fixed order, empty when approved
}

// Assess applies the document and person rules to a parsed MRZ and its
// sanctions screening on day today. An expired document (the expiry day
// itself is still valid), an age under the minimum and a sanctions match
// reject; a possible sanctions match, a stateless or refugee code, and an
// ambiguous name (a single name, in either identifier, or a name cut to fit
// the MRZ) send the
// visitor to review. Every reason found is reported, not only the first,
// so a reviewer sees the whole picture. The tier is basic: verified needs
// a verified card too, which is decided later (Visitor.TierWith).
func Assess(m MRZ, s Screening, today time.Time, p Policy) Assessment {
	day := DateOf(today)
	var reasons []Reason
	if m.ExpiryDate.Before(day) {
		reasons = append(reasons, ReasonDocumentExpired)
	}
	if m.DateOfBirth.AgeOn(day) < p.minAge() {
		reasons = append(reasons, ReasonUnderage)
	}
	switch s.Outcome {
	case ScreeningMatch:
		reasons = append(reasons, ReasonSanctionsMatch)
	case ScreeningPossible:
		reasons = append(reasons, ReasonSanctionsPossibleMatch)
	}
	if statelessCodes[m.Nationality] || statelessCodes[m.IssuingState] {
		reasons = append(reasons, ReasonStatelessOrRefugee)
	}
	if m.GivenNames == "" || m.Surname == "" || m.NameTruncated {
		reasons = append(reasons, ReasonNameAmbiguous)
	}
	return Assessment{Status: statusFor(reasons), Tier: TierBasic, Reasons: reasons}
}

func statusFor(reasons []Reason) Status {
	st := StatusApproved
	for _, r := range reasons {
		if rejects[r] {
			return StatusRejected
		}
		st = StatusReview
	}
	return st
}

// visaTypes are China's visa categories plus the visa-free and transit
// entries under which most visitors arrive since 2024.
var visaTypes = map[string]bool{
	"C": true, "D": true, "F": true, "G": true, "J1": true, "J2": true,
	"L": true, "M": true, "Q1": true, "Q2": true, "R": true, "S1": true,
	"S2": true, "X1": true, "X2": true, "Z": true,
	"VISA_FREE": true, "TRANSIT": true, "PORT_VISA": true,
}

// Entry is the optional travel information of a visitor: visa type, entry
// date and planned departure. Its fields are unexported so only NewEntry
// makes one, and an Entry therefore always has departure >= entry.
type Entry struct {
	visaType         string
	entryDate        Date
	plannedDeparture Date
}

// NewEntry validates entry details given as API strings: a known visa type
// (case-insensitive: C, D, F, G, J1, J2, L, M, Q1, Q2, R, S1, S2, X1, X2, Z,
// VISA_FREE, TRANSIT, PORT_VISA), dates as YYYY-MM-DD, and a planned
// departure not before the entry. Errors are *FieldError wrapping
// ErrEntryInvalid.
func NewEntry(visaType, entryDate, plannedDeparture string) (Entry, error) {
	vt := strings.ToUpper(strings.TrimSpace(visaType))
	if !visaTypes[vt] {
		return Entry{}, &FieldError{Param: "entry.visa_type", Err: ErrEntryInvalid, msg: "unknown visa type"}
	}
	in, err := ParseDate(entryDate)
	if err != nil {
		return Entry{}, &FieldError{Param: "entry.entry_date", Err: ErrEntryInvalid, msg: "must be a date YYYY-MM-DD"}
	}
	out, err := ParseDate(plannedDeparture)
	if err != nil {
		return Entry{}, &FieldError{Param: "entry.planned_departure", Err: ErrEntryInvalid, msg: "must be a date YYYY-MM-DD"}
	}
	if out.Before(in) {
		return Entry{}, &FieldError{Param: "entry.planned_departure", Err: ErrEntryInvalid, msg: "planned departure is before the entry date"}
	}
	return Entry{visaType: vt, entryDate: in, plannedDeparture: out}, nil
}

// VisaType is the upper-case visa category.
func (e Entry) VisaType() string { return e.visaType }

// EntryDate is the day of entry into China.
func (e Entry) EntryDate() Date { return e.entryDate }

// PlannedDeparture is the planned day of departure.
func (e Entry) PlannedDeparture() Date { return e.plannedDeparture }

// IsZero reports whether no entry details were given.
func (e Entry) IsZero() bool { return e.visaType == "" }

// Equal lets go-cmp compare entries.
func (e Entry) Equal(o Entry) bool {
	return e.visaType == o.visaType && e.entryDate.Equal(o.entryDate) && e.plannedDeparture.Equal(o.plannedDeparture)
}
