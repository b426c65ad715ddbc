package cardnet

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

// Kinds of settlement lines. Authorisations, verifications and their
// reversals move no money, so they never appear in the report.
const (
	LineCapture  = "capture"
	LineRefund   = "refund"
	LineReversal = "reversal"
)

// Line is one money movement of a settlement day.
type Line struct {
	Type string `json:"type"`
	// Reverses is the Type a reversal undid: capture or refund.
	Reverses  string    `json:"reverses,omitempty"`
	Network   string    `json:"network"`
	STAN      string    `json:"stan"`
	RRN       string    `json:"rrn"`
	MTI       string    `json:"mti"`
	PAN       string    `json:"pan"` // masked: first six and last four digits
	Amount    string    `json:"amount"`
	Currency  string    `json:"currency"`
	AuthCode  string    `json:"auth_code,omitempty"`
	Time      time.Time `json:"time"`
	Original  *Original `json:"original,omitempty"`
	minor     int64
	reversesR bool
}

// Total counts lines and adds their amounts (minor units).
type Total struct {
	Count  int    `json:"count"`
	Amount string `json:"amount"`
}

// Group is the settlement of one network in one currency.
type Group struct {
	Network   string `json:"network"`
	Currency  string `json:"currency"`
	Captures  Total  `json:"captures"`
	Refunds   Total  `json:"refunds"`
	Reversals Total  `json:"reversals"`
	// Net is what the network owes the acquirer for the day, in minor
	// units: captures less refunds, less reversed captures, plus reversed
	// refunds. It is negative when refunds outweigh captures.
	Net   string `json:"net"`
	Lines []Line `json:"lines"`
}

// Report is the settlement of one UTC day, per network and currency.
type Report struct {
	Date   string  `json:"date"`
	Groups []Group `json:"groups"`
}

// settle records a line dated by the engine's clock. Callers hold e.mu.
func (e *Engine) settle(t *txn, m Message, c *cardState, typ, reverses, authCode string) {
	now := e.now().UTC()
	l := Line{
		Type: typ, Network: c.row.network.String(), STAN: m.STAN, RRN: m.RRN, MTI: m.MTI,
		PAN: cardspec.MaskPAN(m.PAN), Amount: strconv.FormatInt(t.amount, 10), Currency: c.cur.Code(),
		AuthCode: authCode, Time: now, minor: t.amount,
	}
	if typ == LineReversal {
		l.Reverses = reverses
		l.reversesR = reverses == LineRefund
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
		k := gk{l.Network, l.Currency}
		s, ok := groups[k]
		if !ok {
			s = &sums{g: Group{Network: l.Network, Currency: l.Currency}}
			groups[k] = s
		}
		switch {
		case l.Type == LineCapture:
			s.capt += l.minor
			s.nCapt++
			s.net += l.minor
		case l.Type == LineRefund:
			s.refd += l.minor
			s.nRefd++
			s.net -= l.minor
		case l.reversesR:
			s.revd += l.minor
			s.nRevd++
			s.net += l.minor
		default:
			s.revd += l.minor
			s.nRevd++
			s.net -= l.minor
		}
		s.g.Lines = append(s.g.Lines, l)
	}
	r := Report{Date: date, Groups: []Group{}}
	for _, s := range groups {
		s.g.Captures = Total{s.nCapt, strconv.FormatInt(s.capt, 10)}
		s.g.Refunds = Total{s.nRefd, strconv.FormatInt(s.refd, 10)}
		s.g.Reversals = Total{s.nRevd, strconv.FormatInt(s.revd, 10)}
		s.g.Net = strconv.FormatInt(s.net, 10)
		r.Groups = append(r.Groups, s.g)
	}
	slices.SortFunc(r.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(a.Network, b.Network), cmp.Compare(a.Currency, b.Currency))
	})
	return r
}
