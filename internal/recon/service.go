package recon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/prepaid"
)

// The checks a Break comes from.
const (
	CheckLedger      = "ledger"
	CheckEscrow      = "escrow"
	CheckSettlement  = "settlement"
	CheckCardRefunds = "card_refunds"
)

// Rules of the escrow and card checks (the settlement rules are above; the
// ledger's are ledger.Rule*).
const (
	RuleEscrowHeld           = "escrow_held_equals_open_payments"
	RulePaymentEscrow        = "payment_escrow_balance"
	RuleRefundExceedsCapture = "refund_exceeds_capture"
)

// Ledger checks the ledger's invariants (ledger.Ledger).
type Ledger interface {
	Verify(ctx context.Context) ([]ledger.Break, error)
}

// Escrow reads both sides of the escrow check (escrow.Service).
type Escrow interface {
	EscrowHeld(ctx context.Context) (escrow.Reconciliation, error)
}

// Prepaid reads the gateway's side of the card movements (prepaid.Store).
type Prepaid interface {
	SettledBetween(ctx context.Context, from, to time.Time) (loads, unloads []prepaid.Settled, err error)
	OverRefundedCards(ctx context.Context) ([]prepaid.CardOverRefund, error)
}

// Deps are what a Service reads.
type Deps struct {
	Ledger  Ledger
	Escrow  Escrow
	Prepaid Prepaid
	Reports Reports
	// Now stamps a Result (default: the wall clock, UTC).
	Now func() time.Time
}

// Service runs the reconciliation.
type Service struct{ d Deps }

// New checks deps and returns the service.
func New(d Deps) (*Service, error) {
	if d.Ledger == nil || d.Escrow == nil || d.Prepaid == nil || d.Reports == nil {
		return nil, errors.New("recon: missing dependency")
	}
	if d.Now == nil {
		d.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{d: d}, nil
}

// Result is one run: every break, in a stable order (ledger, escrow,
// settlement by rule, card refunds). No break means everything adds up.
type Result struct {
	Day       time.Time // the settlement day matched (UTC midnight)
	CheckedAt time.Time
	Breaks    []Break
}

// Clean reports whether nothing is broken.
func (r Result) Clean() bool { return len(r.Breaks) == 0 }

// RuleBreaks is the breaks of one rule: how many and the id each is about
// (Break.ObjectID; empty for a whole-currency or whole-escrow rule).
type RuleBreaks struct {
	Rule    string
	Count   int
	Objects []string
}

// ByRule groups the breaks by rule, rules in alphabetical order and ids
// in the order of Breaks.
func (r Result) ByRule() []RuleBreaks {
	idx := map[string]int{}
	var out []RuleBreaks
	for _, b := range r.Breaks {
		i, ok := idx[b.Rule]
		if !ok {
			i = len(out)
			idx[b.Rule] = i
			out = append(out, RuleBreaks{Rule: b.Rule, Objects: []string{}})
		}
		out[i].Count++
		if id := b.ObjectID(); id != "" {
			out[i].Objects = append(out[i].Objects, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

// Today is the default day of a run: the UTC day of now, so far. A day
// that is over (yesterday) is the complete one to alert on; pass it
// explicitly.
func Today(now time.Time) time.Time { return DayOf(now) }

// DayOf is the UTC midnight that starts t's day.
func DayOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Run checks everything for the settlement day day (any time of it, read
// as UTC): the ledger's invariants, escrow held against the open payments,
// the day's settlement report against the day's succeeded loads and
// unloads, and refunds to each card against its captures (all days).
func (s *Service) Run(ctx context.Context, day time.Time) (Result, error) {
	day = DayOf(day)
	res := Result{Day: day, Breaks: []Break{}}
	steps := []func(context.Context, time.Time) ([]Break, error){s.ledgerBreaks, s.escrowBreaks, s.settlementBreaks, s.cardRefundBreaks}
	for _, step := range steps {
		b, err := step(ctx, day)
		if err != nil {
			return Result{}, err
		}
		res.Breaks = append(res.Breaks, b...)
	}
	res.CheckedAt = s.d.Now()
	return res, nil
}

func (s *Service) ledgerBreaks(ctx context.Context, _ time.Time) ([]Break, error) {
	lb, err := s.d.Ledger.Verify(ctx)
	if err != nil {
		return nil, fmt.Errorf("recon: ledger: %w", err)
	}
	out := make([]Break, len(lb))
	for i, b := range lb {
		out[i] = Break{Check: CheckLedger, Rule: b.Rule, Currency: b.Currency, Account: b.Account, Detail: b.Detail}
	}
	return out, nil
}

func (s *Service) escrowBreaks(ctx context.Context, _ time.Time) ([]Break, error) {
	held, err := s.d.Escrow.EscrowHeld(ctx)
	if err != nil {
		return nil, fmt.Errorf("recon: escrow: %w", err)
	}
	var out []Break
	if held.LedgerHeld != held.PaymentsHeld {
		out = append(out, Break{Check: CheckEscrow, Rule: RuleEscrowHeld, Currency: "CNY",
			Detail: "ledger escrow " + held.LedgerHeld.Value() + ", open payments " + held.PaymentsHeld.Value()})
	}
	for _, m := range held.Mismatches {
		out = append(out, Break{Check: CheckEscrow, Rule: RulePaymentEscrow, Currency: "CNY", Detail: m})
	}
	return out, nil
}

func (s *Service) settlementBreaks(ctx context.Context, day time.Time) ([]Break, error) {
	report, err := s.d.Reports.Settlement(ctx, day)
	if err != nil {
		return nil, err
	}
	network, err := NetworkSide(report)
	if err != nil {
		return nil, err
	}
	ledgerSide, err := s.ledgerSide(ctx, day)
	if err != nil {
		return nil, err
	}
	return Match(network, ledgerSide), nil
}

// ledgerSide is the day's succeeded loads (captures) and unloads (refunds).
func (s *Service) ledgerSide(ctx context.Context, day time.Time) ([]Movement, error) {
	loads, unloads, err := s.d.Prepaid.SettledBetween(ctx, day, day.Add(24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("recon: %w", err)
	}
	out := make([]Movement, 0, len(loads)+len(unloads))
	for _, l := range loads {
		out = append(out, movement(cardspec.LineCapture, l))
	}
	for _, u := range unloads {
		out = append(out, movement(cardspec.LineRefund, u))
	}
	return out, nil
}

func movement(kind string, s prepaid.Settled) Movement {
	return Movement{Kind: kind, Network: s.Network, STAN: s.STAN, RRN: s.RRN, Minor: s.Minor, Currency: s.Currency, Object: s.ID}
}

// cardRefundBreaks: refunds to a card never exceed captures from it (per
// card and currency, all days); the network would refuse such a refund
// against the capture anyway.
func (s *Service) cardRefundBreaks(ctx context.Context, _ time.Time) ([]Break, error) {
	rows, err := s.d.Prepaid.OverRefundedCards(ctx)
	if err != nil {
		return nil, fmt.Errorf("recon: %w", err)
	}
	out := make([]Break, len(rows))
	for i, r := range rows {
		out[i] = Break{Check: CheckCardRefunds, Rule: RuleRefundExceedsCapture, Currency: r.Currency, Object: r.CardID,
			Detail: fmt.Sprintf("card %s got back %d %s (minor units) but paid in %d", r.CardID, r.Refunded, r.Currency, r.Captured)}
	}
	return out, nil
}
