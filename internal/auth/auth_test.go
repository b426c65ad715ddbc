package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

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
	if (auth.Role{}).Allows(auth.Viewer) {
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
			if _, err := svc.EnsureStaffToken(ctx, "stf_"+strings.Repeat("b", 3), "Boot", "st_bootstrap_0123456789abcdef"); err != nil {
				t.Fatal(err)
			}
		}
		st, err := svc.AuthenticateStaff(ctx, "st_bootstrap_0123456789abcdef")
		if err != nil || st.Role != auth.Supervisor {
			t.Fatalf("bootstrap staff: %v %v", st, err)
		}
		if _, _, err := svc.CreateStaff(ctx, "stf_x", "", auth.Agent, ""); !errors.Is(err, auth.ErrInvalidName) {
			t.Fatalf("empty name: %v", err)
		}
	})
}
