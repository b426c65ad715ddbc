package main

import (
	"os/exec"
	"strings"
	"testing"
)

// forbiddenDeps are the parts of the gateway's storage and KYC stack that
// the cardnet simulator must not pull in: partners run it on its own, and
// it keeps its state in a file, not a database.
var forbiddenDeps = []string{
	"gorm.io/",
	"github.com/glebarez/",
	"modernc.org/sqlite",
	"github.com/jackc/pgx",
	"github.com/inbound-gateway/inbound/kyc",
	"github.com/inbound-gateway/inbound/internal/db",
	"github.com/inbound-gateway/inbound/internal/testenv",
	"github.com/inbound-gateway/inbound/internal/vault",
	"github.com/inbound-gateway/inbound/internal/kv",
	"github.com/redis/",
	"github.com/alicebob/miniredis",
}

// TestNoStorageDeps fails when cmd/cardnet or gateway/cardnet, built
// without tests, depends on any of forbiddenDeps.
func TestNoStorageDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, pkg := range []string{".", "../../gateway/cardnet"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range forbiddenDeps {
				if strings.HasPrefix(dep, bad) {
					t.Errorf("%s depends on %s (forbidden prefix %s)", pkg, dep, bad)
				}
			}
		}
	}
}
