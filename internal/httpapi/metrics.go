package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  http.Handler
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inbound_http_requests_total",
			Help: "HTTP requests by API, method, route and status.",
		}, []string{"api", "method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "inbound_http_request_duration_seconds",
			Help:    "HTTP request latency by API, method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"api", "method", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m, nil
}

// observe records metrics and writes one JSON log line per request: no
// bodies, no headers, no query strings (they may hold personal data).
func (s *Server) observe(api string) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(api, c.Request.Method, route, strconv.Itoa(status)).Inc()
		s.metrics.latency.WithLabelValues(api, c.Request.Method, route).Observe(elapsed.Seconds())
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			return
		}
		attrs := []any{"api", api, "method", c.Request.Method, "route", route, "status", status,
			"duration_ms", float64(elapsed.Microseconds()) / 1000, "request_id", requestIDOf(c)}
		if p, ok := partnerOf(c); ok {
			attrs = append(attrs, "partner", p.ID)
		}
		if st, ok := staffOf(c); ok {
			attrs = append(attrs, "staff", st.ID)
		}
		if c.Writer.Header().Get("Idempotent-Replayed") == "true" {
			attrs = append(attrs, "replayed", true)
		}
		s.Log.InfoContext(c.Request.Context(), "request", attrs...)
	}
}
