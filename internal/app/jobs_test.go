package app_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/app"
	"github.com/inbound-gateway/inbound/internal/jobs"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
)

func services(t *testing.T, b testenv.Backend, now func() time.Time) *app.Services {
	t.Helper()
	key, err := vault.ParseKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	network := httptest.NewServer(cardnet.NewHandler(cardnet.New(cardnet.Config{})))
	t.Cleanup(network.Close)
	svc, err := app.New(context.Background(), b.DB, v, slog.New(slog.DiscardHandler), app.Options{CardnetURL: network.URL, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func names(js []jobs.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.Name
	}
	return out
}

// TestJobsOrder: network repair settles unknown network outcomes before
// load recovery looks at the loads waiting on them, and recovery finishes
// an interrupted unload before its hold can expire.
func TestJobsOrder(t *testing.T) {
	svc := services(t, testenv.Embedded(t), nil)
	got := names(svc.Jobs(app.JobOptions{Interval: time.Second}))
	before := func(a, b string) {
		i, j := slices.Index(got, a), slices.Index(got, b)
		if i < 0 || j < 0 || i >= j {
			t.Errorf("%s must run before %s: %v", a, b, got)
		}
	}
	before(app.JobNetworkRepair, app.JobPrepaidRecover)
	before(app.JobPrepaidRecover, app.JobLedgerExpireHolds)
}

// TestJobsAreAllListed: every job is in the list once, and the list is
// the table of docs/OPERATIONS.md, in its order.
func TestJobsAreAllListed(t *testing.T) {
	svc := services(t, testenv.Embedded(t), nil)
	got := names(svc.Jobs(app.JobOptions{Interval: time.Second}))
	want := []string{app.JobIdempotencyExpire, app.JobNetworkRepair, app.JobPrepaidRecover, app.JobLedgerExpireHolds,
		app.JobLedgerCheckpoint, app.JobEscrowAutoRelease, app.JobPrepaidExpire, app.JobSanctionsRescreen,
		app.JobRetentionErase, app.JobFXPurgeQuotes, app.JobWebhookPurgeDelivered}
	if !slices.Equal(got, want) {
		t.Fatalf("jobs %v, want %v", got, want)
	}
	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_]+)` \\|").FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	if !slices.Equal(documented, want) {
		t.Fatalf("docs/OPERATIONS.md lists the jobs %v, want %v in this order", documented, want)
	}
}

// TestQuotePurgeJob: the fx.purge_quotes job deletes an unused quote a
// day after it expired, on both engines.
func TestQuotePurgeJob(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		now := time.Now().UTC()
		svc := services(t, b, func() time.Time { return now })
		owner := fx.Owner{PartnerID: "ptn_1", VisitorID: "vis_1"}
		q, err := svc.FX.Quote(ctx, fx.Request{Owner: owner, CardID: "card_1", Card: money.USD, Amount: money.New(5000, money.CNY)})
		if err != nil {
			t.Fatal(err)
		}
		var purge jobs.Job
		for _, j := range svc.Jobs(app.JobOptions{Interval: time.Second}) {
			if j.Name == app.JobFXPurgeQuotes {
				purge = j
			}
		}
		// Expired, but not a day ago: kept.
		if err := purge.Run(ctx, q.ExpiresAt().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.FX.Get(ctx, owner, q.ID()); err != nil {
			t.Fatalf("a quote expired a minute ago was purged: %v", err)
		}
		if err := purge.Run(ctx, q.ExpiresAt().Add(app.QuotePurgeAfter+time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.FX.Get(ctx, owner, q.ID()); !errors.Is(err, fx.ErrQuoteNotFound) {
			t.Fatalf("a quote expired over a day ago was kept: %v", err)
		}
	})
}
