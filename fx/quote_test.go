package fx_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/internal/money"
)

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

var owner = fx.Owner{PartnerID: "ptn_1", VisitorID: "vis_1"}

// table returns the built-in mids dated at.
func table(t testing.TB, at time.Time) fx.Table {
	t.Helper()
	tb, err := fx.NewTable(at, fx.DefaultMids(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func amt(t testing.TB, value, code string) money.Amount {
	t.Helper()
	a, err := money.Parse(value, code)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// view is a quote as strings, for readable diffs.
type view struct {
	Kind, Sell, Buy, Rate, Mid, Fee, Credited, MidValue, Spread string
	TTL                                                         time.Duration
}

func viewOf(q fx.Quote) view {
	return view{
		Kind: q.Kind().String(), Sell: q.Sell().String(), Buy: q.Buy().String(),
		Rate: q.RateString(), Mid: q.MidRateString(), Fee: q.Fee().String(),
		Credited: q.Credited().String(), MidValue: q.MidValue().String(),
		Spread: q.SpreadRevenue().String(), TTL: q.ExpiresAt().Sub(q.CreatedAt()),
	}
}

func TestNewQuote(t *testing.T) {
	cfg := fx.DefaultConfig()
	tests := []struct {
		name   string
		card   string
		amount money.Amount
		want   view
	}{
		{
			// docs/API.md: USD 141.83 at mid 7.1220, rate 7.0507, fee 30.00.
			// 141.83 x 7.1220 = 1010.11326 -> 1010.11; spread 10.11.
			name: "design example, buy CNY 1000", card: "USD", amount: amt(t, "1000.00", "CNY"),
			want: view{Kind: "load", Sell: "141.83 USD", Buy: "1000.00 CNY", Rate: "7.0507", Mid: "7.1220", //nolint:gosec // not a credential: a quote fixture
				Fee: "30.00 CNY", Credited: "970.00 CNY", MidValue: "1010.11 CNY", Spread: "10.11 CNY", TTL: time.Minute},
		},
		{
			// 100 x 7.05078 = 705.078 -> 705.07 down; fee 21.1521 -> 21.16 up.
			name: "sell USD 100", card: "USD", amount: amt(t, "100.00", "USD"),
			want: view{Kind: "load", Sell: "100.00 USD", Buy: "705.07 CNY", Rate: "7.0507", Mid: "7.1220", //nolint:gosec // not a credential: a quote fixture
				Fee: "21.16 CNY", Credited: "683.91 CNY", MidValue: "712.20 CNY", Spread: "7.13 CNY", TTL: time.Minute},
		},
		{
			name: "fee threshold: exactly CNY 200 pays none", card: "USD", amount: amt(t, "200.00", "CNY"),
			// 200 / 7.05078 = 28.3656.. -> 28.37; 28.37 x 7.1220 = 202.05114.
			want: view{Kind: "load", Sell: "28.37 USD", Buy: "200.00 CNY", Rate: "7.0507", Mid: "7.1220", //nolint:gosec // not a credential: a quote fixture
				Fee: "0.00 CNY", Credited: "200.00 CNY", MidValue: "202.05 CNY", Spread: "2.05 CNY", TTL: time.Minute},
		},
		{
			name: "fee threshold: CNY 200.01 pays 6.01", card: "USD", amount: amt(t, "200.01", "CNY"),
			// 200.01 x 0.03 = 6.0003 -> 6.01 up.
			want: view{Kind: "load", Sell: "28.37 USD", Buy: "200.01 CNY", Rate: "7.0507", Mid: "7.1220",
				Fee: "6.01 CNY", Credited: "194.00 CNY", MidValue: "202.05 CNY", Spread: "2.04 CNY", TTL: time.Minute},
		},
		{
			// rate 0.04730 x 0.99 = 0.046827; 1000 / 0.046827 = 21355.19 -> 21356.
			// 21356 x 0.0473 = 1010.1388 -> 1010.13.
			name: "JPY, buy CNY 1000", card: "JPY", amount: amt(t, "1000.00", "CNY"),
			want: view{Kind: "load", Sell: "21356 JPY", Buy: "1000.00 CNY", Rate: "0.04682", Mid: "0.04730",
				Fee: "30.00 CNY", Credited: "970.00 CNY", MidValue: "1010.13 CNY", Spread: "10.13 CNY", TTL: time.Minute},
		},
		{
			// 10000 x 0.046827 = 468.27 exactly.
			name: "JPY, sell 10000", card: "JPY", amount: amt(t, "10000", "JPY"),
			want: view{Kind: "load", Sell: "10000 JPY", Buy: "468.27 CNY", Rate: "0.04682", Mid: "0.04730",
				Fee: "14.05 CNY", Credited: "454.22 CNY", MidValue: "473.00 CNY", Spread: "4.73 CNY", TTL: time.Minute},
		},
		{
			// rate 0.00512 x 0.99 = 0.0050688; 1000 / 0.0050688 = 197285.35 -> 197286.
			// 197286 x 0.00512 = 1010.10432 -> 1010.10.
			name: "KRW, buy CNY 1000", card: "KRW", amount: amt(t, "1000.00", "CNY"),
			want: view{Kind: "load", Sell: "197286 KRW", Buy: "1000.00 CNY", Rate: "0.005068", Mid: "0.005120",
				Fee: "30.00 CNY", Credited: "970.00 CNY", MidValue: "1010.10 CNY", Spread: "10.10 CNY", TTL: time.Minute},
		},
		{
			// 1 KRW x 0.0050688 = 0.0050688 -> 0.00 CNY: nothing to credit.
			name: "KRW, sell 99 converts to 0.50", card: "KRW", amount: amt(t, "99", "KRW"),
			want: view{Kind: "load", Sell: "99 KRW", Buy: "0.50 CNY", Rate: "0.005068", Mid: "0.005120",
				Fee: "0.00 CNY", Credited: "0.50 CNY", MidValue: "0.50 CNY", Spread: "0.00 CNY", TTL: time.Minute},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := fx.Request{Owner: owner, CardID: "card_1", Card: money.MustCurrency(tt.card), Amount: tt.amount}
			q, err := fx.NewQuote("quo_1", req, table(t, t0), cfg, t0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, viewOf(q)); diff != "" {
				t.Errorf("quote (-want +got):\n%s", diff)
			}
			if q.ID() != "quo_1" || q.CardID() != "card_1" || q.Owner() != owner || q.Used() {
				t.Errorf("identity fields: %q %q %+v used=%v", q.ID(), q.CardID(), q.Owner(), q.Used())
			}
		})
	}
}

// TestLegs checks the ledger batch of the worked example load of docs/API.md, and its
// mirror for an unload.
func TestLegs(t *testing.T) {
	type line struct{ Debit, Credit, Amount string }
	lines := func(q fx.Quote) []line {
		var out []line
		for _, l := range q.Legs() {
			out = append(out, line{l.Debit.String(), l.Credit.String(), l.Amount.String()})
		}
		return out
	}
	req := fx.Request{Owner: owner, CardID: "card_1", Card: money.USD, Amount: amt(t, "1000.00", "CNY")}
	load, err := fx.NewQuote("quo_1", req, table(t, t0), fx.DefaultConfig(), t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []line{
		{"network", "fx_card", "141.83 USD"},
		{"fx_cny", "visitor", "970.00 CNY"},
		{"fx_cny", "fees", "30.00 CNY"},
		{"fx_cny", "fx_spread", "10.11 CNY"},
	}
	if diff := cmp.Diff(want, lines(load)); diff != "" {
		t.Errorf("load legs (-want +got):\n%s", diff)
	}
	req.Amount = amt(t, "970.00", "CNY")
	unload, err := fx.NewUnloadQuote("quo_2", req, table(t, t0), fx.DefaultConfig(), t0)
	if err != nil {
		t.Fatal(err)
	}
	want = []line{
		{"visitor", "fx_cny", "970.00 CNY"},
		{"fx_cny", "fx_spread", "9.66 CNY"},
		{"fx_card", "network", "134.84 USD"},
	}
	if diff := cmp.Diff(want, lines(unload)); diff != "" {
		t.Errorf("unload legs (-want +got):\n%s", diff)
	}
	// A small load pays no fee: no zero-amount leg.
	req.Amount = amt(t, "150.00", "CNY")
	small, err := fx.NewQuote("quo_3", req, table(t, t0), fx.DefaultConfig(), t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range small.Legs() {
		if l.Credit == fx.RoleFees || !l.Amount.IsPositive() {
			t.Errorf("small load leg %+v", l)
		}
	}
}

// TestLegsProperty: for any quote the fx:CNY account moves exactly the
// mid value, the card side exactly the card amount, and no leg is empty.
func TestLegsProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		card, tb, cfg := genQuoteInputs(t)
		cny := money.New(rapid.Int64Range(1, 1_000_000_000).Draw(t, "cny_fen"), money.CNY)
		req := fx.Request{Owner: owner, Card: card, Amount: cny}
		mk := fx.NewQuote
		if rapid.Bool().Draw(t, "unload") {
			mk = fx.NewUnloadQuote
		}
		q, err := mk("quo_p", req, tb, cfg, t0)
		if err != nil {
			return
		}
		var fxCNY, fxCard, visitor int64
		for _, l := range q.Legs() {
			if !l.Amount.IsPositive() {
				t.Fatalf("empty leg %+v", l)
			}
			m := l.Amount.Minor()
			switch {
			case l.Debit == fx.RoleFXCNY:
				fxCNY += m
			case l.Credit == fx.RoleFXCNY:
				fxCNY -= m
			}
			switch {
			case l.Debit == fx.RoleFXCard:
				fxCard += m
			case l.Credit == fx.RoleFXCard:
				fxCard -= m
			}
			switch {
			case l.Debit == fx.RoleVisitor:
				visitor -= m
			case l.Credit == fx.RoleVisitor:
				visitor += m
			}
		}
		if q.Kind() == fx.KindLoad {
			if fxCNY != q.MidValue().Minor() || fxCard != -q.Card().Minor() || visitor != q.Credited().Minor() {
				t.Fatalf("load: fx:CNY %d fx:card %d visitor %d for %+v", fxCNY, fxCard, visitor, viewOf(q))
			}
		} else if fxCNY != -q.MidValue().Minor() || fxCard != q.Card().Minor() || visitor != -q.Sell().Minor() {
			t.Fatalf("unload: fx:CNY %d fx:card %d visitor %d for %+v", fxCNY, fxCard, visitor, viewOf(q))
		}
	})
}

func TestNewUnloadQuote(t *testing.T) {
	cfg := fx.DefaultConfig()
	tests := []struct {
		name   string
		card   string
		amount money.Amount
		want   view
	}{
		{
			// rate 7.1220 x 1.01 = 7.19322; 970 / 7.19322 = 134.849.. -> 134.84 down.
			// 134.84 x 7.1220 = 960.33048 -> 960.34 up; spread 9.66.
			name: "USD, CNY 970", card: "USD", amount: amt(t, "970.00", "CNY"),
			want: view{Kind: "unload", Sell: "970.00 CNY", Buy: "134.84 USD", Rate: "7.1933", Mid: "7.1220",
				Fee: "0.00 CNY", Credited: "134.84 USD", MidValue: "960.34 CNY", Spread: "9.66 CNY", TTL: time.Minute},
		},
		{
			// rate 0.04730 x 1.01 = 0.047773; 970 / 0.047773 = 20304.3 -> 20304.
			// 20304 x 0.0473 = 960.3792 -> 960.38.
			name: "JPY, CNY 970", card: "JPY", amount: amt(t, "970.00", "CNY"),
			want: view{Kind: "unload", Sell: "970.00 CNY", Buy: "20304 JPY", Rate: "0.04778", Mid: "0.04730",
				Fee: "0.00 CNY", Credited: "20304 JPY", MidValue: "960.38 CNY", Spread: "9.62 CNY", TTL: time.Minute},
		},
		{
			// rate 0.00512 x 1.01 = 0.0051712; 0.01 / 0.0051712 = 1.93 -> 1 KRW.
			name: "KRW, one fen buys one won", card: "KRW", amount: amt(t, "0.01", "CNY"),
			want: view{Kind: "unload", Sell: "0.01 CNY", Buy: "1 KRW", Rate: "0.005172", Mid: "0.005120",
				Fee: "0.00 CNY", Credited: "1 KRW", MidValue: "0.01 CNY", Spread: "0.00 CNY", TTL: time.Minute},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := fx.Request{Owner: owner, CardID: "card_1", Card: money.MustCurrency(tt.card), Amount: tt.amount}
			q, err := fx.NewUnloadQuote("quo_1", req, table(t, t0), cfg, t0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, viewOf(q)); diff != "" {
				t.Errorf("quote (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuoteErrors(t *testing.T) {
	cfg := fx.DefaultConfig()
	onlyUSD, err := fx.NewTable(t0, map[string]decimal.Decimal{"USD": decimal.RequireFromString("7.1220")}, "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		unload bool
		card   money.Currency
		amount money.Amount
		rates  fx.Table
		now    time.Time
		want   error
	}{
		{"zero amount", false, money.USD, money.New(0, money.CNY), table(t, t0), t0, fx.ErrInvalidAmount},
		{"negative amount", false, money.USD, money.New(-100, money.USD), table(t, t0), t0, fx.ErrInvalidAmount},
		{"third currency", false, money.USD, amt(t, "10.00", "EUR"), table(t, t0), t0, fx.ErrInvalidAmount},
		{"card amount converts to nothing", false, money.MustCurrency("KRW"), amt(t, "1", "KRW"), table(t, t0), t0, fx.ErrInvalidAmount},
		{"unload of card currency", true, money.USD, amt(t, "10.00", "USD"), table(t, t0), t0, fx.ErrInvalidAmount},
		{"unload below one cent", true, money.USD, amt(t, "0.07", "CNY"), table(t, t0), t0, fx.ErrInvalidAmount},
		{"CNY is not a card currency", false, money.CNY, amt(t, "10.00", "CNY"), table(t, t0), t0, fx.ErrUnsupportedCurrency},
		{"NZD is not quoted", false, money.MustCurrency("NZD"), amt(t, "10.00", "CNY"), table(t, t0), t0, fx.ErrUnsupportedCurrency},
		{"no rate in the table", false, money.MustCurrency("EUR"), amt(t, "10.00", "CNY"), onlyUSD, t0, fx.ErrUnsupportedCurrency},
		{"stale rates", false, money.USD, amt(t, "10.00", "CNY"), table(t, t0), t0.Add(fx.DefaultMaxAge + time.Second), fx.ErrRatesStale},
		{"stale rates, unload", true, money.USD, amt(t, "10.00", "CNY"), table(t, t0), t0.Add(fx.DefaultMaxAge + time.Second), fx.ErrRatesStale},
		{"rates from the future", false, money.USD, amt(t, "10.00", "CNY"), table(t, t0.Add(time.Hour)), t0, fx.ErrRatesStale},
		{"no rates at all", false, money.USD, amt(t, "10.00", "CNY"), fx.Table{}, t0, fx.ErrRatesStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := fx.Request{Owner: owner, CardID: "card_1", Card: tt.card, Amount: tt.amount}
			mk := fx.NewQuote
			if tt.unload {
				mk = fx.NewUnloadQuote
			}
			_, err := mk("quo_1", req, tt.rates, cfg, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStalenessEdgeAndExpiry(t *testing.T) {
	cfg := fx.DefaultConfig()
	req := fx.Request{Owner: owner, CardID: "card_1", Card: money.USD, Amount: amt(t, "100.00", "CNY")}
	// Ten seconds before the limit the rates still quote, and the quote
	// expires with the rates rather than a TTL later; at the limit, no quote.
	now := t0.Add(cfg.MaxAge - 10*time.Second)
	q, err := fx.NewQuote("quo_1", req, table(t, t0), cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(cfg.MaxAge); !q.ExpiresAt().Equal(want) {
		t.Fatalf("expires %s, want the rates' limit %s", q.ExpiresAt(), want)
	}
	if _, err := fx.NewQuote("quo_1", req, table(t, t0), cfg, t0.Add(cfg.MaxAge)); !errors.Is(err, fx.ErrRatesStale) {
		t.Fatalf("quote at the staleness limit: %v", err)
	}
	q, err = fx.NewQuote("quo_2", req, table(t, t0), cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Usable(t0.Add(cfg.TTL - time.Nanosecond)); err != nil {
		t.Fatalf("usable before expiry: %v", err)
	}
	if err := q.Usable(t0.Add(cfg.TTL)); !errors.Is(err, fx.ErrQuoteExpired) {
		t.Fatalf("usable at expiry: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*fx.Config){
		func(c *fx.Config) { c.Spread = decimal.New(-1, -2) },
		func(c *fx.Config) { c.Spread = decimal.New(5, -1) },
		func(c *fx.Config) { c.FeeRate = decimal.New(-1, 0) },
		func(c *fx.Config) { c.FeeThreshold = money.New(100, money.USD) },
		func(c *fx.Config) { c.TTL = 0 },
		func(c *fx.Config) { c.MaxAge = -time.Second },
	}
	if err := fx.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for i, mut := range bad {
		c := fx.DefaultConfig()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: bad config accepted: %+v", i, c)
		}
	}
}

// genQuoteInputs draws a card currency, a mid of realistic size and
// precision, and terms.
func genQuoteInputs(t *rapid.T) (money.Currency, fx.Table, fx.Config) {
	cards := fx.CardCurrencies()
	card := cards[rapid.IntRange(0, len(cards)-1).Draw(t, "card")]
	// mid = m x 10^-e: from 0.00001 up to about 100 with up to 8 decimals.
	e := rapid.Int32Range(1, 8).Draw(t, "exp")
	m := rapid.Int64Range(1, 10_000_000_000).Draw(t, "mantissa")
	mid := decimal.New(m, -e)
	if mid.GreaterThanOrEqual(decimal.NewFromInt(100)) {
		mid = mid.Mod(decimal.NewFromInt(100)).Add(decimal.New(1, -e))
	}
	tb, err := fx.NewTable(t0, map[string]decimal.Decimal{card.Code(): mid}, "rapid")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fx.DefaultConfig()
	cfg.Spread = decimal.New(rapid.Int64Range(0, 499).Draw(t, "spread_bp"), -3)
	cfg.FeeRate = decimal.New(rapid.Int64Range(0, 499).Draw(t, "fee_permille"), -3)
	cfg.FeeThreshold = money.New(rapid.Int64Range(0, 100_000).Draw(t, "threshold"), money.CNY)
	return card, tb, cfg
}

// TestLoadQuoteNeverFavoursTheCustomer: for any load quote, credited <=
// buy <= sell x rate (exact), the fee is rate x buy rounded up, the spread
// revenue is not negative, and the customer is not charged a whole minor
// unit more than needed.
func TestLoadQuoteNeverFavoursTheCustomer(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		card, tb, cfg := genQuoteInputs(t)
		var amount money.Amount
		if rapid.Bool().Draw(t, "buy_side") {
			amount = money.New(rapid.Int64Range(1, 1_000_000_000).Draw(t, "buy_fen"), money.CNY)
		} else {
			amount = money.New(rapid.Int64Range(1, 1_000_000_000).Draw(t, "sell_minor"), card)
		}
		q, err := fx.NewQuote("quo_p", fx.Request{Owner: owner, Card: card, Amount: amount}, tb, cfg, t0)
		if errors.Is(err, fx.ErrInvalidAmount) {
			return // converts to nothing after the fee: refused, fine
		}
		if err != nil {
			t.Fatal(err)
		}
		sell, buy, credited := q.Sell().Decimal(), q.Buy().Decimal(), q.Credited().Decimal()
		worth := sell.Mul(q.Rate())
		if buy.GreaterThan(worth) {
			t.Fatalf("buy %s > sell %s x rate %s = %s", buy, sell, q.Rate(), worth)
		}
		if credited.GreaterThan(worth) || credited.GreaterThan(buy) || !q.Credited().IsPositive() {
			t.Fatalf("credited %s, buy %s, sell x rate %s", credited, buy, worth)
		}
		if q.Credited().Minor()+q.Fee().Minor() != q.Buy().Minor() {
			t.Fatalf("credited %s + fee %s != buy %s", q.Credited(), q.Fee(), q.Buy())
		}
		wantFee := decimal.Zero
		if q.Buy().Minor() > cfg.FeeThreshold.Minor() {
			wantFee = buy.Mul(cfg.FeeRate)
		}
		if fee := q.Fee().Decimal(); fee.LessThan(wantFee) || fee.Sub(wantFee).GreaterThanOrEqual(decimal.New(1, -2)) {
			t.Fatalf("fee %s for exact %s", fee, wantFee)
		}
		if q.SpreadRevenue().IsNegative() || q.MidValue().Decimal().GreaterThan(sell.Mul(q.MidRate())) {
			t.Fatalf("spread %s, mid value %s > sell x mid %s", q.SpreadRevenue(), q.MidValue(), sell.Mul(q.MidRate()))
		}
		unit := decimal.New(1, -card.Digits())
		fen := decimal.New(1, -2)
		if amount.Currency() == money.CNY {
			// Minimal sell: one minor unit less would not pay for the buy.
			if !sell.Sub(unit).Mul(q.Rate()).LessThan(buy) {
				t.Fatalf("sell %s is more than needed for %s at %s", sell, buy, q.Rate())
			}
		} else if !buy.Add(fen).GreaterThan(worth) {
			// Maximal buy: one fen more would exceed what the sell is worth.
			t.Fatalf("buy %s is less than %s allows", buy, worth)
		}
	})
}

// TestUnloadQuoteBankNeverLoses: the card amount at the customer rate never
// exceeds the CNY taken, nor does it at mid, and the spread is not negative.
func TestUnloadQuoteBankNeverLoses(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		card, tb, cfg := genQuoteInputs(t)
		cny := money.New(rapid.Int64Range(1, 1_000_000_000).Draw(t, "cny_fen"), money.CNY)
		q, err := fx.NewUnloadQuote("quo_p", fx.Request{Owner: owner, Card: card, Amount: cny}, tb, cfg, t0)
		if errors.Is(err, fx.ErrInvalidAmount) {
			// Too little CNY for one minor unit: check that really is so.
			mid, _ := tb.Mid(card)
			rate := mid.Mul(decimal.NewFromInt(1).Add(cfg.Spread))
			if !decimal.New(1, -card.Digits()).Mul(rate).GreaterThan(cny.Decimal()) {
				t.Fatalf("refused %s although it buys a minor unit of %s at %s", cny, card, rate)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		out := q.Buy().Decimal()
		paid := q.Sell().Decimal()
		if out.Mul(q.Rate()).GreaterThan(paid) {
			t.Fatalf("pays out %s worth %s at the rate for %s", q.Buy(), out.Mul(q.Rate()), q.Sell())
		}
		if out.Mul(q.MidRate()).GreaterThan(paid) || q.MidValue().Decimal().LessThan(out.Mul(q.MidRate())) {
			t.Fatalf("mid value %s, card at mid %s, paid %s", q.MidValue(), out.Mul(q.MidRate()), paid)
		}
		if q.SpreadRevenue().IsNegative() || q.Fee().Minor() != 0 || q.Credited() != q.Buy() {
			t.Fatalf("spread %s fee %s credited %s", q.SpreadRevenue(), q.Fee(), q.Credited())
		}
		// Maximal: one more minor unit would cost more than the CNY given.
		if !out.Add(decimal.New(1, -card.Digits())).Mul(q.Rate()).GreaterThan(paid) {
			t.Fatalf("pays out %s, less than %s allows", q.Buy(), q.Sell())
		}
	})
}

// TestPrintedRateNeverOverstates: the printed rate is never better for the
// customer than the rate used.
func TestPrintedRateNeverOverstates(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		card, tb, cfg := genQuoteInputs(t)
		cny := money.New(rapid.Int64Range(100_000, 1_000_000).Draw(t, "cny_fen"), money.CNY)
		req := fx.Request{Owner: owner, Card: card, Amount: cny}
		if q, err := fx.NewQuote("quo_p", req, tb, cfg, t0); err == nil {
			if printed := decimal.RequireFromString(q.RateString()); printed.GreaterThan(q.Rate()) {
				t.Fatalf("load rate printed %s > %s", printed, q.Rate())
			}
		}
		if q, err := fx.NewUnloadQuote("quo_p", req, tb, cfg, t0); err == nil {
			if printed := decimal.RequireFromString(q.RateString()); printed.LessThan(q.Rate()) {
				t.Fatalf("unload rate printed %s < %s", printed, q.Rate())
			}
		}
	})
}
