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
)

// Errors of the package.
var (
	ErrUnauthenticated = errors.New("auth: missing or invalid credentials")
	ErrForbidden       = errors.New("auth: role does not allow this")
	ErrNotFound        = errors.New("auth: not found")
	ErrInvalidRole     = errors.New("auth: role must be viewer, agent or supervisor")
	ErrInvalidName     = errors.New("auth: name must be 1-200 characters")
	ErrDisabled        = errors.New("auth: disabled")
)

// Role is a staff member's role. The zero Role is invalid.
type Role struct{ name string }

// The three roles, each allowed what the one before it is, and more.
var (
	Viewer     = Role{"viewer"}
	Agent      = Role{"agent"}
	Supervisor = Role{"supervisor"}
)

// ParseRole turns "viewer", "agent" or "supervisor" into a Role.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{Viewer, Agent, Supervisor} {
		if r.name == s {
			return r, nil
		}
	}
	return Role{}, ErrInvalidRole
}

func (r Role) String() string { return r.name }

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.name), nil }

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
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Store is the persistence auth needs.
type Store interface {
	CreatePartner(ctx context.Context, p Partner, keyID, keyHash, last4 string) error
	RotatePartnerKey(ctx context.Context, partnerID, keyID, keyHash, last4 string, now time.Time) error
	SetPartnerStatus(ctx context.Context, partnerID, status string) (Partner, error)
	PartnerByKeyHash(ctx context.Context, hash string) (Partner, error)
	Partner(ctx context.Context, id string) (Partner, error)
	CreateStaff(ctx context.Context, s Staff, tokenHash string) error
	StaffByTokenHash(ctx context.Context, hash string) (Staff, error)
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
func (s *Service) CreatePartner(ctx context.Context, id, name, key string) (Partner, string, error) {
	if err := validName(name); err != nil {
		return Partner{}, "", err
	}
	if key == "" {
		key = NewSecret("sk_")
	}
	p := Partner{ID: id, Name: strings.TrimSpace(name), Status: "active", CreatedAt: s.now()}
	if err := s.store.CreatePartner(ctx, p, "key_"+id, Hash(key), last4(key)); err != nil {
		return Partner{}, "", err
	}
	return p, key, nil
}

// RotatePartnerKey revokes the partner's keys and issues a new one (key,
// or a fresh one when key is empty), returned once.
func (s *Service) RotatePartnerKey(ctx context.Context, partnerID, keyID, key string) (Partner, string, error) {
	p, err := s.store.Partner(ctx, partnerID)
	if err != nil {
		return Partner{}, "", err
	}
	if key == "" {
		key = NewSecret("sk_")
	}
	if err := s.store.RotatePartnerKey(ctx, partnerID, keyID, Hash(key), last4(key), s.now()); err != nil {
		return Partner{}, "", err
	}
	return p, key, nil
}

// DisablePartner stops all of a partner's keys from authenticating.
func (s *Service) DisablePartner(ctx context.Context, partnerID string) (Partner, error) {
	return s.store.SetPartnerStatus(ctx, partnerID, "disabled")
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

// CreateStaff makes a staff member; the token is returned once. A non-empty
// token is used as given (bootstrap).
func (s *Service) CreateStaff(ctx context.Context, id, name string, role Role, token string) (Staff, string, error) {
	if err := validName(name); err != nil {
		return Staff{}, "", err
	}
	if role.rank() == 0 {
		return Staff{}, "", ErrInvalidRole
	}
	if token == "" {
		token = NewSecret("st_")
	}
	st := Staff{ID: id, Name: strings.TrimSpace(name), Role: role, Status: "active", CreatedAt: s.now()}
	if err := s.store.CreateStaff(ctx, st, Hash(token)); err != nil {
		return Staff{}, "", err
	}
	return st, token, nil
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
	if st.Status != "active" {
		return Staff{}, ErrUnauthenticated
	}
	return st, nil
}

// EnsurePartnerKey makes sure a partner owns key (bootstrap): nothing
// happens when it already authenticates.
func (s *Service) EnsurePartnerKey(ctx context.Context, id, name, key string) (bool, error) {
	if _, err := s.store.PartnerByKeyHash(ctx, Hash(key)); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	_, _, err := s.CreatePartner(ctx, id, name, key)
	return err == nil, err
}

// EnsureStaffToken makes sure a supervisor owns token (bootstrap).
func (s *Service) EnsureStaffToken(ctx context.Context, id, name, token string) (bool, error) {
	if _, err := s.store.StaffByTokenHash(ctx, Hash(token)); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	_, _, err := s.CreateStaff(ctx, id, name, Supervisor, token)
	return err == nil, err
}
