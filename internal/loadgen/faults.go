package loadgen

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FaultKind is what a fault does.
type FaultKind string

// The fault kinds of -faults.
const (
	FaultKill     FaultKind = "kill"     // SIGKILL a replica, then start it again
	FaultRedis    FaultKind = "redis"    // kill the tool's Redis, then start it again (empty)
	FaultPostgres FaultKind = "postgres" // restart the tool's PostgreSQL in immediate mode
	FaultCardnet  FaultKind = "cardnet"  // kill the card network, then start it again
	FaultTimeouts FaultKind = "timeouts" // card-network timeouts at a rate, for a window
	FaultDeclines FaultKind = "errors"   // card-network errors (96) at a rate, for a window
)

// Fault is one scheduled fault.
type Fault struct {
	Kind FaultKind
	At   time.Duration
	// Rate is the share of network messages hit, for timeouts and errors.
	Rate float64
	// For is how long timeouts and errors last.
	For time.Duration
}

func (f Fault) String() string {
	switch f.Kind {
	case FaultTimeouts, FaultDeclines:
		return fmt.Sprintf("%s %.0f%% for %s", f.Kind, f.Rate*100, f.For)
	}
	return string(f.Kind)
}

// ParseFaults reads a -faults list: "kill:10s,redis:30s,cardnet:45s,
// postgres:20s,timeouts:30%" — a rate fault may say when and how long
// ("timeouts:30%@10s+20s"); without, it runs over the middle half of the
// run (duration d).
func ParseFaults(s string, d time.Duration) ([]Fault, error) {
	var out []Fault
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		kind, arg, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("fault %q: want KIND:WHEN", item)
		}
		f := Fault{Kind: FaultKind(kind)}
		switch f.Kind {
		case FaultKill, FaultRedis, FaultPostgres, FaultCardnet:
			at, err := time.ParseDuration(arg)
			if err != nil || at < 0 {
				return nil, fmt.Errorf("fault %q: %q is not a time into the run", item, arg)
			}
			f.At = at
		case FaultTimeouts, FaultDeclines:
			rate, when, _ := strings.Cut(arg, "@")
			pct, err := strconv.ParseFloat(strings.TrimSuffix(rate, "%"), 64)
			if err != nil || !strings.HasSuffix(rate, "%") || pct <= 0 || pct > 100 {
				return nil, fmt.Errorf("fault %q: %q is not a rate like 30%%", item, rate)
			}
			f.Rate = pct / 100
			f.At, f.For = d/4, d/2
			if when != "" {
				at, span, _ := strings.Cut(when, "+")
				if f.At, err = time.ParseDuration(at); err != nil {
					return nil, fmt.Errorf("fault %q: %w", item, err)
				}
				if span != "" {
					if f.For, err = time.ParseDuration(span); err != nil {
						return nil, fmt.Errorf("fault %q: %w", item, err)
					}
				}
			}
		default:
			return nil, fmt.Errorf("fault %q: unknown kind (kill, redis, postgres, cardnet, timeouts, errors)", item)
		}
		if f.At > d {
			return nil, fmt.Errorf("fault %q: after the end of the run (%s)", item, d)
		}
		out = append(out, f)
	}
	return out, nil
}

// Scenario is a preset of -scenario.
type Scenario struct {
	Duration time.Duration
	Clients  int
	Replicas int
	Faults   string
	// Postgres: the scenario needs the tool's own PostgreSQL.
	Postgres bool
}

// Scenarios are the presets. short is the no-fault smoke run; chaos is the
// make chaos-short run.
var Scenarios = map[string]Scenario{
	"short":    {Duration: 20 * time.Second, Clients: 4, Replicas: 1},
	"kill":     {Duration: 60 * time.Second, Clients: 8, Replicas: 2, Faults: "kill:15s,kill:35s", Postgres: true},
	"redis":    {Duration: 45 * time.Second, Clients: 8, Replicas: 2, Faults: "redis:15s", Postgres: true},
	"postgres": {Duration: 45 * time.Second, Clients: 8, Replicas: 2, Faults: "postgres:15s", Postgres: true},
	"cardnet":  {Duration: 45 * time.Second, Clients: 8, Replicas: 2, Faults: "cardnet:15s", Postgres: true},
	"timeouts": {Duration: 45 * time.Second, Clients: 8, Replicas: 2, Faults: "timeouts:30%", Postgres: true},
	"chaos":    {Duration: 60 * time.Second, Clients: 8, Replicas: 2, Faults: "kill:10s,redis:25s,cardnet:40s", Postgres: true},
}
