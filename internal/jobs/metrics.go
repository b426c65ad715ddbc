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
//   - inbound_job_runs_total{result="ok"|"error"};
//   - inbound_job_interval_seconds: the job's period, so a reader of the
//     runs of all replicas knows how many runs a time window allows;
//   - inbound_job_lease_lost_total: runs whose lease another replica took
//     over before they completed (the renewal found it gone, or the
//     completion found another owner). It is the only way one due time can
//     run twice, so anything but 0 deserves a look (a run longer than the
//     lease whose renewals failed).
type metrics struct {
	lag, lastSuccess, interval *prometheus.GaugeVec
	runs, leaseLost            *prometheus.CounterVec
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
		interval: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "inbound_job_interval_seconds",
			Help: "Period of the job."}, []string{"job"}),
		leaseLost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "inbound_job_lease_lost_total",
			Help: "Runs on this replica whose lease another replica took over before they completed."}, []string{"job"}),
	}
	for _, c := range []prometheus.Collector{m.lag, m.lastSuccess, m.runs, m.interval, m.leaseLost} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.metrics = m
	for _, j := range r.jobs {
		m.describe(j)
	}
	r.mu.Unlock()
	return nil
}

// describe sets the series a job has from its registration on.
func (m *metrics) describe(j Job) {
	m.interval.WithLabelValues(j.Name).Set(j.Every.Seconds())
	m.leaseLost.WithLabelValues(j.Name).Add(0)
	m.runs.WithLabelValues(j.Name, "ok").Add(0)
}

// lostLease counts a run whose lease was taken over.
func (r *Runner) lostLease(j Job) {
	r.mu.Lock()
	m := r.metrics
	r.mu.Unlock()
	if m != nil {
		m.leaseLost.WithLabelValues(j.Name).Inc()
	}
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
