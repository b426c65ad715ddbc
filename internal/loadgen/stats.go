package loadgen

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Bucket is one second of the run.
type Bucket struct {
	Done      int             // definitive answers
	OK        int             // 2xx among them
	Latencies []time.Duration // of definitive answers, retries included
	Errors    map[string]int  // retried attempts and 4xx answers, by kind
}

// FaultMark is one fault of the run, for the report.
type FaultMark struct {
	Name  string        `json:"name"`
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
	// Recovery is from the fault's start to the first second after its end
	// with answers and no retried attempt; -1 when it never recovered.
	Recovery time.Duration `json:"recovery"`
	// LastAnswer is how long after the fault ended the last request it
	// caught (sent before the end, retried at least once, answered after
	// it) got its definitive answer; 0 when none, -1 when the fault never
	// ended.
	LastAnswer time.Duration `json:"last_answer_after_end"`
}

// span is one retried request, from its first attempt to its definitive
// answer, relative to the start of the run.
type span struct{ from, to time.Duration }

// Stats collects the per-second series of a run. Safe for concurrent use.
type Stats struct {
	mu         sync.Mutex
	start      time.Time
	buckets    []Bucket
	unresolved []string
	faults     []FaultMark
	current    string
	requests   int
	slowest    map[string]time.Duration
	retried    []span
}

// NewStats starts the clock.
func NewStats(start time.Time) *Stats { return &Stats{start: start} }

func (s *Stats) bucket() *Bucket {
	i := int(time.Since(s.start) / time.Second)
	for len(s.buckets) <= i {
		s.buckets = append(s.buckets, Bucket{Errors: map[string]int{}})
	}
	return &s.buckets[i]
}

// Done records a definitive answer.
func (s *Stats) Done(op string, d time.Duration, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucket()
	b.Done++
	s.requests++
	b.Latencies = append(b.Latencies, d)
	if s.slowest == nil {
		s.slowest = map[string]time.Duration{}
	}
	s.slowest[op] = max(s.slowest[op], d)
	if status >= 200 && status < 300 {
		b.OK++
	} else {
		b.Errors[fmt.Sprintf("%d", status)]++
	}
}

// Retried records a request that needed more than one attempt, first
// sent at sent and definitively answered now.
func (s *Stats) Retried(sent time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retried = append(s.retried, span{from: sent.Sub(s.start), to: time.Since(s.start)})
}

// Retry records an attempt that must be retried.
func (s *Stats) Retry(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucket().Errors["retry:"+kind]++
}

// Unresolved records a request that ran out of time.
func (s *Stats) Unresolved(op, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unresolved = append(s.unresolved, op+" "+key)
	s.bucket().Errors["unresolved"]++
}

// FaultStart marks the start of a fault.
func (s *Stats) FaultStart(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = name
	s.faults = append(s.faults, FaultMark{Name: name, Start: time.Since(s.start), End: -1, Recovery: -1})
	return len(s.faults) - 1
}

// FaultEnd marks the end of fault i (the component is back, or the
// injected network faults were cleared).
func (s *Stats) FaultEnd(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[i].End = time.Since(s.start)
	s.current = ""
}

// Snapshot returns the series, the faults with their recovery computed,
// the unresolved requests and the number of definitive answers.
func (s *Stats) Snapshot() ([]Bucket, []FaultMark, []string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bs := slices.Clone(s.buckets)
	fs := slices.Clone(s.faults)
	for i := range fs {
		fs[i].Recovery = recovery(bs, fs[i])
		fs[i].LastAnswer = lastAnswer(s.retried, fs[i])
	}
	return bs, fs, slices.Clone(s.unresolved), s.requests
}

// lastAnswer is how long after f ended the last retried request sent
// before its end was answered.
func lastAnswer(retried []span, f FaultMark) time.Duration {
	if f.End < 0 {
		return -1
	}
	var last time.Duration
	for _, r := range retried {
		if r.from < f.End && r.to > f.End {
			last = max(last, r.to-f.End)
		}
	}
	return last
}

func recovery(bs []Bucket, f FaultMark) time.Duration {
	if f.End < 0 {
		return -1
	}
	for i := int(f.End / time.Second); i < len(bs); i++ {
		retried := 0
		for k, n := range bs[i].Errors {
			if strings.HasPrefix(k, "retry:") || k == "unresolved" {
				retried += n
			}
		}
		if bs[i].OK > 0 && retried == 0 {
			return max(time.Duration(i+1)*time.Second-f.Start, 0)
		}
	}
	return -1
}

// Progress is the live line: elapsed, requests/s and p99 over the last
// complete second, errors so far by kind, the fault in progress.
func (s *Stats) Progress() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := time.Since(s.start)
	i := int(el/time.Second) - 1
	var rps int
	var p99 time.Duration
	if i >= 0 && i < len(s.buckets) {
		rps = s.buckets[i].Done
		p99 = percentile(s.buckets[i].Latencies, 0.99)
	}
	errs := map[string]int{}
	for _, b := range s.buckets {
		for k, n := range b.Errors {
			errs[k] += n
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, errs[k]))
	}
	e := "none"
	if len(parts) > 0 {
		e = strings.Join(parts, " ")
	}
	f := "none"
	if s.current != "" {
		f = s.current
	}
	return fmt.Sprintf("%5.0fs  %4d req/s  p99 %6s  requests %d  errors: %s  fault: %s",
		el.Seconds(), rps, p99.Round(time.Millisecond), s.requests, e, f)
}

// Slowest returns the longest time to a definitive answer, per operation.
func (s *Stats) Slowest() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, d := range s.slowest {
		out[k] = d.Round(time.Millisecond).String()
	}
	return out
}

// percentile of ds (q in 0..1); 0 for none.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
