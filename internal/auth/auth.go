// Package auth owns the credentials of the two APIs: partner secret keys
// ("sk_...") and staff tokens with their roles. Only SHA-256 hashes of the
// secrets are stored; a secret is shown once, when it is made.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
)

// Errors of the package.
var (
	ErrUnauthenticated = errors.New("auth: missing or invalid credentials")
	ErrForbidden       = errors.New("auth: role does not allow this")
	ErrNotFound        = errors.New("auth: not found")
	ErrInvalidRole     = errors.New("auth: role must be viewer, agent or supervisor")
	ErrInvalidName     = errors.New("auth: name must be 1-200 characters")
	ErrDisabled        = errors.New("auth: disabled")
	// ErrInvalidState is an action the staff member's status does not allow
	// (approving one who is not pending, rotating a disabled one's token).
	ErrInvalidState = errors.New("auth: the staff member's status does not allow this")
	// ErrLastSupervisor refuses to disable the last active supervisor: no one
	// could then manage staff or approve anything.
	ErrLastSupervisor = errors.New("auth: cannot disable the last active supervisor")
	// ErrApproverIsProposer: the second pair of eyes must be another person.
	ErrApproverIsProposer = errors.New("auth: the approver must differ from the proposer")
	// ErrApproverNotIndependent: the approver was created by the proposer, or
	// one of them has seen the other's token (creator, approver of a new
	// supervisor, or whoever rotated it), so one person could act as both.
	ErrApproverNotIndependent = errors.New("auth: the approver is not independent of the proposer")
	// ErrApproverTooRecent: the approver became active after the proposal.
	ErrApproverTooRecent = errors.New("auth: the approver must have been active before the proposal")
	// ErrKeyRevoked is a bootstrap key that was rotated away.
	ErrKeyRevoked = errors.New("auth: the key was revoked")
)

// Staff statuses. A proposed supervisor is pending until a second
// supervisor approves it; a pending or disabled member cannot authenticate.
const (
	StaffPending  = "pending"
	StaffActive   = "active"
	StaffDisabled = "disabled"
)

// IsSystemActor reports whether id names no staff member but the system
// (system:cli, system:bootstrap) or nobody: such actors stand outside the
// four-eyes rule, which is about people.
func IsSystemActor(id string) bool { return id == "" || strings.HasPrefix(id, "system") }

// Role is a staff member's role. The zero Role is invalid.
type Role string

// The three roles, each allowed what the one before it is, and more.
const (
	Viewer     Role = "viewer"
	Agent      Role = "agent"
	Supervisor Role = "supervisor"
)

// ParseRole turns "viewer", "agent" or "supervisor" into a Role.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{Viewer, Agent, Supervisor} {
		if string(r) == s {
			return r, nil
		}
	}
	return Role(""), ErrInvalidRole
}

func (r Role) String() string { return string(r) }

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r), nil }

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Agent:
		return 2
	case Supervisor:
		return 3
	}
	return 0
}

// Allows reports whether r has at least the rights of min.
func (r Role) Allows(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// Partner is a partner app.
type Partner struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"` // active, disabled
	CreatedAt time.Time `json:"created_at"`
}

// Staff is a support-staff member.
type Staff struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	Status string `json:"status"`
	// CreatedBy is the staff member (or system actor) who created or, for a
	// supervisor, proposed this one.
	CreatedBy string `json:"created_by"`
	// TokenIssuedBy is who last saw this member's token: the creator, the
	// approving supervisor, or whoever rotated it. That person could act as
	// this member, so the four-eyes rule treats them as one.
	TokenIssuedBy string `json:"-"`
	// ApprovedBy is the second supervisor who activated a proposed supervisor.
	ApprovedBy  string     `json:"approved_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
}

// controllers are the people who hold or have seen s's token.
func (s Staff) controllers() []string {
	out := []string{s.ID}
	if !IsSystemActor(s.TokenIssuedBy) && s.TokenIssuedBy != s.ID {
		out = append(out, s.TokenIssuedBy)
	}
	return out
}

// CheckFourEyes says whether approver may approve what proposer proposed at
// proposedAt: approver is an active supervisor other than the proposer, was
// not created by the proposer, neither holds a token the other has seen,
// and was active before the proposal (so no one can mint their own checker).
func CheckFourEyes(proposer, approver Staff, proposedAt time.Time) error {
	if approver.Status != StaffActive || approver.Role != Supervisor {
		return ErrForbidden
	}
	if approver.ID == proposer.ID {
		return ErrApproverIsProposer
	}
	if approver.CreatedBy == proposer.ID {
		return ErrApproverNotIndependent
	}
	for _, a := range approver.controllers() {
		for _, p := range proposer.controllers() {
			if a == p {
				return ErrApproverNotIndependent
			}
		}
	}
	if approver.ActivatedAt == nil || !approver.ActivatedAt.Before(proposedAt) {
		return ErrApproverTooRecent
	}
	return nil
}

// Store is the persistence auth needs.
type Store interface {
	CreatePartner(ctx context.Context, p Partner, keyID, keyHash, last4 string, then []db.Then[Partner]) error
	RotatePartnerKey(ctx context.Context, partnerID, keyID, keyHash, last4 string, now time.Time, then []db.Then[Partner]) error
	SetPartnerStatus(ctx context.Context, partnerID, status string, then []db.Then[Partner]) (Partner, error)
	PartnerByKeyHash(ctx context.Context, hash string) (Partner, error)
	// KeyRevoked finds a key by hash whether or not it was revoked.
	KeyRevoked(ctx context.Context, hash string) (revoked bool, err error)
	Partner(ctx context.Context, id string) (Partner, error)
	CreateStaff(ctx context.Context, s Staff, tokenHash string, then []db.Then[Staff]) error
	StaffByTokenHash(ctx context.Context, hash string) (Staff, error)
	StaffByID(ctx context.Context, id string) (Staff, error)
	// ApproveStaff activates a pending member in one transaction: check
	// gets the locked pending row and its proposer and may refuse.
	ApproveStaff(ctx context.Context, id, approverID, tokenHash string, now time.Time, check func(pending, proposer Staff) error, then []db.Then[Staff]) (Staff, error)
	// DisableStaff disables a member, refusing the last active supervisor.
	DisableStaff(ctx context.Context, id string, now time.Time, then []db.Then[Staff]) (Staff, error)
	// RotateStaffToken replaces an active member's token.
	RotateStaffToken(ctx context.Context, id, tokenHash, issuer string, now time.Time, then []db.Then[Staff]) (Staff, error)
	ActiveSupervisors(ctx context.Context) (int64, error)
}

// Service issues and checks credentials.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService builds the service over a store.
func NewService(s Store) *Service {
	return &Service{store: s, now: func() time.Time { return time.Now().UTC() }}
}

// Hash is the stored form of a secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns prefix + 32 random base32 characters (160 bits).
func NewSecret(prefix string) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return prefix + strings.ToLower(b32.EncodeToString(b))
}

func last4(s string) string {
	if len(s) < 4 {
		return s
	}
	return s[len(s)-4:]
}

func validName(name string) error {
	n := len(strings.TrimSpace(name))
	if n == 0 || n > 200 {
		return ErrInvalidName
	}
	return nil
}

// CreatePartner makes a partner and its first key; the key is returned once.
// A non-empty key is used as given (bootstrap); else a new one is made.
func (s *Service) CreatePartner(ctx context.Context, id, name, key string, then ...db.Then[Partner]) (Partner, string, error) {
	if err := validName(name); err != nil {
		return Partner{}, "", err
	}
	if key == "" {
		key = NewSecret("sk_")
	}
	p := Partner{ID: id, Name: strings.TrimSpace(name), Status: "active", CreatedAt: s.now()}
	if err := s.store.CreatePartner(ctx, p, "key_"+id, Hash(key), last4(key), then); err != nil {
		return Partner{}, "", err
	}
	return p, key, nil
}

// RotatePartnerKey revokes the partner's keys and issues a new one (key,
// or a fresh one when key is empty), returned once.
func (s *Service) RotatePartnerKey(ctx context.Context, partnerID, keyID, key string, then ...db.Then[Partner]) (Partner, string, error) {
	p, err := s.store.Partner(ctx, partnerID)
	if err != nil {
		return Partner{}, "", err
	}
	if key == "" {
		key = NewSecret("sk_")
	}
	if err := s.store.RotatePartnerKey(ctx, partnerID, keyID, Hash(key), last4(key), s.now(), then); err != nil {
		return Partner{}, "", err
	}
	return p, key, nil
}

// DisablePartner stops all of a partner's keys from authenticating.
func (s *Service) DisablePartner(ctx context.Context, partnerID string, then ...db.Then[Partner]) (Partner, error) {
	return s.store.SetPartnerStatus(ctx, partnerID, "disabled", then)
}

// EnablePartner lets a disabled partner's unrevoked keys authenticate again.
func (s *Service) EnablePartner(ctx context.Context, partnerID string, then ...db.Then[Partner]) (Partner, error) {
	return s.store.SetPartnerStatus(ctx, partnerID, "active", then)
}

// Partner returns one partner.
func (s *Service) Partner(ctx context.Context, id string) (Partner, error) {
	return s.store.Partner(ctx, id)
}

// AuthenticatePartner finds the active partner owning key.
func (s *Service) AuthenticatePartner(ctx context.Context, key string) (Partner, error) {
	if !strings.HasPrefix(key, "sk_") {
		return Partner{}, ErrUnauthenticated
	}
	p, err := s.store.PartnerByKeyHash(ctx, Hash(key))
	if errors.Is(err, ErrNotFound) {
		return Partner{}, ErrUnauthenticated
	}
	if err != nil {
		return Partner{}, err
	}
	if p.Status != "active" {
		return Partner{}, fmt.Errorf("%w: partner disabled", ErrUnauthenticated)
	}
	return p, nil
}

// CreateStaff makes an active staff member directly; the token is returned
// once. createdBy is the creating supervisor or a system actor (the CLI,
// bootstrap), who sees the token. A non-empty token is used as given
// (bootstrap). Over the API a supervisor is proposed instead (ProposeStaff).
func (s *Service) CreateStaff(ctx context.Context, id, name string, role Role, token, createdBy string, then ...db.Then[Staff]) (Staff, string, error) {
	if err := validName(name); err != nil {
		return Staff{}, "", err
	}
	if role.rank() == 0 {
		return Staff{}, "", ErrInvalidRole
	}
	if token == "" {
		token = NewSecret("st_")
	}
	now := s.now().Truncate(time.Microsecond)
	st := Staff{ID: id, Name: strings.TrimSpace(name), Role: role, Status: StaffActive, CreatedBy: createdBy,
		TokenIssuedBy: createdBy, CreatedAt: now, ActivatedAt: &now}
	if err := s.store.CreateStaff(ctx, st, Hash(token), then); err != nil {
		return Staff{}, "", err
	}
	return st, token, nil
}

// pendingTokenHash is the placeholder token hash of a proposed member: it
// is not 64 hex digits, so no token hashes to it.
func pendingTokenHash(id string) string { return "pending:" + id }

// ProposeStaff records a proposed supervisor (the four-eyes rule: a second,
// independent supervisor must approve it with ApproveStaff). It has no
// token yet and cannot authenticate.
func (s *Service) ProposeStaff(ctx context.Context, id, name string, role Role, proposer Staff, then ...db.Then[Staff]) (Staff, error) {
	if err := validName(name); err != nil {
		return Staff{}, err
	}
	if role.rank() == 0 {
		return Staff{}, ErrInvalidRole
	}
	if proposer.Role != Supervisor || proposer.Status != StaffActive {
		return Staff{}, ErrForbidden
	}
	st := Staff{ID: id, Name: strings.TrimSpace(name), Role: role, Status: StaffPending, CreatedBy: proposer.ID,
		CreatedAt: s.now().Truncate(time.Microsecond)}
	if err := s.store.CreateStaff(ctx, st, pendingTokenHash(id), then); err != nil {
		return Staff{}, err
	}
	return st, nil
}

// ApproveStaff activates a proposed staff member. The approver must pass
// CheckFourEyes against the proposer at the time of the proposal. The new
// token (token, or a fresh one when empty) is returned once, to the
// approver, who therefore counts as having seen it.
func (s *Service) ApproveStaff(ctx context.Context, id string, approver Staff, token string, then ...db.Then[Staff]) (Staff, string, error) {
	if token == "" {
		token = NewSecret("st_")
	}
	st, err := s.store.ApproveStaff(ctx, id, approver.ID, Hash(token), s.now().Truncate(time.Microsecond), func(pending, proposer Staff) error {
		if pending.Status != StaffPending {
			return fmt.Errorf("%w: staff member is %s", ErrInvalidState, pending.Status)
		}
		return CheckFourEyes(proposer, approver, pending.CreatedAt)
	}, then)
	if err != nil {
		return Staff{}, "", err
	}
	return st, token, nil
}

// DisableStaff disables a staff member (or withdraws a proposal): the token
// stops working at once. The last active supervisor cannot be disabled.
func (s *Service) DisableStaff(ctx context.Context, id string, then ...db.Then[Staff]) (Staff, error) {
	return s.store.DisableStaff(ctx, id, s.now().Truncate(time.Microsecond), then)
}

// RotateStaffToken gives an active member a new token (token, or a fresh
// one when empty), returned once; the old one stops working. issuer sees
// the new token and is recorded as able to act as the member.
func (s *Service) RotateStaffToken(ctx context.Context, id, issuer, token string, then ...db.Then[Staff]) (Staff, string, error) {
	if token == "" {
		token = NewSecret("st_")
	}
	st, err := s.store.RotateStaffToken(ctx, id, Hash(token), issuer, s.now().Truncate(time.Microsecond), then)
	if err != nil {
		return Staff{}, "", err
	}
	return st, token, nil
}

// StaffMember returns one staff member by id.
func (s *Service) StaffMember(ctx context.Context, id string) (Staff, error) {
	return s.store.StaffByID(ctx, id)
}

// AuthenticateStaff finds the active staff member owning token.
func (s *Service) AuthenticateStaff(ctx context.Context, token string) (Staff, error) {
	if token == "" {
		return Staff{}, ErrUnauthenticated
	}
	st, err := s.store.StaffByTokenHash(ctx, Hash(token))
	if errors.Is(err, ErrNotFound) {
		return Staff{}, ErrUnauthenticated
	}
	if err != nil {
		return Staff{}, err
	}
	if st.Status != StaffActive {
		return Staff{}, fmt.Errorf("%w: staff member is %s", ErrUnauthenticated, st.Status)
	}
	return st, nil
}

// Bootstrap is what a start-up bootstrap step found or did.
type Bootstrap int

// The outcomes of EnsurePartnerKey and EnsureStaffToken.
const (
	// BootstrapExists: the secret already works; nothing was done.
	BootstrapExists Bootstrap = iota
	// BootstrapCreated: its owner was created.
	BootstrapCreated
	// BootstrapRevoked: the secret was rotated away or its owner disabled;
	// it stays so (a start must not undo a rotation).
	BootstrapRevoked
	// BootstrapSkipped: an active supervisor exists and the token is not
	// theirs; no supervisor was created.
	BootstrapSkipped
)

// EnsurePartnerKey makes sure a partner owns key (bootstrap). Nothing
// happens when it already exists, revoked or not: a rotated bootstrap key
// stays revoked (BootstrapRevoked) rather than failing every later start.
func (s *Service) EnsurePartnerKey(ctx context.Context, id, name, key string, then ...db.Then[Partner]) (Bootstrap, error) {
	check := func() (Bootstrap, bool, error) {
		revoked, err := s.store.KeyRevoked(ctx, Hash(key))
		switch {
		case errors.Is(err, ErrNotFound):
			return 0, false, nil
		case err != nil:
			return 0, false, err
		case revoked:
			return BootstrapRevoked, true, nil
		}
		return BootstrapExists, true, nil
	}
	if out, found, err := check(); found || err != nil {
		return out, err
	}
	if _, _, err := s.CreatePartner(ctx, id, name, key, then...); err != nil {
		// Another replica starting at the same time may have won.
		if out, found, cerr := check(); cerr == nil && found {
			return out, nil
		}
		return 0, err
	}
	return BootstrapCreated, nil
}

// EnsureStaffToken creates a supervisor owning token (bootstrap, created by
// createdBy) only when no active supervisor exists: the bootstrap token
// opens the door to an empty system, and does not recreate a supervisor
// whose token was rotated or who was disabled.
func (s *Service) EnsureStaffToken(ctx context.Context, id, name, token, createdBy string, then ...db.Then[Staff]) (Bootstrap, error) {
	check := func() (Bootstrap, bool, error) {
		st, err := s.store.StaffByTokenHash(ctx, Hash(token))
		switch {
		case errors.Is(err, ErrNotFound):
			return 0, false, nil
		case err != nil:
			return 0, false, err
		case st.Status != StaffActive:
			return BootstrapRevoked, true, nil
		}
		return BootstrapExists, true, nil
	}
	if out, found, err := check(); found || err != nil {
		return out, err
	}
	n, err := s.store.ActiveSupervisors(ctx)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		return BootstrapSkipped, nil
	}
	if _, _, err := s.CreateStaff(ctx, id, name, Supervisor, token, createdBy, then...); err != nil {
		if out, found, cerr := check(); cerr == nil && found {
			return out, nil
		}
		return 0, err
	}
	return BootstrapCreated, nil
}
