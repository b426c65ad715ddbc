package cardnet

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

// Kinds of settlement lines (cardspec, the wire contract).
const (
	LineCapture  = cardspec.LineCapture
	LineRefund   = cardspec.LineRefund
	LineReversal = cardspec.LineReversal
)

// The settlement report's types are the wire contract's (cardspec), so
// that the gateway's reconciliation reads them without importing the
// simulator.
type (
	Line   = cardspec.SettlementLine
	Total  = cardspec.SettlementTotal
	Group  = cardspec.SettlementGroup
	Report = cardspec.SettlementReport
)

// lineMinor is a line's amount in minor units; the engine writes only
// digits, so a line that does not parse was changed by hand and counts 0.
func lineMinor(l Line) int64 {
	n, _ := strconv.ParseInt(l.Amount, 10, 64)
	return n
}

// settle records a line dated by the engine's clock. Callers hold e.mu.
func (e *Engine) settle(t *txn, m Message, c *cardState, typ, reverses, authCode string) {
	now := e.now().UTC()
	l := Line{
		Type: typ, Network: c.row.network.String(), STAN: m.STAN, RRN: m.RRN, MTI: m.MTI,
		PAN: cardspec.MaskPAN(m.PAN), Amount: strconv.FormatInt(t.amount, 10), Currency: c.cur.Code(),
		AuthCode: authCode, Time: now,
	}
	if typ == LineReversal {
		l.Reverses = reverses
	}
	if m.Original != nil {
		o := *m.Original
		l.Original = &o
	}
	day := now.Format(time.DateOnly)
	e.settled[day] = append(e.settled[day], l)
	e.dirty.lines = append(e.dirty.lines, lineJSON{Day: day, Line: l})
}

// Settlement returns the report of the UTC day that contains day.
func (e *Engine) Settlement(day time.Time) Report {
	date := day.UTC().Format(time.DateOnly)
	e.mu.Lock()
	lines, ok := e.settled[date]
	lines = slices.Clone(lines)
	if !ok {
		// A day that left memory is read from the data directory.
		lines = e.archivedDay(date)
	}
	e.mu.Unlock()

	type gk struct{ network, currency string }
	type sums struct {
		g                     Group
		capt, refd, revd, net int64
		nCapt, nRefd, nRevd   int
	}
	groups := map[gk]*sums{}
	for _, l := range lines {
		minor := lineMinor(l)
		k := gk{l.Network, l.Currency}
		s, ok := groups[k]
		if !ok {
			s = &sums{g: Group{Network: l.Network, Currency: l.Currency}}
			groups[k] = s
		}
		switch {
		case l.Type == LineCapture:
			s.capt += minor
			s.nCapt++
			s.net += minor
		case l.Type == LineRefund:
			s.refd += minor
			s.nRefd++
			s.net -= minor
		case l.Reverses == LineRefund:
			s.revd += minor
			s.nRevd++
			s.net += minor
		default:
			s.revd += minor
			s.nRevd++
			s.net -= minor
		}
		s.g.Lines = append(s.g.Lines, l)
	}
	r := Report{Date: date, Groups: []Group{}}
	for _, s := range groups {
		s.g.Captures = Total{Count: s.nCapt, Amount: strconv.FormatInt(s.capt, 10)}
		s.g.Refunds = Total{Count: s.nRefd, Amount: strconv.FormatInt(s.refd, 10)}
		s.g.Reversals = Total{Count: s.nRevd, Amount: strconv.FormatInt(s.revd, 10)}
		s.g.Net = strconv.FormatInt(s.net, 10)
		r.Groups = append(r.Groups, s.g)
	}
	slices.SortFunc(r.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(a.Network, b.Network), cmp.Compare(a.Currency, b.Currency))
	})
	return r
}
