package gateway

import (
	"sync"
	"time"
)

// Circuit states, as the breaker metric reports them.
const (
	circuitClosed   = 0
	circuitHalfOpen = 1
	circuitOpen     = 2
)

// circuit is the breaker state of one network.
type circuit struct {
	state     int
	failures  int
	openUntil time.Time
	probing   bool
	// wait is the cool-down of the current opening; it doubles with each
	// failed probe and falls back to the base on an answer.
	wait time.Duration
}

// breaker is a circuit breaker per network. After threshold consecutive
// calls without an answer it opens: calls fail at once, without a network
// message, for coolDown. Then one call is let through as a probe
// (half-open): an answer closes the circuit, another failure opens it for
// a new cool-down. A failing network thus costs the visitor an immediate
// issuer_unavailable instead of a full timeout, and the network gets room
// to recover.
//
// The cool-down starts short (1 s by default) and doubles with each failed
// probe up to maxCoolDown (15 s): a brief outage ends for the visitors
// about a second after the network is back, while a long one costs the
// network one probe per maxCoolDown per replica.
type breaker struct {
	threshold   int
	coolDown    time.Duration
	maxCoolDown time.Duration
	now         func() time.Time
	onChange    func(n Network, state int)

	mu       sync.Mutex
	circuits map[Network]*circuit
}

// Default cool-downs of the breaker.
const (
	defaultBreakerCoolDown    = time.Second
	defaultBreakerMaxCoolDown = 15 * time.Second
)

func newBreaker(threshold int, coolDown, maxCoolDown time.Duration, now func() time.Time, onChange func(Network, int)) *breaker {
	if coolDown <= 0 {
		coolDown = defaultBreakerCoolDown
	}
	if maxCoolDown <= 0 {
		maxCoolDown = max(defaultBreakerMaxCoolDown, coolDown)
	}
	maxCoolDown = max(maxCoolDown, coolDown)
	return &breaker{threshold: threshold, coolDown: coolDown, maxCoolDown: maxCoolDown, now: now, onChange: onChange, circuits: map[Network]*circuit{}}
}

func (b *breaker) circuit(n Network) *circuit {
	c, ok := b.circuits[n]
	if !ok {
		c = &circuit{}
		b.circuits[n] = c
	}
	return c
}

func (b *breaker) set(n Network, c *circuit, state int) {
	if c.state != state {
		c.state = state
		if b.onChange != nil {
			b.onChange(n, state)
		}
	}
}

// allow reports whether a call to n may go out now. A true answer in the
// half-open state makes the caller the probe: it must end with success,
// failure or release.
func (b *breaker) allow(n Network) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.circuit(n)
	switch c.state {
	case circuitOpen:
		if b.now().Before(c.openUntil) {
			return false
		}
		b.set(n, c, circuitHalfOpen)
		c.probing = true
		return true
	case circuitHalfOpen:
		if c.probing {
			return false
		}
		c.probing = true
		return true
	}
	return true
}

// success records an answer (approval or decline: the network works).
func (b *breaker) success(n Network) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.circuit(n)
	c.failures, c.probing, c.wait = 0, false, 0
	b.set(n, c, circuitClosed)
}

// failure records a call without an answer.
func (b *breaker) failure(n Network) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.circuit(n)
	c.failures++
	if c.state == circuitHalfOpen || c.failures >= b.threshold {
		switch {
		case c.state == circuitHalfOpen && c.wait > 0:
			c.wait = min(2*c.wait, b.maxCoolDown)
		case c.state != circuitOpen || c.wait == 0:
			c.wait = b.coolDown
		}
		c.probing = false
		c.openUntil = b.now().Add(c.wait)
		b.set(n, c, circuitOpen)
	}
}

// release ends a probe that never reached the network (the write-ahead
// record failed), so the next call can probe instead.
func (b *breaker) release(n Network) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.circuit(n).probing = false
}
