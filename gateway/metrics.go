package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Response code labels for calls that got no field 39.
const (
	codeTimeout     = "timeout"
	codeUnavailable = "unavailable"
	codeRejected    = "rejected"
	codeCircuitOpen = "circuit_open"
)

// metrics are the network client's Prometheus collectors.
type metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	circuit  *prometheus.GaugeVec
	repaired *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbound", Subsystem: "network", Name: "calls_total",
			Help: "Card network messages by network, kind and field 39 response code (or timeout, unavailable, rejected, circuit_open).",
		}, []string{"network", "kind", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "inbound", Subsystem: "network", Name: "call_duration_seconds",
			Help:    "Time from sending a card network message to its answer or timeout.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"network", "kind"}),
		circuit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "inbound", Subsystem: "network", Name: "circuit_state",
			Help: "Circuit breaker state per network: 0 closed, 1 half-open, 2 open.",
		}, []string{"network"}),
		repaired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbound", Subsystem: "network", Name: "repaired_total",
			Help: "Network calls with an unknown outcome that the repair job reversed (outcome acknowledged or pending).",
		}, []string{"network", "outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.calls, err = register(reg, m.calls); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.circuit, err = register(reg, m.circuit); err != nil {
		return nil, err
	}
	if m.repaired, err = register(reg, m.repaired); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name: a second client in the same process (tests, a service rebuilt
// at run time) then counts into the same series.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("gateway: register metrics: %w", err)
}

func (m *metrics) observe(n Network, k CallKind, code string, d time.Duration) {
	m.calls.WithLabelValues(n.String(), string(k), code).Inc()
	m.duration.WithLabelValues(n.String(), string(k)).Observe(d.Seconds())
}

// codeLabel is the code label of a connector answer.
func codeLabel(res Result, err error) string {
	switch {
	case err == nil:
		return res.ResponseCode
	case errors.Is(err, ErrTimeout):
		return codeTimeout
	case errors.Is(err, ErrRejected):
		return codeRejected
	}
	return codeUnavailable
}
