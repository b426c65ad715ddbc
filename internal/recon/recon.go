// Package recon reconciles the ledger with the card networks: every capture
// in a network's settlement report must be matched by exactly one credited
// load, and every credited load by a capture (same STAN/RRN and amount);
// the same for refunds and unloads. Each mismatch is a Break with what
// support needs to act on it.
//
// Service.Run is the whole daily check (the ledger's invariants, escrow,
// the settlement match, card refunds against captures); it reads each side
// through its owner's store and the network's report through Reports, the
// wire contract of package cardspec, never through the simulator.
// GET /admin/v1/reconciliation and `inbound recon` both call it.
package recon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
	"github.com/inbound-gateway/inbound/internal/redact"
)

// Break is one thing that does not add up.
type Break struct {
	Check    string // ledger, escrow, settlement or card_refunds
	Rule     string
	Currency string
	Account  string // a ledger account code, transfer or hold id
	Network  string
	STAN     string
	RRN      string
	Object   string // load_..., unl_... or a card id
	Detail   string
}

// ObjectID names what the break is about: the object (load, unload, card)
// or else the ledger account; empty for a whole-currency or whole-escrow
// rule.
func (b Break) ObjectID() string {
	if b.Object != "" {
		return b.Object
	}
	return b.Account
}

// String is one line for logs and for `inbound recon`.
func (b Break) String() string {
	s := b.Check + " " + b.Rule
	if id := b.ObjectID(); id != "" {
		s += " " + id
	}
	return s + ": " + b.Detail
}

// The settlement rules.
const (
	RuleCaptureWithoutCredit = "capture_without_credit"
	RuleCreditWithoutCapture = "credit_without_capture"
	RuleRefundWithoutUnload  = "refund_without_unload"
	RuleUnloadWithoutRefund  = "unload_without_refund"
	RuleAmountMismatch       = "amount_mismatch"
)

// Movement is one side's record of money moved at a network on a day.
type Movement struct {
	Kind     string // "capture" or "refund"
	Network  string
	STAN     string
	RRN      string
	Minor    int64
	Currency string
	Object   string // the load or unload id (ledger side)
}

func (m Movement) key() string { return m.Kind + "|" + m.Network + "|" + m.STAN + "|" + m.RRN }

// Reports fetches a day's settlement report.
type Reports interface {
	Settlement(ctx context.Context, day time.Time) (cardspec.SettlementReport, error)
}

// ErrReportUnavailable is a settlement report that could not be fetched:
// the network did not answer or answered with an error. The API answers
// 503 service_unavailable: it is worth a retry.
var ErrReportUnavailable = errors.New("recon: settlement report unavailable")

// HTTPReports reads a card network's GET /v1/settlement (the simulator's
// or a connector's).
type HTTPReports struct {
	BaseURL string
	Client  *http.Client
}

// Settlement fetches the report of day (UTC).
func (h HTTPReports) Settlement(ctx context.Context, day time.Time) (cardspec.SettlementReport, error) {
	u := h.BaseURL + "/v1/settlement?date=" + url.QueryEscape(day.UTC().Format(time.DateOnly))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return cardspec.SettlementReport{}, err
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		return cardspec.SettlementReport{}, fmt.Errorf("%w: %w", ErrReportUnavailable, redact.Err(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return cardspec.SettlementReport{}, fmt.Errorf("%w: HTTP %d", ErrReportUnavailable, res.StatusCode)
	}
	var r cardspec.SettlementReport
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return cardspec.SettlementReport{}, fmt.Errorf("recon: settlement report: %w", err)
	}
	return r, nil
}

// NetworkSide turns a report into net movements: a reversed capture or
// refund cancels its original (matched by the original's STAN/RRN).
func NetworkSide(r cardspec.SettlementReport) ([]Movement, error) {
	net := map[string]*Movement{}
	var order []string
	for _, g := range r.Groups {
		for _, l := range g.Lines {
			minor, err := strconv.ParseInt(l.Amount, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("recon: settlement line %s/%s: amount %q", l.STAN, l.RRN, l.Amount)
			}
			m := Movement{Kind: l.Type, Network: l.Network, STAN: l.STAN, RRN: l.RRN, Minor: minor, Currency: l.Currency}
			if l.Type == cardspec.LineReversal {
				m.Kind, m.Minor = l.Reverses, -minor
				if l.Original != nil {
					m.STAN, m.RRN = l.Original.STAN, l.Original.RRN
				}
			}
			k := m.key()
			if cur, ok := net[k]; ok {
				cur.Minor += m.Minor
				continue
			}
			mm := m
			net[k] = &mm
			order = append(order, k)
		}
	}
	var out []Movement
	for _, k := range order {
		if net[k].Minor != 0 {
			out = append(out, *net[k])
		}
	}
	return out, nil
}

// Match compares the network's movements with the ledger side's (succeeded
// loads and unloads) and returns every break.
func Match(network, ledger []Movement) []Break {
	byKey := map[string]Movement{}
	for _, m := range ledger {
		byKey[m.key()] = m
	}
	seen := map[string]bool{}
	var out []Break
	for _, n := range network {
		k := n.key()
		l, ok := byKey[k]
		seen[k] = true
		switch {
		case !ok && n.Kind == cardspec.LineCapture:
			out = append(out, brk(RuleCaptureWithoutCredit, n, "", fmt.Sprintf("the network captured %d %s (minor units) with no credited load", n.Minor, n.Currency)))
		case !ok:
			out = append(out, brk(RuleRefundWithoutUnload, n, "", fmt.Sprintf("the network refunded %d %s (minor units) with no succeeded unload", n.Minor, n.Currency)))
		case l.Minor != n.Minor || l.Currency != n.Currency:
			out = append(out, brk(RuleAmountMismatch, n, l.Object, fmt.Sprintf("network %d %s, ledger %d %s (minor units)", n.Minor, n.Currency, l.Minor, l.Currency)))
		}
	}
	for _, l := range ledger {
		if seen[l.key()] {
			continue
		}
		rule, what := RuleCreditWithoutCapture, "credited load"
		if l.Kind == cardspec.LineRefund {
			rule, what = RuleUnloadWithoutRefund, "succeeded unload"
		}
		out = append(out, brk(rule, l, l.Object, fmt.Sprintf("%s of %d %s (minor units) has no line in the network's settlement", what, l.Minor, l.Currency)))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

func brk(rule string, m Movement, object, detail string) Break {
	return Break{Check: CheckSettlement, Rule: rule, Currency: m.Currency, Network: m.Network, STAN: m.STAN, RRN: m.RRN, Object: object, Detail: detail}
}
