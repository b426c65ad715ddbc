package testenv

import (
	"slices"
	"sync"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
)

// Clock is a settable test clock, safe for concurrent use. Services take
// its Now as their clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Event is one event a Recorder kept.
type Event struct {
	Partner string
	Type    string
	Data    any
}

// Recorder keeps the events a service emits, in its Emit shape. It writes
// nothing to the database, so an event of a rolled-back transaction stays
// in the list: tests look at the events of committed outcomes only.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Emit records the event and returns a fresh event id.
func (r *Recorder) Emit(_ *db.Tx, partnerID, typ string, data any) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{Partner: partnerID, Type: typ, Data: data})
	return ids.New(ids.Event), nil
}

// Events is a copy of what was recorded, in order.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Types lists, in order, the types of the events for which about is true.
func (r *Recorder) Types(about func(Event) bool) []string {
	var out []string
	for _, e := range r.Events() {
		if about(e) {
			out = append(out, e.Type)
		}
	}
	return out
}
