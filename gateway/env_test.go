package gateway_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/kyc"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// events records the binder's events (testenv.Recorder) and lists them
// by card.
type events struct{ *testenv.Recorder }

func (f events) types(cardID string) []string {
	return f.Types(func(e testenv.Event) bool { return e.Data.(gateway.Card).ID == cardID })
}

// env is a gateway on real storage and an in-process cardnet.
type env struct {
	b       testenv.Backend
	clock   *testenv.Clock
	engine  *cardnet.Engine
	conn    *gateway.HTTPConnector
	client  *gateway.Client
	binder  *gateway.Binder
	events  events
	logs    *syncBuffer
	reg     *prometheus.Registry
	partner string
}

type envOptions struct {
	timeout time.Duration
	client  gateway.ClientOptions
}

func newEnv(t *testing.T, b testenv.Backend, o envOptions) *env {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 300 * time.Millisecond
	}
	clk := testenv.NewClock(now)
	e := cardnet.New(cardnet.Config{Now: clk.Now, Seed: 11, MaxHang: 5 * time.Second})
	srv := httptest.NewServer(cardnet.NewHandler(e))
	t.Cleanup(srv.Close)
	conn, err := gateway.NewHTTPConnector(srv.URL, o.timeout, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		// Wall-clock times would make the secret scan's digit matching flaky.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	reg := prometheus.NewRegistry()
	co := o.client
	co.Now, co.Logger, co.Registerer = clk.Now, log, reg
	if co.ReversalBudget == 0 {
		co.ReversalBudget = 2 * time.Second
	}
	if co.ReversalBackoff == 0 {
		co.ReversalBackoff = 20 * time.Millisecond
	}
	client, err := gateway.NewClient(b.DB, v, conn, co)
	if err != nil {
		t.Fatal(err)
	}
	ev := events{&testenv.Recorder{}}
	binder := gateway.NewBinder(b.DB, v, client, ev, gateway.BinderOptions{Now: clk.Now, Logger: log})
	en := &env{b: b, clock: clk, engine: e, conn: conn, client: client, binder: binder, events: ev, logs: logs, reg: reg}
	en.partner = ids.New(ids.Partner)
	exec(t, b.DB, "INSERT INTO partners (id, name, status, created_at) VALUES (?, ?, ?, ?)", en.partner, "test", "active", now)
	return en
}

func exec(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	if err := d.Gorm.Exec(q, args...).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// visitor stores a visitor and returns what binding needs of it.
func (e *env) visitor(t *testing.T, surname, given string, status kyc.Status) gateway.VisitorRef {
	t.Helper()
	id := ids.New(ids.Visitor)
	exec(t, e.b.DB, `INSERT INTO visitors (id, partner_id, status, tier, surname, given_names, nationality, sex,
		date_of_birth, document_type, document_format, issuing_state, number_sealed, number_index, number_masked,
		expires_on, created_at, updated_at) VALUES (?, ?, ?, 'basic', ?, ?, 'UTO', 'F', '1974-08-12', 'P', 'TD3',
		'UTO', 'sealed', ?, 'L8*****2C', '2030-04-15', ?, ?)`,
		id, e.partner, string(status), surname, given, id, now, now)
	return gateway.VisitorRef{ID: id, Surname: surname, GivenNames: given, Status: status}
}

// anna is the approved visitor of the API examples.
func (e *env) anna(t *testing.T) gateway.VisitorRef {
	return e.visitor(t, "ERIKSSON", "ANNA MARIA", kyc.StatusApproved)
}

// input is a valid card input for pan.
func input(pan string) gateway.CardInput {
	c := "123"
	if len(pan) == 15 {
		c = "1234"
	}
	return gateway.CardInput{Number: pan, ExpMonth: 12, ExpYear: 2030, CVC: c, HolderName: "ANNA M ERIKSSON"}
}

// bind binds pan to v and fails the test on an error.
func (e *env) bind(t *testing.T, v gateway.VisitorRef, pan string) gateway.Card {
	t.Helper()
	c, err := e.binder.Bind(context.Background(), e.partner, v, input(pan))
	if err != nil {
		t.Fatalf("bind %s: %v", gateway.MaskPAN(pan), err)
	}
	return c
}

// available asks the simulator for the card's open-to-buy with a
// verification sent straight through the connector.
func (e *env) available(t *testing.T, pan string) int64 {
	t.Helper()
	res, err := e.conn.Authorize(context.Background(), authReq(t, pan, money.Amount{}))
	if err != nil || res.Available == nil {
		t.Fatalf("open-to-buy: %v %+v", err, res)
	}
	return res.Available.Minor()
}
