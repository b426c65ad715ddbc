package kyc

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the package. Callers compare with errors.Is; the HTTP
// layer maps each to a status and code in its one error table.
var (
	// ErrMRZInvalid: the MRZ is malformed (shape, characters, an impossible
	// date, an unknown country code). Wrapped in a *FieldError.
	ErrMRZInvalid = errors.New("kyc: mrz invalid")
	// ErrMRZCheckDigit: a check digit does not match its field. Wrapped in a
	// *FieldError naming the field.
	ErrMRZCheckDigit = errors.New("kyc: mrz check digit mismatch")
	// ErrEntryInvalid: entry details (visa type, dates) are not acceptable.
	// Wrapped in a *FieldError.
	ErrEntryInvalid = errors.New("kyc: entry details invalid")
	// ErrNotFound: no such visitor or review, or it belongs to another
	// partner (which must look exactly like "no such visitor").
	ErrNotFound = errors.New("kyc: not found")
	// ErrDuplicateDocument: another active visitor of the same partner
	// holds the document (registration), or another approved visitor of
	// any partner holds it (a staff approval). The error carries no details
	// on purpose: a partner must not learn about another partner's visitor.
	ErrDuplicateDocument = errors.New("kyc: duplicate document")
	// ErrDocumentNotHeld: the visitor holds no claim on its document to
	// release (rejected, or already released).
	ErrDocumentNotHeld = errors.New("kyc: visitor holds no claim on its document")
	// ErrInvalidRelease: a document release lacks a reason or a staff id.
	ErrInvalidRelease = errors.New("kyc: a document release needs a reason")
	// ErrReviewClosed: the review was already decided.
	ErrReviewClosed = errors.New("kyc: review already decided")
	// ErrInvalidDecision: a review decision is neither approve nor reject,
	// or lacks a reason or a deciding staff member.
	ErrInvalidDecision = errors.New("kyc: invalid review decision")
	// ErrSanctionsList: a sanctions list file cannot be read.
	ErrSanctionsList = errors.New("kyc: sanctions list unreadable")
)

// FieldError says which input field an error is about, so the HTTP layer
// can fill the "param" of its error body. Param uses the API's names:
// "mrz" for the shape of the zone, "mrz.document_number",
// "mrz.date_of_birth", "mrz.expiry_date", "mrz.optional_data",
// "mrz.composite", "mrz.name", "mrz.nationality", "mrz.issuing_state",
// "mrz.sex", "mrz.document_code", "entry.visa_type", "entry.entry_date",
// "entry.planned_departure".
type FieldError struct {
	Param string
	Err   error  // one of the sentinels above
	msg   string // safe detail: never contains the input itself
}

func (e *FieldError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("%v (%s)", e.Err, e.Param)
	}
	return fmt.Sprintf("%v (%s): %s", e.Err, e.Param, e.msg)
}

// Unwrap gives the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// ParamName is Param, under the name internal/httpapi's paramError
// interface looks for.
func (e *FieldError) ParamName() string { return e.Param }

// Detail is a short human-readable explanation fit for a client message.
// Like Error, it never repeats the input, so an MRZ cannot leak through an
// error message or a log line.
func (e *FieldError) Detail() string { return e.msg }

func invalid(param, msg string) error {
	return &FieldError{Param: param, Err: ErrMRZInvalid, msg: msg}
}

// badCheck names the field and, when known (expected != 0), the check
// digit it should have: one digit derived from the field tells a client
// which character to look at again without repeating the field itself.
func badCheck(param string, expected byte) error {
	msg := "check digit does not match"
	if expected != 0 {
		msg = fmt.Sprintf("check digit does not match: expected %c for %s", expected, strings.TrimPrefix(param, "mrz."))
	}
	return &FieldError{Param: param, Err: ErrMRZCheckDigit, msg: msg}
}
