package gateway_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// TestNoPANOrCVCAtRest binds, verifies, pays and fails with several cards,
// with unusual CVCs, and then scans the captured logs and every row of
// every table: no PAN and no CVC may appear anywhere.
func TestNoPANOrCVCAtRest(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		cards := []struct{ pan, cvc string }{
			{"4242424242424242", "947"},
			{"378282246310005", "8361"},
			{"4000000000003220", "582"},
			{"4000000000000002", "719"},
			{"4000000000000259", "638"},
			{"4242424242424241", "475"}, // Luhn-invalid: refused before anything is stored
		}
		for _, c := range cards {
			v := e.anna(t)
			in := input(c.pan)
			in.CVC = c.cvc
			card, err := e.binder.Bind(ctx, e.partner, v, in)
			// Errors must not carry the number or CVC either.
			if err != nil {
				checkClean(t, "error", err.Error(), c.pan, c.cvc)
				continue
			}
			if card.Status == gateway.StatusRequiresAction {
				if card, err = e.binder.Verify(ctx, e.partner, v.ID, card.ID, cardnet.OTP); err != nil {
					t.Fatal(err)
				}
			}
			_, err = e.client.Sale(ctx, card.ID, "load_"+card.ID, usd(1234), nil)
			if err != nil {
				checkClean(t, "error", err.Error(), c.pan, c.cvc)
			}
			checkClean(t, "formatted input", fmt.Sprintf("%v %+v %#v %s", in, in, in, in), c.pan, c.cvc)
		}
		logs := e.logs.String()
		if !strings.Contains(logs, "card verification") {
			t.Fatalf("the logs captured nothing: %q", logs)
		}
		dump := dumpTables(t, b)
		for _, c := range cards {
			checkClean(t, "logs", logs, c.pan, c.cvc)
			checkClean(t, "database", dump, c.pan, c.cvc)
		}
	})
}

// checkClean fails when text holds pan, or cvc as a token of its own (a
// CVC is a few digits, which ids and hashes contain by chance).
func checkClean(t *testing.T, where, text, pan, cvc string) {
	t.Helper()
	if strings.Contains(text, pan) {
		t.Errorf("%s contains the PAN %s", where, gateway.MaskPAN(pan))
	}
	if regexp.MustCompile(`(^|[^0-9A-Za-z])` + cvc + `([^0-9A-Za-z]|$)`).MatchString(text) {
		t.Errorf("%s contains the CVC of %s", where, gateway.MaskPAN(pan))
	}
}

// dumpTables renders every row of every table of the database.
func dumpTables(t *testing.T, b testenv.Backend) string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if b.DB.Dialect == db.Postgres {
		q = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
	}
	var tables []string
	if err := b.DB.Gorm.Raw(q).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, table := range tables {
		var rows []map[string]any
		if err := b.DB.Gorm.Raw(`SELECT * FROM "` + table + `"`).Scan(&rows).Error; err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for _, r := range rows {
			for k, v := range r {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&sb, "%s.%s=%v\n", table, k, v)
			}
		}
	}
	if !strings.Contains(sb.String(), "cards.pan_sealed=") {
		t.Fatal("the dump holds no card")
	}
	return sb.String()
}
