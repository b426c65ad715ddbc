package loadgen

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/kyc"
)

// cleanRun is a consistent journal and server state: visitor A loaded
// 100.00 (fee 3.00), paid 40.00 to merchant M, got 10.00 back, the rest
// was released (fee 0.30 to the merchant's fees), then unloaded 20.00;
// visitor B loaded 50.00 (fee 1.50) and holds a 5.00 payment in escrow.
func cleanRun() ([]string, []Effect, ServerState) {
	visitors := []string{"vis_a", "vis_b"}
	effects := []Effect{
		{Kind: EffectLoad, ID: "load_1", VisitorID: "vis_a", Amount: 10000, Fee: 300},
		{Kind: EffectPayment, ID: "pay_1", VisitorID: "vis_a", MerchantID: "mer_m", Amount: 4000},
		{Kind: EffectRefund, ID: "rfd_1", PaymentID: "pay_1", VisitorID: "vis_a", Amount: 1000},
		{Kind: EffectConfirm, PaymentID: "pay_1", VisitorID: "vis_a"},
		{Kind: EffectUnload, ID: "unl_1", VisitorID: "vis_a", Amount: 2000},
		{Kind: EffectLoad, ID: "load_2", VisitorID: "vis_b", Amount: 5000, Fee: 150},
		{Kind: EffectPayment, ID: "pay_2", VisitorID: "vis_b", MerchantID: "mer_m", Amount: 500},
	}
	s := ServerState{
		Visitors: map[string]VisitorState{
			"vis_a": {Available: 5000, Txs: []Tx{
				{Type: "load", Reference: "load:load_1", Amount: 10000},
				{Type: "payment", Reference: "pay:pay_1:hold", Amount: -4000},
				{Type: "refund", Reference: "rfd:rfd_1", Amount: 1000},
				{Type: "unload", Reference: "unl:unl_1", Amount: -2000},
			}},
			"vis_b": {Available: 4500, Txs: []Tx{
				{Type: "load", Reference: "load:load_2", Amount: 5000},
				{Type: "payment", Reference: "pay:pay_2:hold", Amount: -500},
			}},
		},
		Payments: map[string]PaymentState{
			"pay_1": {VisitorID: "vis_a", Status: "released", Amount: 4000, Refunded: 1000, Released: 3000},
			"pay_2": {VisitorID: "vis_b", Status: "held", Amount: 500, Escrow: 500},
		},
		Merchants: map[string]int64{"mer_m": 2970},
		FeesDelta: 300 + 150 + 30,
	}
	return visitors, effects, s
}

func kinds(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Kind)
	}
	return out
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name       string
		change     func(effects *[]Effect, s *ServerState)
		unresolved int
		want       []string
		detail     string // a part of the first violation's detail
	}{
		{name: "clean", change: func(*[]Effect, *ServerState) {}},
		{
			name: "double load",
			change: func(_ *[]Effect, s *ServerState) {
				v := s.Visitors["vis_a"]
				v.Txs = append(v.Txs, Tx{Type: "load", Reference: "load:load_1", Amount: 10000})
				v.Available += 10000
				s.Visitors["vis_a"] = v
			},
			// One load posted twice: the double, the balance and the money.
			want:   []string{VDoubleEffect, VBalanceMismatch, VMoneyMismatch},
			detail: "load load_1 of vis_a: 2 postings",
		},
		{
			name: "load doubled under a second id",
			change: func(_ *[]Effect, s *ServerState) {
				v := s.Visitors["vis_b"]
				v.Txs = append(v.Txs, Tx{Type: "load", Reference: "load:load_9", Amount: 5000})
				v.Available += 5000
				s.Visitors["vis_b"] = v
			},
			want:   []string{VUnknownEffect, VBalanceMismatch, VMoneyMismatch},
			detail: "load:load_9 on vis_b",
		},
		{
			name: "missing refund",
			change: func(_ *[]Effect, s *ServerState) {
				v := s.Visitors["vis_a"]
				v.Txs = append(v.Txs[:2:2], v.Txs[3])
				v.Available -= 1000
				s.Visitors["vis_a"] = v
				p := s.Payments["pay_1"]
				p.Refunded = 0
				s.Payments["pay_1"] = p
				s.Merchants["mer_m"] += 1000
			},
			want:   []string{VMissingEffect, VBalanceMismatch, VAmountMismatch},
			detail: "refund rfd_1 of vis_a",
		},
		{
			name: "missing payment",
			change: func(_ *[]Effect, s *ServerState) {
				delete(s.Payments, "pay_2")
				v := s.Visitors["vis_b"]
				v.Txs = v.Txs[:1]
				v.Available = 5000
				s.Visitors["vis_b"] = v
			},
			want: []string{VMissingEffect, VMissingEffect, VBalanceMismatch},
		},
		{
			name: "a fen lost in the merchant's balance",
			change: func(_ *[]Effect, s *ServerState) {
				s.Merchants["mer_m"]--
			},
			want:   []string{VMoneyMismatch},
			detail: "= 130.00, but",
		},
		{
			name: "load credited less than acknowledged",
			change: func(_ *[]Effect, s *ServerState) {
				v := s.Visitors["vis_b"]
				v.Txs[0].Amount = 4999
				v.Available = 4499
				s.Visitors["vis_b"] = v
			},
			want: []string{VAmountMismatch, VBalanceMismatch, VMoneyMismatch},
		},
		{
			name: "confirm acknowledged, nothing released",
			change: func(_ *[]Effect, s *ServerState) {
				p := s.Payments["pay_1"]
				p.Status, p.Released, p.Escrow = "held", 0, 3000
				s.Payments["pay_1"] = p
				s.Merchants["mer_m"] = 0
				s.FeesDelta -= 30
			},
			want: []string{VMissingEffect},
		},
		{
			name:       "unresolved request",
			change:     func(*[]Effect, *ServerState) {},
			unresolved: 2,
			want:       []string{VUnresolved},
		},
		{
			name: "reconciliation break, ledger verify and job lag",
			change: func(_ *[]Effect, s *ServerState) {
				lag := 300.0
				s.Breaks = []string{`{"check":"ledger","rule":"balanced"}`}
				s.LedgerVerify = "break: balanced CNY\n"
				s.JobLag = &lag
			},
			want: []string{VReconciliation, VLedgerVerify, VJobLag},
		},
		{
			name: "auto-released payments: one on time, one 30 s late, one still held 20 s past its time",
			change: func(e *[]Effect, s *ServerState) {
				at := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
				s.GatheredAt = at.Add(time.Minute)
				for i, id := range []string{"pay_on_time", "pay_late", "pay_stuck"} {
					*e = append(*e, Effect{Kind: EffectPayment, ID: id, VisitorID: "vis_b", MerchantID: "mer_m", AutoRelease: true})
					p := PaymentState{VisitorID: "vis_b", Status: "released", AutoReleaseAt: at}
					switch i {
					case 0:
						p.ReleasedAt = at.Add(4 * time.Second)
					case 1:
						p.ReleasedAt = at.Add(30 * time.Second)
					case 2:
						p.Status, p.AutoReleaseAt = "held", s.GatheredAt.Add(-20*time.Second)
					}
					s.Payments[id] = p
					v := s.Visitors["vis_b"]
					v.Txs = append(v.Txs, Tx{Type: "payment", Reference: "pay:" + id + ":hold"})
					s.Visitors["vis_b"] = v
				}
			},
			want:   []string{VReleaseLate, VReleaseLate},
			detail: "pay_late: released 30s",
		},
		{
			name: "visitor not read",
			change: func(_ *[]Effect, s *ServerState) {
				delete(s.Visitors, "vis_b")
			},
			want: []string{VServerUnread, VMoneyMismatch},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			visitors, effects, s := cleanRun()
			tc.change(&effects, &s)
			got := Verify(visitors, effects, s, tc.unresolved)
			if diff := cmp.Diff(tc.want, kinds(got)); diff != "" {
				t.Fatalf("violations (-want +got):\n%s\n%v", diff, got)
			}
			if tc.detail != "" && !strings.Contains(got[0].Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", got[0].Detail, tc.detail)
			}
		})
	}
}

func TestParseFen(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "12.34": 1234, "-5.5": -550, "0.05": 5, "100": 10000} {
		got, err := parseFen(in)
		if err != nil || got != want {
			t.Errorf("parseFen(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, _ := parseFen(fen(want)); back != want {
			t.Errorf("fen(%d) = %q does not read back", want, fen(want))
		}
	}
	for _, bad := range []string{"", "1.234", "a", "1,00", "."} {
		if _, err := parseFen(bad); err == nil {
			t.Errorf("parseFen(%q): no error", bad)
		}
	}
}

func TestParseFaults(t *testing.T) {
	fs, err := ParseFaults("kill:10s, redis:30s,cardnet:45s,postgres:20s,timeouts:30%,errors:5%@5s+10s", 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []Fault{
		{Kind: FaultKill, At: 10 * time.Second}, {Kind: FaultRedis, At: 30 * time.Second},
		{Kind: FaultCardnet, At: 45 * time.Second}, {Kind: FaultPostgres, At: 20 * time.Second},
		{Kind: FaultTimeouts, At: 15 * time.Second, Rate: 0.3, For: 30 * time.Second},
		{Kind: FaultDeclines, At: 5 * time.Second, Rate: 0.05, For: 10 * time.Second},
	}
	if diff := cmp.Diff(want, fs); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"kill", "kill:soon", "fire:10s", "timeouts:30", "timeouts:130%", "kill:90s"} {
		if _, err := ParseFaults(bad, 60*time.Second); err == nil {
			t.Errorf("ParseFaults(%q): no error", bad)
		}
	}
}

// The generated passports and PANs are what the gateway accepts: a valid
// MRZ of an adult, and a Luhn-valid PAN that is no published test card.
func TestGeneratedDocuments(t *testing.T) {
	now := time.Now().UTC()
	for seed := range uint64(200) {
		rng := newRand(seed)
		lines, holder := passport(rng, now)
		m, err := kyc.ParseMRZ(lines, now)
		if err != nil {
			t.Fatalf("seed %d: %q: %v", seed, lines, err)
		}
		if !strings.HasSuffix(holder, " LOADTEST") || m.Surname != "LOADTEST" {
			t.Fatalf("seed %d: holder %q, surname %q", seed, holder, m.Surname)
		}
		pan := luhnPAN(rng)
		if len(pan) != 16 || !strings.HasPrefix(pan, "49") || !luhnOK(pan) {
			t.Fatalf("seed %d: PAN %s is not a Luhn-valid 49xx PAN", seed, pan)
		}
	}
}

func luhnOK(pan string) bool {
	sum := 0
	for i := range len(pan) {
		d := int(pan[len(pan)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func TestRetryable(t *testing.T) {
	inProgress := []byte(`{"error":{"code":"idempotency_in_progress"}}`)
	other := []byte(`{"error":{"code":"out_trade_no_conflict"}}`)
	for _, tc := range []struct {
		status int
		body   []byte
		want   bool
	}{{200, nil, false}, {201, nil, false}, {400, nil, false}, {402, nil, false}, {409, other, false},
		{409, inProgress, true}, {429, nil, true}, {500, nil, true}, {503, nil, true}} {
		if got := retryable(tc.status, tc.body); got != tc.want {
			t.Errorf("retryable(%d, %s) = %v", tc.status, tc.body, got)
		}
	}
}

func TestRecovery(t *testing.T) {
	b := func(ok int, errs map[string]int) Bucket { return Bucket{OK: ok, Done: ok, Errors: errs} }
	bs := []Bucket{b(5, nil), b(0, map[string]int{"retry:conn": 3}), b(2, map[string]int{"retry:503": 1}), b(4, nil), b(4, nil)}
	f := FaultMark{Start: 1 * time.Second, End: 1500 * time.Millisecond}
	if got := recovery(bs, f); got != 3*time.Second {
		t.Errorf("recovery = %s, want 3s (the first clean second is 3..4s)", got)
	}
	bs[3].Errors, bs[4].Errors = map[string]int{"unresolved": 1}, map[string]int{"retry:conn": 1}
	if got := recovery(bs, f); got != -1 {
		t.Errorf("recovery = %s, want never", got)
	}
}

// TestVerifyJobsOnce: the runs of all replicas fit the window (at most
// window/interval + 1 per job) and no run lost its lease; either broken is
// a job_run_twice.
func TestVerifyJobsOnce(t *testing.T) {
	visitors, effects, s := cleanRun()
	s.Window = 90 * time.Second
	s.Jobs = map[string]*JobRuns{
		"prepaid.expire":      {Runs: []int64{0, 1, 0}, Interval: 3600},
		"escrow.auto_release": {Runs: []int64{30, 31, 29}, Interval: 1},
	}
	if got := kinds(Verify(visitors, effects, s, 0)); len(got) != 0 {
		t.Fatalf("clean jobs: %v", got)
	}
	s.Jobs["prepaid.expire"].Runs = []int64{1, 1, 0}
	if got := kinds(Verify(visitors, effects, s, 0)); !cmp.Equal(got, []string{VJobTwice}) {
		t.Fatalf("an hourly job run twice in 90s: %v", got)
	}
	s.Jobs["prepaid.expire"].Runs = []int64{1, 0, 0}
	s.Jobs["escrow.auto_release"].LeaseLost = 1
	if got := kinds(Verify(visitors, effects, s, 0)); !cmp.Equal(got, []string{VJobTwice}) {
		t.Fatalf("a lost lease: %v", got)
	}
}

func TestJobSample(t *testing.T) {
	name, job, v, ok := jobSample(`inbound_job_runs_total{job="escrow.auto_release",result="ok"} 42`)
	if !ok || name != "inbound_job_runs_total" || job != "escrow.auto_release" || v != 42 {
		t.Fatalf("%q %q %v %v", name, job, v, ok)
	}
	if _, _, _, ok := jobSample(`inbound_job_lag_seconds{job="x"} 1`); ok {
		t.Fatal("parsed a series it does not read")
	}
}
