package fx_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/money"
)

const goodDoc = `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY",
 "rates": {"USD": "7.1220", "JPY": "0.04730", "KRW": "0.005120"}}`

// mids prints a table's rates for comparison.
func mids(t testing.TB, tb fx.Table) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, code := range tb.Currencies() {
		r, err := tb.Mid(money.MustCurrency(code))
		if err != nil {
			t.Fatal(err)
		}
		out[code] = r.String()
	}
	return out
}

func TestParseTable(t *testing.T) {
	tb, err := fx.ParseTable(strings.NewReader(goodDoc), "doc")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"USD": "7.122", "JPY": "0.0473", "KRW": "0.00512"}
	if diff := cmp.Diff(want, mids(t, tb)); diff != "" {
		t.Errorf("rates (-want +got):\n%s", diff)
	}
	if !tb.AsOf().Equal(t0) || tb.Label() != "doc" {
		t.Errorf("as of %s, label %q", tb.AsOf(), tb.Label())
	}
	if _, err := tb.Mid(money.MustCurrency("EUR")); !errors.Is(err, fx.ErrUnsupportedCurrency) {
		t.Errorf("EUR without a rate: %v", err)
	}
}

func TestParseTableRefuses(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"empty", ``},
		{"not an object", `[]`},
		{"rate as number", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": 7.122}}`},
		{"negative rate", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "-7.122"}}`},
		{"zero rate", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "0.0000"}}`},
		{"exponent", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "7e0"}}`},
		{"plus sign", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "+7.1"}}`},
		{"bare dot", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "7."}}`},
		{"too precise", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "7.122000001"}}`},
		{"absurd", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "100000"}}`},
		{"unknown currency", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"XXX": "1.0"}}`},
		{"lower-case code", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"usd": "7.1"}}`},
		{"CNY itself", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"CNY": "1"}}`},
		{"duplicate currency", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "7.1", "USD": "7.2"}}`},
		{"no rates", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {}}`},
		{"rates not an object", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": ["USD"]}`},
		{"missing rates", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY"}`},
		{"missing as_of", `{"base": "CNY", "rates": {"USD": "7.1"}}`},
		{"missing base", `{"as_of": "2026-11-20T08:00:00Z", "rates": {"USD": "7.1"}}`},
		{"other base", `{"as_of": "2026-11-20T08:00:00Z", "base": "USD", "rates": {"EUR": "1.08"}}`},
		{"as_of not RFC 3339", `{"as_of": "2026-11-20 08:00", "base": "CNY", "rates": {"USD": "7.1"}}`},
		{"as_of a number", `{"as_of": 1763625600, "base": "CNY", "rates": {"USD": "7.1"}}`},
		{"duplicate field", `{"as_of": "2026-11-20T08:00:00Z", "as_of": "2026-11-21T08:00:00Z", "base": "CNY", "rates": {"USD": "7.1"}}`},
		{"unknown field", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "7.1"}, "source": "x"}`},
		{"trailing data", goodDoc + ` {}`},
		{"truncated", goodDoc[:len(goodDoc)-1]},
		{"too large", `{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "7.1"}, "x": "` + strings.Repeat("a", 1<<20) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fx.ParseTable(strings.NewReader(tt.doc), "doc")
			if !errors.Is(err, fx.ErrInvalidRates) {
				t.Fatalf("err = %v, want ErrInvalidRates", err)
			}
		})
	}
}

func FuzzParseTable(f *testing.F) {
	f.Add(goodDoc)
	f.Add(`{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": "7.1", "USD": "7.2"}}`)
	f.Add(`{"rates": {"EUR": "0.00000001"}, "base": "CNY", "as_of": "2026-11-20T08:00:00+08:00"}`)
	f.Fuzz(func(t *testing.T, doc string) {
		tb, err := fx.ParseTable(strings.NewReader(doc), "fuzz")
		if err != nil {
			if !errors.Is(err, fx.ErrInvalidRates) {
				t.Fatalf("error outside ErrInvalidRates: %v", err)
			}
			return
		}
		// Whatever parses is a usable table: card currencies, positive rates.
		if len(tb.Currencies()) == 0 || tb.AsOf().IsZero() {
			t.Fatalf("empty table accepted")
		}
		for _, code := range tb.Currencies() {
			c, err := fx.CardCurrency(code)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := tb.Mid(c); err != nil || !r.IsPositive() {
				t.Fatalf("%s: %s %v", code, r, err)
			}
		}
	})
}

func TestFreshness(t *testing.T) {
	tb := table(t, t0)
	tests := []struct {
		name  string
		now   time.Time
		stale bool
	}{
		{"now", t0, false},
		{"at the limit", t0.Add(time.Hour), false},
		{"past the limit", t0.Add(time.Hour + time.Nanosecond), true},
		{"clock slightly behind the feed", t0.Add(-time.Minute), false},
		{"feed far in the future", t0.Add(-time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tb.Fresh(tt.now, time.Hour)
			if got := errors.Is(err, fx.ErrRatesStale); got != tt.stale {
				t.Fatalf("stale = %v (%v), want %v", got, err, tt.stale)
			}
		})
	}
}

func TestFileSourceAndCache(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rates.json")
	if err := os.WriteFile(path, []byte(goodDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	now := t0
	clock := func() time.Time { return now }
	src, err := fx.OpenSource(ctx, path, fx.Options{Now: clock, Refresh: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := src.Rates(ctx)
	if err != nil || mids(t, tb)["USD"] != "7.122" {
		t.Fatalf("rates %v, %v", mids(t, tb), err)
	}
	// A broken file is not served: the last good table stays until refresh
	// works again, and its age, not the breakage, decides staleness.
	if err := os.WriteFile(path, []byte(`{"broken`), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	tb, err = src.Rates(ctx)
	if err != nil || mids(t, tb)["USD"] != "7.122" {
		t.Fatalf("after a broken refresh: %v, %v", mids(t, tb), err)
	}
	newer := strings.Replace(strings.Replace(goodDoc, "7.1220", "7.2000", 1), "08:00:00Z", "08:01:00Z", 1)
	if err := os.WriteFile(path, []byte(newer), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Second) // within the refresh period: cached
	if tb, _ = src.Rates(ctx); mids(t, tb)["USD"] != "7.122" {
		t.Fatalf("refreshed early: %v", mids(t, tb))
	}
	now = now.Add(time.Minute)
	if tb, _ = src.Rates(ctx); mids(t, tb)["USD"] != "7.2" || !tb.AsOf().Equal(t0.Add(time.Minute)) {
		t.Fatalf("not refreshed: %v as of %s", mids(t, tb), tb.AsOf())
	}

	if _, err := fx.OpenSource(ctx, filepath.Join(t.TempDir(), "missing.json"), fx.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte(`{"as_of": "2026-11-20T08:00:00Z", "base": "CNY", "rates": {"USD": 7.1}}`), 0o600)
	if _, err := fx.OpenSource(ctx, bad, fx.Options{}); !errors.Is(err, fx.ErrInvalidRates) {
		t.Fatalf("bad file: %v", err)
	}
}

func TestURLSource(t *testing.T) {
	ctx := context.Background()
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(goodDoc))
	}))
	defer srv.Close()
	src, err := fx.OpenSource(ctx, srv.URL+"/rates.json", fx.Options{Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := src.Rates(ctx)
	if err != nil || mids(t, tb)["KRW"] != "0.00512" {
		t.Fatalf("rates %v, %v", mids(t, tb), err)
	}
	fail.Store(true)
	if _, err := fx.NewURLSource(srv.URL, srv.Client()).Rates(ctx); err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("502 from the feed: %v", err)
	}
	if _, err := fx.OpenSource(ctx, srv.URL, fx.Options{Client: srv.Client()}); err == nil {
		t.Fatal("OpenSource accepted a failing feed")
	}
}

func TestBuiltin(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(1234 * time.Second)
	fixed := fx.NewBuiltin(fx.BuiltinOptions{Now: func() time.Time { return now }})
	tb, err := fixed.Rates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !tb.AsOf().Equal(now) || mids(t, tb)["USD"] != "7.122" || len(tb.Currencies()) != len(fx.CardCurrencies()) {
		t.Fatalf("fixed built-in: %v as of %s", mids(t, tb), tb.AsOf())
	}
	if tb.Fresh(now, time.Second) != nil {
		t.Fatal("the built-in table is stale")
	}
	src, err := fx.OpenSource(ctx, "", fx.Options{Now: func() time.Time { return now }, Simulate: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(*fx.Builtin); !ok {
		t.Fatalf("empty INBOUND_FX_RATES gave %T", src)
	}
	if tb, err = src.Rates(ctx); err != nil || tb.Label() != "built-in (simulated)" {
		t.Fatalf("simulated built-in: %q, %v", tb.Label(), err)
	}
}

// TestBuiltinWalk: simulated moves stay within +-1 % of the defaults, move
// at all, are reproducible for a seed whatever the call order, and differ
// between seeds.
func TestBuiltinWalk(t *testing.T) {
	ctx := context.Background()
	base := fx.DefaultMids()
	onePct := decimal.New(1, -2)
	at := func(seed uint64, times []time.Time) []map[string]string {
		var now time.Time
		b := fx.NewBuiltin(fx.BuiltinOptions{Now: func() time.Time { return now }, Simulate: true, Seed: seed})
		var out []map[string]string
		for _, ts := range times {
			now = ts
			tb, err := b.Rates(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tb.AsOf().After(ts) || ts.Sub(tb.AsOf()) >= time.Minute {
				t.Fatalf("as of %s at %s", tb.AsOf(), ts)
			}
			for code, r := range mids(t, tb) {
				m := decimal.RequireFromString(r)
				if m.Sub(base[code]).Abs().GreaterThan(base[code].Mul(onePct)) {
					t.Fatalf("%s at %s: %s is more than 1%% from %s", code, ts, m, base[code])
				}
			}
			out = append(out, mids(t, tb))
		}
		return out
	}
	var forward []time.Time
	for i := range 3000 { // two days of minutes
		forward = append(forward, t0.Add(time.Duration(i)*time.Minute))
	}
	a := at(42, forward)
	moved := false
	for _, m := range a {
		if m["USD"] != "7.122" {
			moved = true
		}
	}
	if !moved {
		t.Fatal("the walk never moved USD")
	}
	// Same seed, every 37th time in reverse: same rates at each time.
	var idx []int
	var reverse []time.Time
	for i := len(forward) - 1; i >= 0; i -= 37 {
		idx = append(idx, i)
		reverse = append(reverse, forward[i])
	}
	for j, m := range at(42, reverse) {
		if diff := cmp.Diff(a[idx[j]], m); diff != "" {
			t.Fatalf("seed 42 at %s differs by call order:\n%s", reverse[j], diff)
		}
	}
	other, same := at(7, forward), true
	for i := range a {
		same = same && maps.Equal(a[i], other[i])
	}
	if same {
		t.Fatal("seeds 42 and 7 walk alike")
	}
}

func TestServiceRatesAndStaleness(t *testing.T) {
	ctx := context.Background()
	now := t0
	clock := func() time.Time { return now }
	src := staticSource{table(t, t0)}
	svc, err := fx.NewService(src, nopStore{}, fx.DefaultConfig(), clock)
	if err != nil {
		t.Fatal(err)
	}
	rates, err := svc.Rates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rates {
		got = append(got, r.Currency.Code()+" "+r.MidString()+" "+r.LoadString()+" "+r.UnloadString())
	}
	want := []string{
		"AUD 4.6210 4.5747 4.6673", "CAD 5.1130 5.0618 5.1642", "CHF 8.0460 7.9655 8.1265",
		"EUR 7.7150 7.6378 7.7922", "GBP 9.0320 8.9416 9.1224", "HKD 0.9120 0.9028 0.9212",
		"JPY 0.04730 0.04682 0.04778", "KRW 0.005120 0.005068 0.005172", "SGD 5.3040 5.2509 5.3571",
		"USD 7.1220 7.0507 7.1933",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rates (-want +got):\n%s", diff)
	}
	now = t0.Add(fx.DefaultMaxAge + time.Second)
	if _, err := svc.Rates(ctx); !errors.Is(err, fx.ErrRatesStale) {
		t.Fatalf("stale rates listed: %v", err)
	}
	req := fx.Request{Owner: owner, CardID: "card_1", Card: money.USD, Amount: amt(t, "100.00", "CNY")}
	if _, err := svc.Quote(ctx, req); !errors.Is(err, fx.ErrRatesStale) {
		t.Fatalf("stale rates quoted: %v", err)
	}
	down, _ := fx.NewService(failingSource{}, nopStore{}, fx.DefaultConfig(), clock)
	if _, err := down.Quote(ctx, req); !errors.Is(err, fx.ErrRatesStale) {
		t.Fatalf("failing source: %v", err)
	}
}

type staticSource struct{ t fx.Table }

func (s staticSource) Rates(context.Context) (fx.Table, error) { return s.t, nil }

type failingSource struct{}

func (failingSource) Rates(context.Context) (fx.Table, error) {
	return fx.Table{}, errors.New("feed down")
}

type nopStore struct{}

func (nopStore) Create(context.Context, fx.Quote, []db.Then[fx.Quote]) error { return nil }
func (nopStore) Get(context.Context, fx.Owner, string) (fx.Quote, error) {
	return fx.Quote{}, fx.ErrQuoteNotFound
}
