package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the runner's Prometheus series, per job:
//
//   - inbound_job_lag_seconds: age of the oldest item the job has yet to
//     process (jobs with a Lag function), measured after each run; a
//     growing value means the job does not keep up or does not run;
//   - inbound_job_last_success_timestamp_seconds: end of the last run
//     without error;
//   - inbound_job_runs_total{result="ok"|"error"}.
type metrics struct {
	lag, lastSuccess *prometheus.GaugeVec
	runs             *prometheus.CounterVec
}

// Instrument registers the runner's metrics with reg.
func (r *Runner) Instrument(reg prometheus.Registerer) error {
	m := &metrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "inbound_job_lag_seconds",
			Help: "Age of the oldest item a job has yet to process, after its last run on this replica."}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "inbound_job_last_success_timestamp_seconds",
			Help: "Unix time the job last completed without error on this replica."}, []string{"job"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "inbound_job_runs_total",
			Help: "Job runs on this replica by result."}, []string{"job", "result"}),
	}
	for _, c := range []prometheus.Collector{m.lag, m.lastSuccess, m.runs} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.metrics = m
	r.mu.Unlock()
	return nil
}

// observe records a finished run.
func (r *Runner) observe(ctx context.Context, j Job, done time.Time, runErr error) {
	r.mu.Lock()
	m := r.metrics
	r.mu.Unlock()
	if m == nil {
		return
	}
	if runErr != nil {
		m.runs.WithLabelValues(j.Name, "error").Inc()
	} else {
		m.runs.WithLabelValues(j.Name, "ok").Inc()
		m.lastSuccess.WithLabelValues(j.Name).Set(float64(done.UnixNano()) / 1e9)
	}
	if j.Lag != nil {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if lag, err := j.Lag(lctx, done); err == nil {
			m.lag.WithLabelValues(j.Name).Set(lag.Seconds())
		} else {
			r.log.WarnContext(ctx, "job lag", "job", j.Name, "err", err)
		}
	}
}
