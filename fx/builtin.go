package fx

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/shopspring/decimal"
)

// defaultMids are realistic mid rates, CNY per unit, used when no rates
// file or URL is configured. They are written with the decimals that
// displayRate prints, so the printed mid is the mid used.
var defaultMids = map[string]string{
	"USD": "7.1220",
	"EUR": "7.7150",
	"GBP": "9.0320",
	"JPY": "0.04730",
	"KRW": "0.005120",
	"HKD": "0.9120",
	"SGD": "5.3040",
	"AUD": "4.6210",
	"CAD": "5.1130",
	"CHF": "8.0460",
}

// Simulated market moves: a random walk in basis points of the default mid,
// bounded to +-1 % by reflection, at most walkStepBP per tick.
const (
	walkBoundBP = 100
	walkStepBP  = 3
)

// BuiltinOptions configure NewBuiltin.
type BuiltinOptions struct {
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Simulate moves the rates; off, the table is the fixed defaults.
	Simulate bool
	// Seed selects the walk: the same seed and time give the same rates.
	Seed uint64
	// Step is the time between moves (default one minute).
	Step time.Duration
}

// Builtin is the built-in rate source. Its rates are always dated now (or
// the start of the current tick when simulating): it stands in for a live
// feed in development and tests, so it never goes stale.
//
// The simulated walk is a pure function of (seed, currency, tick): each UTC
// day starts from a pseudo-random offset and walks tick by tick from there.
// Every replica therefore quotes the same mid at the same time, and a test
// that sets the clock gets the same rates whatever it asked before.
type Builtin struct {
	now      func() time.Time
	simulate bool
	seed     uint64
	step     time.Duration

	mu   sync.Mutex
	memo map[string]walkState
}

// walkState remembers the last computed point of a currency's walk, so
// consecutive calls advance it instead of replaying the day.
type walkState struct {
	tick int64
	bp   int64
}

// NewBuiltin returns the built-in source.
func NewBuiltin(o BuiltinOptions) *Builtin {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Step <= 0 {
		o.Step = time.Minute
	}
	return &Builtin{now: o.Now, simulate: o.Simulate, seed: o.Seed, step: o.Step, memo: map[string]walkState{}}
}

// DefaultMids returns the fixed built-in mids, CNY per unit.
func DefaultMids() map[string]decimal.Decimal {
	out := make(map[string]decimal.Decimal, len(defaultMids))
	for code, s := range defaultMids {
		out[code] = decimal.RequireFromString(s)
	}
	return out
}

// Rates returns the defaults, moved by the walk when simulating.
func (b *Builtin) Rates(ctx context.Context) (Table, error) {
	now := b.now().UTC()
	mids := DefaultMids()
	if !b.simulate {
		return NewTable(now, mids, "built-in")
	}
	tick := now.UnixNano() / int64(b.step)
	b.mu.Lock()
	for code, base := range mids {
		bp := b.walk(code, tick)
		moved := base.Mul(decimal.New(10_000+bp, -4))
		// Round toward the default so the +-1 % bound holds after rounding.
		if bp > 0 {
			moved = moved.RoundFloor(ratePlaces(base))
		} else {
			moved = moved.RoundCeil(ratePlaces(base))
		}
		mids[code] = moved
	}
	b.mu.Unlock()
	return NewTable(time.Unix(0, tick*int64(b.step)).UTC(), mids, "built-in (simulated)")
}

// walk returns the offset in basis points of code at tick. Callers hold mu.
func (b *Builtin) walk(code string, tick int64) int64 {
	perDay := max(int64(24*time.Hour/b.step), 1)
	dayStart := floorDiv(tick, perDay) * perDay
	ch := codeHash(code)
	st, ok := b.memo[code]
	if !ok || st.tick > tick || st.tick < dayStart {
		// Each day starts within half the bound, so the walk has room.
		h := mix(b.seed, ch, dayStart, 0)
		st = walkState{tick: dayStart, bp: int64(h%(walkBoundBP+1)) - walkBoundBP/2}
	}
	for st.tick < tick {
		st.tick++
		step := int64(mix(b.seed, ch, st.tick, 1)%(2*walkStepBP+1)) - walkStepBP
		st.bp += step
		// Reflect at the bounds: the walk stays within +-1 %.
		if st.bp > walkBoundBP {
			st.bp = 2*walkBoundBP - st.bp
		}
		if st.bp < -walkBoundBP {
			st.bp = -2*walkBoundBP - st.bp
		}
	}
	b.memo[code] = st
	return st.bp
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func codeHash(code string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(code))
	return h.Sum64()
}

// mix is splitmix64 over the seed, the currency's hash, the tick and a
// stream number: cheap, stateless and well spread.
func mix(seed, code uint64, tick int64, stream uint64) uint64 {
	x := seed ^ code ^ uint64(tick)*0x9E3779B97F4A7C15 ^ stream*0xD1B54A32D192ED03 //nolint:gosec // bit mixing for a hash: the sign reinterpretation is intended
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}
