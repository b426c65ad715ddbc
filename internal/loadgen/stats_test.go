package loadgen

import (
	"strings"
	"testing"
	"time"
)

// A fault's last caught request is the latest retried request sent before
// the fault ended and answered after it; requests that were not retried,
// or sent after the end, do not count. More than MaxAfterFault is a
// violation, and so is a fault that never ended.
func TestAnsweredAfterFault(t *testing.T) {
	start := time.Now().Add(-time.Minute)
	s := NewStats(start)
	kill := s.FaultStart("kill")
	s.mu.Lock()
	s.faults[kill].Start, s.faults[kill].End = 10*time.Second, 12*time.Second
	s.retried = []span{
		{from: 9 * time.Second, to: 15 * time.Second},  // caught: 3 s after the end
		{from: 11 * time.Second, to: 23 * time.Second}, // caught: 11 s after the end
		{from: 13 * time.Second, to: 40 * time.Second}, // sent after the end
		{from: 5 * time.Second, to: 8 * time.Second},   // answered before the end
	}
	s.mu.Unlock()
	redis := s.FaultStart("redis") // never ended

	_, faults, _, _ := s.Snapshot()
	if got := faults[kill].LastAnswer; got != 11*time.Second {
		t.Fatalf("kill: last answer %s after the end, want 11s", got)
	}
	if got := faults[redis].LastAnswer; got != -1 {
		t.Fatalf("redis: last answer %s, want -1 (never ended)", got)
	}
	v := LateAfterFaults(faults)
	if len(v) != 2 || v[0].Kind != VLateAfterFault || !strings.Contains(v[0].Detail, "kill") || !strings.Contains(v[1].Detail, "never ended") {
		t.Fatalf("violations %+v", v)
	}

	s.mu.Lock()
	s.retried = s.retried[:1]
	s.faults = s.faults[:1]
	s.mu.Unlock()
	_, faults, _, _ = s.Snapshot()
	if v := LateAfterFaults(faults); len(v) != 0 {
		t.Fatalf("3 s after the end is within %s: %+v", MaxAfterFault, v)
	}
}
