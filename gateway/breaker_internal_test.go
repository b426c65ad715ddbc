package gateway

import (
	"testing"
	"time"
)

// TestBreakerProbesSoonWithBackoff: after a short outage the open circuit
// lets a probe through within about a second, each failed probe doubles
// the wait up to the cap, and an answer resets it. A fixed 30 s cool-down
// kept the network shut for 30 s after a 3 s outage.
func TestBreakerProbesSoonWithBackoff(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBreaker(2, 0, 0, func() time.Time { return now }, nil)
	n := Visa
	openNow := func() {
		for range 2 {
			if !b.allow(n) {
				t.Fatal("closed circuit refused a call")
			}
			b.failure(n)
		}
	}
	openNow()
	if b.allow(n) {
		t.Fatal("open circuit let a call through")
	}
	// Each failed probe doubles the wait: 1, 2, 4, 8, 15 (cap), 15.
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second} {
		now = now.Add(wait - 10*time.Millisecond)
		if b.allow(n) {
			t.Fatalf("probe %d let through before %v", i, wait)
		}
		now = now.Add(10 * time.Millisecond)
		if !b.allow(n) {
			t.Fatalf("probe %d not let through after %v", i, wait)
		}
		b.failure(n)
	}
	now = now.Add(15 * time.Second)
	if !b.allow(n) {
		t.Fatal("no probe after the cap")
	}
	b.success(n)
	// The network is back: the next outage starts again at one second.
	openNow()
	now = now.Add(time.Second)
	if !b.allow(n) {
		t.Fatal("back-off not reset by an answer")
	}
}
