package loadgen

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Tx is one movement of a visitor's account as GET
// /v1/visitors/{id}/transactions lists it (amount signed, CNY fen).
type Tx struct {
	Type      string
	Reference string
	Amount    int64
}

// VisitorState is what the server holds for one visitor.
type VisitorState struct {
	// Available is the account's available balance: the API's balance
	// also counts the visitor's payments held in escrow, which the
	// verdict counts once, as escrow.
	Available int64
	Txs       []Tx
}

// PaymentState is what the server holds for one payment.
type PaymentState struct {
	VisitorID string
	Status    string
	Amount    int64
	Refunded  int64
	Released  int64
	// Escrow is the posted balance of the payment's escrow ledger account.
	Escrow int64
	// AutoReleaseAt and ReleasedAt are the payment's times (zero when
	// absent), to the second.
	AutoReleaseAt, ReleasedAt time.Time
}

// ServerState is the server's side of the comparison, gathered after the
// run through the public APIs.
type ServerState struct {
	Visitors  map[string]VisitorState
	Payments  map[string]PaymentState
	Merchants map[string]int64
	// FeesDelta is how much revenue:fees grew during the run (load fees
	// plus merchant fees).
	FeesDelta int64
	// Breaks are the reconciliation breaks (GET /admin/v1/reconciliation),
	// ledger invariants included.
	Breaks []string
	// LedgerVerify is the output of `inbound ledger verify` when it failed
	// ("" when clean or not run).
	LedgerVerify string
	// JobLag is the largest inbound_job_lag_seconds, nil when the metric
	// does not exist.
	JobLag *float64
	// GatheredAt is when reading the server began.
	GatheredAt time.Time

	// Jobs are the background jobs' runs per replica, nil when the servers
	// do not export them; Window is how long the replicas have been up
	// (an upper bound), to know how many due times a job had.
	Jobs   map[string]*JobRuns
	Window time.Duration
}

// Violation is one broken promise.
type Violation struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// The violation kinds.
const (
	VMissingEffect   = "missing_effect"
	VDoubleEffect    = "double_effect"
	VUnknownEffect   = "unacknowledged_effect"
	VAmountMismatch  = "amount_mismatch"
	VBalanceMismatch = "balance_mismatch"
	VMoneyMismatch   = "money_not_conserved"
	VReconciliation  = "reconciliation_break"
	VLedgerVerify    = "ledger_verify"
	VUnresolved      = "unresolved_requests"
	VJobLag          = "job_lag"
	VReleaseLate     = "release_late"
	VJobTwice        = "job_run_twice"
	VServerUnread    = "server_state_unreadable"
	VLateAfterFault  = "answered_late_after_fault"
)

// MaxAfterFault is how long after a fault ends every request it caught
// must have its definitive answer.
const MaxAfterFault = 10 * time.Second

// LateAfterFaults lists the faults whose caught requests were answered
// more than MaxAfterFault after the fault ended, or that never ended.
func LateAfterFaults(faults []FaultMark) []Violation {
	var out []Violation
	for _, f := range faults {
		switch {
		case f.End < 0:
			out = append(out, Violation{Kind: VLateAfterFault, Detail: fmt.Sprintf("%s at %s: never ended", f.Name, f.Start.Round(time.Second))})
		case f.LastAnswer > MaxAfterFault:
			out = append(out, Violation{Kind: VLateAfterFault, Detail: fmt.Sprintf("%s at %s: a request it caught was answered %s after it ended (at most %s)",
				f.Name, f.Start.Round(time.Second), f.LastAnswer.Round(10*time.Millisecond), MaxAfterFault)})
		}
	}
	return out
}

// MaxJobLag is the largest job lag (seconds) the verdict accepts.
const MaxJobLag = 120.0

// MaxReleaseLate is how long after its auto_release_at a payment may
// still be held (the target, 10 s, plus the second the API's
// times are rounded to).
const MaxReleaseLate = 11 * time.Second

// refPrefix maps journal effects to the ledger reference of their posting
// on the visitor's account.
var refPrefix = map[EffectKind]string{EffectLoad: "load:", EffectPayment: "pay:", EffectRefund: "rfd:", EffectUnload: "unl:"}

// Verify compares the journal with the server state. unresolved is the
// count of requests that got no definitive answer. It returns every
// violation found, in a stable order.
func Verify(visitors []string, effects []Effect, s ServerState, unresolved int) []Violation {
	var out []Violation
	add := func(kind, format string, a ...any) {
		out = append(out, Violation{Kind: kind, Detail: fmt.Sprintf(format, a...)})
	}

	if unresolved > 0 {
		add(VUnresolved, "%d request(s) got no definitive answer before their deadline", unresolved)
	}
	// Postings per reference on each visitor's account.
	refs := map[string]map[string][]Tx{}
	for _, v := range visitors {
		st, ok := s.Visitors[v]
		if !ok {
			add(VServerUnread, "visitor %s: not read from the server", v)
			continue
		}
		m := map[string][]Tx{}
		for _, t := range st.Txs {
			ref := baseRef(t.Reference)
			m[ref] = append(m[ref], t)
		}
		refs[v] = m
	}
	expected := map[string]int64{}
	known := map[string]bool{}
	refunds := map[string]int64{}
	var credited, unloaded, loadFees int64
	for _, e := range effects {
		switch e.Kind {
		case EffectLoad:
			credited += e.Amount
			loadFees += e.Fee
			expected[e.VisitorID] += e.Amount
		case EffectPayment:
			expected[e.VisitorID] -= e.Amount
			p, ok := s.Payments[e.ID]
			switch {
			case !ok:
				add(VMissingEffect, "payment %s: not on the server", e.ID)
			case p.Amount != e.Amount:
				add(VAmountMismatch, "payment %s: server amount %s, acknowledged %s", e.ID, fen(p.Amount), fen(e.Amount))
			case e.AutoRelease:
				if late, ok := releaseLate(p, s.GatheredAt); ok {
					what := "released"
					if p.ReleasedAt.IsZero() {
						what = "still held"
					}
					add(VReleaseLate, "payment %s: %s %s after its auto_release_at", e.ID, what, late)
				}
			}
		case EffectRefund:
			expected[e.VisitorID] += e.Amount
			refunds[e.PaymentID] += e.Amount
		case EffectUnload:
			unloaded += e.Amount
			expected[e.VisitorID] -= e.Amount
		case EffectConfirm:
			if p, ok := s.Payments[e.PaymentID]; ok && p.Released == 0 {
				add(VMissingEffect, "confirm of %s: payment is %s with nothing released", e.PaymentID, p.Status)
			}
		}
		prefix, ok := refPrefix[e.Kind]
		if !ok {
			continue
		}
		ref := prefix + e.ID
		known[ref] = true
		m, ok := refs[e.VisitorID]
		if !ok {
			continue
		}
		txs := m[ref]
		want := e.Amount
		if e.Kind == EffectPayment || e.Kind == EffectUnload {
			want = -want
		}
		switch {
		case len(txs) == 0:
			add(VMissingEffect, "%s %s of %s (%s): not in the account's transactions", e.Kind, e.ID, e.VisitorID, fen(e.Amount))
		case len(txs) > 1:
			add(VDoubleEffect, "%s %s of %s: %d postings", e.Kind, e.ID, e.VisitorID, len(txs))
		case txs[0].Amount != want:
			add(VAmountMismatch, "%s %s of %s: posted %s, acknowledged %s", e.Kind, e.ID, e.VisitorID, fen(txs[0].Amount), fen(want))
		}
	}
	// Postings nobody was told about: a doubled request, or one whose
	// answer was lost (then it is also unresolved).
	for _, v := range slices.Sorted(maps.Keys(refs)) {
		for _, ref := range slices.Sorted(maps.Keys(refs[v])) {
			tx := refs[v][ref][0]
			if known[ref] || (tx.Type != "load" && tx.Type != "payment" && tx.Type != "refund" && tx.Type != "unload") {
				continue
			}
			add(VUnknownEffect, "%s %s on %s (%s): never acknowledged to the client", tx.Type, ref, v, fen(tx.Amount))
		}
	}
	for _, v := range visitors {
		st, ok := s.Visitors[v]
		if ok && st.Available != expected[v] {
			add(VBalanceMismatch, "visitor %s: available %s, journal says %s", v, fen(st.Available), fen(expected[v]))
		}
	}
	for _, pid := range slices.Sorted(maps.Keys(refunds)) {
		if p, ok := s.Payments[pid]; ok && p.Refunded != refunds[pid] {
			add(VAmountMismatch, "payment %s: refunded %s on the server, acknowledged %s", pid, fen(p.Refunded), fen(refunds[pid]))
		}
	}
	// CNY in = CNY out + what is still inside, to the fen.
	var balances, escrow, merchants int64
	for _, v := range visitors {
		balances += s.Visitors[v].Available
	}
	for _, p := range s.Payments {
		escrow += p.Escrow
	}
	for _, b := range s.Merchants {
		merchants += b
	}
	merchantFees := s.FeesDelta - loadFees
	if in, inside := credited-unloaded, balances+escrow+merchants+merchantFees; in != inside {
		add(VMoneyMismatch, "loads credited %s - unloads %s = %s, but visitor balances %s + escrow %s + merchant balances %s + merchant fees %s = %s",
			fen(credited), fen(unloaded), fen(in), fen(balances), fen(escrow), fen(merchants), fen(merchantFees), fen(inside))
	}
	for _, b := range s.Breaks {
		add(VReconciliation, "%s", b)
	}
	if s.LedgerVerify != "" {
		add(VLedgerVerify, "%s", strings.TrimSpace(s.LedgerVerify))
	}
	if s.JobLag != nil && *s.JobLag > MaxJobLag {
		add(VJobLag, "inbound_job_lag_seconds %.0f exceeds %.0f", *s.JobLag, MaxJobLag)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Jobs)) {
		j := s.Jobs[name]
		if j.LeaseLost > 0 {
			add(VJobTwice, "job %s: %d run(s) lost their lease to another replica mid-run", name, j.LeaseLost)
		}
		// Consecutive runs of a job are at least its interval apart (a
		// run sets the next due time to its end plus the interval), so
		// a window allows at most window/interval + 1 runs over all
		// replicas; more means a due time ran on two replicas.
		if most := int64(s.Window.Seconds()/j.Interval) + 1; s.Window > 0 && j.Total() > most {
			add(VJobTwice, "job %s ran %d times on the replicas (%v) in %s; every %.0fs allows at most %d",
				name, j.Total(), j.Runs, s.Window.Round(time.Second), j.Interval, most)
		}
	}
	return out
}

// baseRef is a ledger reference without its suffix: a payment posts its
// hold as "pay:<id>:hold", an unload "unl:<id>"; both name the effect
// "<prefix>:<id>".
func baseRef(ref string) string {
	if i := strings.Index(ref, ":"); i >= 0 {
		if j := strings.Index(ref[i+1:], ":"); j >= 0 {
			return ref[:i+1+j]
		}
	}
	return ref
}

// fen formats CNY fen as a decimal string.
func fen(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// parseFen reads a CNY decimal string ("12.34", "-5", "0.5") as fen.
func parseFen(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 || whole == "" {
		return 0, fmt.Errorf("not a CNY amount: %q", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	var v int64
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a CNY amount: %q", s)
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}

// releaseLate tells how late past its auto_release_at a payment was
// released (or, still held, is at gatheredAt), when that exceeds
// MaxReleaseLate.
func releaseLate(p PaymentState, gatheredAt time.Time) (time.Duration, bool) {
	if p.AutoReleaseAt.IsZero() {
		return 0, false
	}
	end := p.ReleasedAt
	if end.IsZero() {
		if p.Status != "held" {
			return 0, false // settled otherwise
		}
		end = gatheredAt
	}
	late := end.Sub(p.AutoReleaseAt)
	return late, late > MaxReleaseLate
}
