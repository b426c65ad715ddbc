package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

func TestRoles(t *testing.T) {
	want := map[auth.Role]map[auth.Role]bool{
		auth.Viewer:     {auth.Viewer: true, auth.Agent: false, auth.Supervisor: false},
		auth.Agent:      {auth.Viewer: true, auth.Agent: true, auth.Supervisor: false},
		auth.Supervisor: {auth.Viewer: true, auth.Agent: true, auth.Supervisor: true},
	}
	for r, mins := range want {
		for min, ok := range mins {
			if r.Allows(min) != ok {
				t.Errorf("%s allows %s = %v", r, min, !ok)
			}
		}
	}
	if (auth.Role("")).Allows(auth.Viewer) {
		t.Error("zero role allowed")
	}
	if _, err := auth.ParseRole("admin"); !errors.Is(err, auth.ErrInvalidRole) {
		t.Error("unknown role parsed")
	}
}

func TestKeysAreStoredHashedAndRotate(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		svc := auth.NewService(auth.NewStore(b.DB))
		p, key, err := svc.CreatePartner(ctx, "ptn_a", "Acme", "")
		if err != nil || !strings.HasPrefix(key, "sk_") || len(key) < 30 {
			t.Fatalf("create: %v %q", err, key)
		}
		var stored []string
		b.DB.Gorm.Raw("SELECT key_hash FROM partner_keys").Scan(&stored)
		if len(stored) != 1 || stored[0] == key || stored[0] != auth.Hash(key) {
			t.Fatalf("stored %v", stored)
		}
		if got, err := svc.AuthenticatePartner(ctx, key); err != nil || got.ID != p.ID {
			t.Fatalf("authenticate: %v", err)
		}
		for _, bad := range []string{"", "sk_wrong", key + "x", strings.TrimPrefix(key, "sk_")} {
			if _, err := svc.AuthenticatePartner(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("%q authenticated: %v", bad, err)
			}
		}
		_, newKey, err := svc.RotatePartnerKey(ctx, p.ID, "key_2", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AuthenticatePartner(ctx, key); err == nil {
			t.Fatal("old key works after rotation")
		}
		if _, err := svc.AuthenticatePartner(ctx, newKey); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.RotatePartnerKey(ctx, "ptn_missing", "key_3", ""); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("rotate unknown: %v", err)
		}
		// Bootstrap is idempotent.
		for range 2 {
			if _, err := svc.EnsureStaffToken(ctx, "stf_"+strings.Repeat("b", 3), "Boot", "st_bootstrap_0123456789abcdef", "system:bootstrap"); err != nil {
				t.Fatal(err)
			}
		}
		st, err := svc.AuthenticateStaff(ctx, "st_bootstrap_0123456789abcdef")
		if err != nil || st.Role != auth.Supervisor {
			t.Fatalf("bootstrap staff: %v %v", st, err)
		}
		if _, _, err := svc.CreateStaff(ctx, "stf_x", "", auth.Agent, "", "system:test"); !errors.Is(err, auth.ErrInvalidName) {
			t.Fatalf("empty name: %v", err)
		}
	})
}

func TestBootstrapPartnerKeySurvivesRotation(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		svc := auth.NewService(auth.NewStore(b.DB))
		const key = "sk_bootstrap_key_0123456789abcdef"
		if out, err := svc.EnsurePartnerKey(ctx, "ptn_boot", "Boot", key); err != nil || out != auth.BootstrapCreated {
			t.Fatalf("first: %v %v", out, err)
		}
		if out, err := svc.EnsurePartnerKey(ctx, "ptn_boot2", "Boot", key); err != nil || out != auth.BootstrapExists {
			t.Fatalf("again: %v %v", out, err)
		}
		if _, _, err := svc.RotatePartnerKey(ctx, "ptn_boot", "key_rot", ""); err != nil {
			t.Fatal(err)
		}
		// Before the fix this was a unique violation on partner_keys.key_hash.
		if out, err := svc.EnsurePartnerKey(ctx, "ptn_boot3", "Boot", key); err != nil || out != auth.BootstrapRevoked {
			t.Fatalf("after rotation: %v %v", out, err)
		}
		if _, err := svc.AuthenticatePartner(ctx, key); err == nil {
			t.Fatal("revoked bootstrap key authenticates again")
		}
	})
}

func TestBootstrapStaffOnlyWithoutActiveSupervisor(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		svc := auth.NewService(auth.NewStore(b.DB))
		const tok = "st_bootstrap_token_0123456789abcdef"
		if out, err := svc.EnsureStaffToken(ctx, "stf_boot", "Boot", tok, "system:bootstrap"); err != nil || out != auth.BootstrapCreated {
			t.Fatalf("first: %v %v", out, err)
		}
		// A second supervisor, then the bootstrap one rotates its token away.
		if _, _, err := svc.CreateStaff(ctx, "stf_two", "Two", auth.Supervisor, "", "system:cli"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.RotateStaffToken(ctx, "stf_boot", "stf_boot", ""); err != nil {
			t.Fatal(err)
		}
		// The next start must not quietly recreate a supervisor with the old token.
		if out, err := svc.EnsureStaffToken(ctx, "stf_boot2", "Boot", tok, "system:bootstrap"); err != nil || out != auth.BootstrapSkipped {
			t.Fatalf("after rotation: %v %v", out, err)
		}
		if _, err := svc.AuthenticateStaff(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("old bootstrap token works: %v", err)
		}
	})
}

func TestStaffLifecycle(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		svc := auth.NewService(auth.NewStore(b.DB))
		s1, tok1, err := svc.CreateStaff(ctx, "stf_s1", "S1", auth.Supervisor, "", "system:cli")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.DisableStaff(ctx, s1.ID); !errors.Is(err, auth.ErrLastSupervisor) {
			t.Fatalf("last supervisor disabled: %v", err)
		}
		p, err := svc.ProposeStaff(ctx, "stf_p", "P", auth.Supervisor, s1)
		if err != nil || p.Status != auth.StaffPending {
			t.Fatalf("propose: %+v %v", p, err)
		}
		if _, _, err := svc.ApproveStaff(ctx, p.ID, s1, ""); !errors.Is(err, auth.ErrApproverIsProposer) {
			t.Fatalf("self-approval: %v", err)
		}
		// A supervisor made after the proposal cannot approve it.
		late, _, err := svc.CreateStaff(ctx, "stf_late", "Late", auth.Supervisor, "", "system:cli")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.ApproveStaff(ctx, p.ID, late, ""); !errors.Is(err, auth.ErrApproverTooRecent) {
			t.Fatalf("late approver: %v", err)
		}
		if _, err := svc.DisableStaff(ctx, s1.ID); err != nil {
			t.Fatalf("disable with another supervisor active: %v", err)
		}
		if _, err := svc.AuthenticateStaff(ctx, tok1); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("disabled token: %v", err)
		}
		if _, _, err := svc.RotateStaffToken(ctx, s1.ID, "stf_late", ""); !errors.Is(err, auth.ErrInvalidState) {
			t.Fatalf("rotate disabled: %v", err)
		}
	})
}

func TestCheckFourEyes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before, after := t0.Add(-time.Hour), t0.Add(time.Hour)
	sup := func(id, createdBy, issuedBy string, active time.Time) auth.Staff {
		return auth.Staff{ID: id, Role: auth.Supervisor, Status: auth.StaffActive, CreatedBy: createdBy, TokenIssuedBy: issuedBy, ActivatedAt: &active}
	}
	cases := []struct {
		name               string
		proposer, approver auth.Staff
		want               error
	}{
		{"independent", sup("stf_a", "system:cli", "system:cli", before), sup("stf_b", "system:cli", "system:cli", before), nil},
		{"same", sup("stf_a", "", "", before), sup("stf_a", "", "", before), auth.ErrApproverIsProposer},
		{"created by proposer", sup("stf_a", "", "", before), sup("stf_b", "stf_a", "stf_c", before), auth.ErrApproverNotIndependent},
		{"approver holds proposer's token", sup("stf_a", "", "stf_b", before), sup("stf_b", "", "", before), auth.ErrApproverNotIndependent},
		{"proposer holds approver's token", sup("stf_a", "", "", before), sup("stf_b", "", "stf_a", before), auth.ErrApproverNotIndependent},
		{"newer than proposal", sup("stf_a", "", "", before), sup("stf_b", "", "", after), auth.ErrApproverTooRecent},
		{"same instant", sup("stf_a", "", "", before), sup("stf_b", "", "", t0), auth.ErrApproverTooRecent},
		{"agent approver", sup("stf_a", "", "", before), auth.Staff{ID: "stf_b", Role: auth.Agent, Status: auth.StaffActive, ActivatedAt: &before}, auth.ErrForbidden},
	}
	for _, tc := range cases {
		if err := auth.CheckFourEyes(tc.proposer, tc.approver, t0); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
