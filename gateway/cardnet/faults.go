package cardnet

import (
	"cmp"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

// ErrBadFault is a fault setting out of range.
var ErrBadFault = errors.New("cardnet: invalid fault setting")

// AllNetworks is the Fault.Network that applies to every network without a
// setting of its own (and to messages whose PAN names no network).
const AllNetworks = "*"

// maxLatency bounds injected latency: beyond it a fault is a timeout.
const maxLatency = time.Minute

// Fault is the fault injection of one network. Rates are probabilities
// per message, from 0 to 1; they are simulation knobs, not money.
type Fault struct {
	// Network is a network slug, or AllNetworks ("" means AllNetworks).
	Network string `json:"network"`
	// TimeoutRate is the share of messages that get no answer. The message
	// is still decided (as when only the answer is lost on its way back),
	// so the client must reverse it.
	TimeoutRate float64 `json:"timeout_rate"`
	// ErrorRate is the share of messages answered with HTTP 503 before
	// anything is decided.
	ErrorRate float64 `json:"error_rate"`
	// LatencyMS delays every message before it is decided.
	LatencyMS int `json:"latency_ms"`
}

func (f Fault) validate() error {
	if f.Network != AllNetworks {
		if _, err := cardspec.ParseNetwork(f.Network); err != nil {
			return fmt.Errorf("%w: network %q", ErrBadFault, f.Network)
		}
	}
	if !(f.TimeoutRate >= 0 && f.TimeoutRate <= 1) || !(f.ErrorRate >= 0 && f.ErrorRate <= 1) {
		return fmt.Errorf("%w: rates must be between 0 and 1", ErrBadFault)
	}
	if f.LatencyMS < 0 || time.Duration(f.LatencyMS)*time.Millisecond > maxLatency {
		return fmt.Errorf("%w: latency_ms must be between 0 and %d", ErrBadFault, maxLatency.Milliseconds())
	}
	return nil
}

// faultPlan is what happens to one message.
type faultPlan struct {
	fail    bool
	timeout bool
	latency time.Duration
}

type faultTable struct {
	mu     sync.Mutex
	rng    *mrand.Rand
	faults map[string]Fault
}

func newFaultTable(seed uint64) *faultTable {
	return &faultTable{rng: mrand.New(mrand.NewPCG(seed, seed>>3|1)), faults: map[string]Fault{}} //nolint:gosec // fault-injection dice, seeded so runs can be replayed; no secret comes from it
}

// SetFault sets the faults of one network, or of AllNetworks, replacing
// what was set before.
func (e *Engine) SetFault(f Fault) error {
	if f.Network == "" {
		f.Network = AllNetworks
	}
	if err := f.validate(); err != nil {
		return err
	}
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.faults[f.Network] = f
	return nil
}

// Faults lists the fault settings, ordered by network.
func (e *Engine) Faults() []Fault {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	out := make([]Fault, 0, len(e.faults.faults))
	for _, f := range e.faults.faults {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Fault) int { return cmp.Compare(a.Network, b.Network) })
	return out
}

// ClearFaults removes the setting of one network, or all settings when
// network is "".
func (e *Engine) ClearFaults(network string) {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	if network == "" {
		clear(e.faults.faults)
		return
	}
	delete(e.faults.faults, network)
}

// plan rolls the dice for one message of network ("" when unknown).
func (e *Engine) plan(network string) faultPlan {
	t := e.faults
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.faults[network]
	if !ok {
		f, ok = t.faults[AllNetworks]
	}
	if !ok {
		return faultPlan{}
	}
	p := faultPlan{latency: time.Duration(f.LatencyMS) * time.Millisecond}
	if f.ErrorRate > 0 && t.rng.Float64() < f.ErrorRate {
		p.fail = true
		return p
	}
	p.timeout = f.TimeoutRate > 0 && t.rng.Float64() < f.TimeoutRate
	return p
}
