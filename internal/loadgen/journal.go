// Package loadgen is the engine of `inbound load`: a mixed workload of
// visitors, cards, loads, merchants, escrow payments and unloads sent
// through the public HTTP API only, optional faults on a schedule (replica
// kills, Redis, PostgreSQL and card-network restarts, network timeouts),
// and a verdict that compares what the clients were told with what the
// server holds afterwards.
//
// Every POST carries an Idempotency-Key and is retried with the same key
// until a definitive answer, so each acknowledged effect must be on the
// server exactly once, whatever happened in between: that is the promise
// the verdict checks.
package loadgen

import (
	"slices"
	"sync"
)

// EffectKind is what an acknowledged request did to money.
type EffectKind string

// The effects the journal records.
const (
	EffectLoad    EffectKind = "load"
	EffectPayment EffectKind = "payment"
	EffectConfirm EffectKind = "confirm"
	EffectRefund  EffectKind = "refund"
	EffectDispute EffectKind = "dispute"
	EffectUnload  EffectKind = "unload"
)

// Effect is one acknowledged effect. Amounts are CNY fen.
type Effect struct {
	Kind       EffectKind `json:"kind"`
	ID         string     `json:"id"`
	VisitorID  string     `json:"visitor_id,omitempty"`
	PaymentID  string     `json:"payment_id,omitempty"`
	MerchantID string     `json:"merchant_id,omitempty"`
	// Amount is the CNY that moved: credited by a load, held by a payment,
	// refunded, or taken from the account by an unload.
	Amount int64 `json:"amount"`
	// Fee is the load fee (CNY) the gateway kept, for loads.
	Fee int64 `json:"fee,omitempty"`
	// AutoRelease marks a payment made with a short auto_release_after
	// (AutoReleaseAfter) that no client settles: the server's job
	// releases it, and the verdict checks how late.
	AutoRelease bool `json:"auto_release,omitempty"`
}

// Journal is the client-side record of every acknowledged effect. It is
// safe for concurrent use.
type Journal struct {
	mu        sync.Mutex
	visitors  []string
	merchants []string
	effects   []Effect
}

// AddVisitor records an approved visitor.
func (j *Journal) AddVisitor(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.visitors = append(j.visitors, id)
}

// AddMerchant records a created merchant.
func (j *Journal) AddMerchant(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.merchants = append(j.merchants, id)
}

// Record adds an acknowledged effect.
func (j *Journal) Record(e Effect) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.effects = append(j.effects, e)
}

// Snapshot returns copies of the visitors, merchants and effects.
func (j *Journal) Snapshot() (visitors, merchants []string, effects []Effect) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.visitors), slices.Clone(j.merchants), slices.Clone(j.effects)
}

// Count returns the number of effects of each kind.
func (j *Journal) Count() map[EffectKind]int {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[EffectKind]int{}
	for _, e := range j.effects {
		out[e.Kind]++
	}
	return out
}
