package prepaid_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/kyc"
	"github.com/inbound-gateway/inbound/prepaid"
)

// start is the tests' clock at the beginning.
var start = time.Date(2026, time.November, 25, 10, 0, 0, 0, time.UTC)

// recorder keeps the emitted events (testenv.Recorder) and lists them by
// the object they are about.
type recorder struct{ *testenv.Recorder }

// types lists the event types about object id (a load, unload or account).
func (r recorder) types(id string) []string {
	return r.Types(func(e testenv.Event) bool {
		var got string
		switch d := e.Data.(type) {
		case prepaid.Load:
			got = d.ID
		case prepaid.Unload:
			got = d.ID
		case map[string]any:
			got, _ = d["id"].(string)
		}
		return got == id
	})
}

// env is a prepaid service on real storage, a real gateway client and an
// in-process card network simulator.
type env struct {
	b       testenv.Backend
	clock   *testenv.Clock
	engine  *cardnet.Engine
	client  *gateway.Client
	binder  *gateway.Binder
	fx      *fx.Service
	ledger  *ledger.Ledger
	store   *prepaid.Store
	events  recorder
	svc     *prepaid.Service
	deps    prepaid.Deps
	partner string
}

type envOptions struct {
	limits prepaid.Limits
	// network wraps the gateway client (crash simulation).
	network func(prepaid.Network) prepaid.Network
	// rates wraps the rate source (moving the market).
	rates func(fx.Source) fx.Source
}

func newEnv(t testing.TB, b testenv.Backend, o envOptions) *env {
	t.Helper()
	clk := testenv.NewClock(start)
	eng := cardnet.New(cardnet.Config{Now: clk.Now, Seed: 7, MaxHang: 3 * time.Second})
	srv := httptest.NewServer(cardnet.NewHandler(eng))
	t.Cleanup(srv.Close)
	conn, err := gateway.NewHTTPConnector(srv.URL, 300*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	client, err := gateway.NewClient(b.DB, v, conn, gateway.ClientOptions{Now: clk.Now, ReversalBudget: 2 * time.Second,
		ReversalBackoff: 20 * time.Millisecond, BreakerThreshold: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ev := recorder{&testenv.Recorder{}}
	binder := gateway.NewBinder(b.DB, v, client, ev, gateway.BinderOptions{Now: clk.Now})
	quotes := fx.NewGormStore(b.DB)
	var src fx.Source = fx.NewBuiltin(fx.BuiltinOptions{Now: clk.Now})
	if o.rates != nil {
		src = o.rates(src)
	}
	fxs, err := fx.NewService(src, quotes, fx.DefaultConfig(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	led := ledger.New(b.DB, ledger.WithClock(clk.Now))
	e := &env{b: b, clock: clk, engine: eng, client: client, binder: binder, fx: fxs, ledger: led,
		store: prepaid.NewStore(b.DB), events: ev, partner: ids.New(ids.Partner)}
	var network prepaid.Network = client
	if o.network != nil {
		network = o.network(client)
	}
	e.deps = prepaid.Deps{DB: b.DB, Ledger: led, Accounts: e.store, Quotes: fxs, QuoteUse: quotes, Rates: src,
		Network: network, Cards: binder, Events: ev, Limits: o.limits, Now: clk.Now}
	e.svc = e.service(t, e.deps)
	exec(t, b.DB, "INSERT INTO partners (id, name, status, created_at) VALUES (?, ?, ?, ?)", e.partner, "test", "active", start)
	return e
}

func (e *env) service(t testing.TB, d prepaid.Deps) *prepaid.Service {
	t.Helper()
	s, err := prepaid.NewService(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func exec(t testing.TB, d *db.DB, q string, args ...any) {
	t.Helper()
	if err := d.Gorm.Exec(q, args...).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// visitor stores an approved visitor with an open account.
func (e *env) visitor(t testing.TB) gateway.VisitorRef {
	t.Helper()
	id := ids.New(ids.Visitor)
	exec(t, e.b.DB, `INSERT INTO visitors (id, partner_id, status, tier, surname, given_names, nationality, sex,
		date_of_birth, document_type, document_format, issuing_state, number_sealed, number_index, number_masked,
		expires_on, created_at, updated_at) VALUES (?, ?, 'approved', 'basic', 'ERIKSSON', 'ANNA MARIA', 'UTO', 'F', '1974-08-12', 'P', 'TD3',
		'UTO', 'sealed', ?, 'L8*****2C', '2030-04-15', ?, ?)`, id, e.partner, id, start, start)
	err := e.b.DB.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := e.store.OpenTx(tx, id, e.partner, e.clock.Now(), 90*24*time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return gateway.VisitorRef{ID: id, Surname: "ERIKSSON", GivenNames: "ANNA MARIA", Status: kyc.StatusApproved}
}

// card binds pan to the visitor (with the OTP when the issuer asks).
func (e *env) card(t testing.TB, v gateway.VisitorRef, pan string) gateway.Card {
	t.Helper()
	ctx := context.Background()
	c, err := e.binder.Bind(ctx, e.partner, v, gateway.CardInput{Number: pan, ExpMonth: 12, ExpYear: 2030, CVC: "123", HolderName: "ANNA M ERIKSSON"})
	if err != nil {
		t.Fatalf("bind %s: %v", gateway.MaskPAN(pan), err)
	}
	if c.Status == gateway.StatusRequiresAction {
		if c, err = e.binder.Verify(ctx, e.partner, v.ID, c.ID, cardnet.OTP); err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
	return c
}

// pans counts the generated card numbers.
var pans struct {
	sync.Mutex
	n int
}

// freshPAN returns a Luhn-valid Visa number no other test uses: the
// simulator approves it in USD, and binding allows a number on one visitor
// only.
func freshPAN() string {
	pans.Lock()
	pans.n++
	n := pans.n
	pans.Unlock()
	body := fmt.Sprintf("4111%011d", int64(n)*7919+time.Now().UnixNano()%1e9)
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + strconv.Itoa((10-sum%10)%10)
}

// quote prices a load of amount ("1000.00 CNY" or "141.83 USD").
func (e *env) quote(t testing.TB, v gateway.VisitorRef, c gateway.Card, value, cur string) fx.Quote {
	t.Helper()
	a, err := money.Parse(value, cur)
	if err != nil {
		t.Fatal(err)
	}
	q, err := e.fx.Quote(context.Background(), fx.Request{Owner: fx.Owner{PartnerID: e.partner, VisitorID: v.ID},
		CardID: c.ID, Card: money.MustCurrency(c.Currency), Amount: a})
	if err != nil {
		t.Fatalf("quote %s %s: %v", value, cur, err)
	}
	return q
}

// balance is the visitor's posted CNY balance.
func (e *env) balance(t testing.TB, v gateway.VisitorRef) money.Amount {
	t.Helper()
	view, err := e.svc.View(context.Background(), e.partner, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	return view.Balance
}

// check verifies the ledger and reconciles it with the simulator: per
// network and currency, the settlement report's net (captures less
// refunds, reversals undone) equals the balance of network:<net>:<CUR>.
func (e *env) check(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	breaks, err := e.ledger.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range breaks {
		t.Errorf("ledger break: %s", b)
	}
	// The simulator reports per UTC day; the tests' clock may jump days.
	nets := map[string]int64{}
	counts := map[string]string{}
	for day := start; !day.After(e.clock.Now().Add(24 * time.Hour)); day = day.Add(24 * time.Hour) {
		for _, g := range e.engine.Settlement(day).Groups {
			code := "network:" + g.Network + ":" + g.Currency
			n, _ := strconv.ParseInt(g.Net, 10, 64)
			nets[code] += n
			counts[code] += fmt.Sprintf(" %s: %d captures, %d refunds, %d reversals;", day.Format(time.DateOnly), g.Captures.Count, g.Refunds.Count, g.Reversals.Count)
		}
	}
	seen := map[string]bool{}
	for code, want := range nets {
		seen[code] = true
		var got int64
		a, err := e.ledger.AccountByCode(ctx, code)
		switch {
		case errors.Is(err, ledger.ErrAccountNotFound):
		case err != nil:
			t.Fatal(err)
		default:
			bal, err := e.ledger.Balance(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			got = bal.Posted().Minor()
		}
		if got != want {
			t.Errorf("%s: ledger %d, settlement net %d (%s)", code, got, want, counts[code])
		}
	}
	for _, n := range []string{"visa", "mastercard"} {
		code := "network:" + n + ":USD"
		if seen[code] {
			continue
		}
		if a, err := e.ledger.AccountByCode(ctx, code); err == nil {
			if bal, _ := e.ledger.Balance(ctx, a.ID); !bal.Posted().IsZero() {
				t.Errorf("%s: ledger %s without settlement lines", code, bal.Posted())
			}
		}
	}
}
