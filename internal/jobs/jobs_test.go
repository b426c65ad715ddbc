package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inbound-gateway/inbound/internal/jobs"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Several replicas polling at once run each due job once.
func TestDueJobRunsOnceAcrossReplicas(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		var runs atomic.Int64
		job := jobs.Job{Name: "count", Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
			runs.Add(1)
			time.Sleep(5 * time.Millisecond)
			return nil
		}}
		var wg sync.WaitGroup
		for range 4 {
			r := jobs.NewRunner(jobs.NewStore(b.DB), time.Second, time.Minute, quiet)
			r.Register(job)
			wg.Go(func() {
				for range 5 {
					if _, err := r.RunDue(context.Background()); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if runs.Load() != 1 {
			t.Fatalf("job ran %d times, want 1", runs.Load())
		}
		n, err := jobs.NewStore(b.DB).Runs(context.Background(), "count")
		if err != nil || n != 1 {
			t.Fatalf("recorded runs %d %v", n, err)
		}
	})
}

func TestFailingAndPanickingJobsAreRecordedAndRescheduled(t *testing.T) {
	b := testenv.Embedded(t)
	r := jobs.NewRunner(jobs.NewStore(b.DB), time.Second, time.Minute, quiet)
	r.Register(jobs.Job{Name: "fails", Every: time.Hour, Run: func(context.Context, time.Time) error { return errors.New("nope") }})
	r.Register(jobs.Job{Name: "panics", Every: time.Hour, Run: func(context.Context, time.Time) error { panic("boom") }})
	ran, err := r.RunDue(context.Background())
	if err != nil || len(ran) != 2 {
		t.Fatalf("ran %v, %v", ran, err)
	}
	var lastErr []string
	b.DB.Gorm.Raw("SELECT last_error FROM jobs ORDER BY name").Scan(&lastErr)
	if len(lastErr) != 2 || lastErr[0] != "nope" || lastErr[1] == "" {
		t.Fatalf("last errors %q", lastErr)
	}
	if ran, _ := r.RunDue(context.Background()); len(ran) != 0 {
		t.Fatalf("not rescheduled: ran again %v", ran)
	}
}

// A replica that dies mid-run (its context ends, it never records the
// completion) leaves its lease behind; another replica takes the job over
// as soon as the short lease lapses, not after minutes.
func TestDeadOwnersLeaseLapsesWithinSeconds(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		const lease = time.Second
		started := make(chan struct{})
		var runs atomic.Int64
		job := func(block bool) jobs.Job {
			return jobs.Job{Name: "release", Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
				runs.Add(1)
				if block {
					close(started)
					<-ctx.Done() // the process is killed mid-run
				}
				return ctx.Err()
			}}
		}
		dying := jobs.NewRunner(jobs.NewStore(b.DB), time.Second, lease, quiet)
		dying.Register(job(true))
		ctx, kill := context.WithCancel(context.Background())
		doneDying := make(chan struct{})
		go func() {
			defer close(doneDying)
			_, _ = dying.RunDue(ctx) // Complete fails: ctx is gone
		}()
		<-started
		kill()
		<-doneDying

		other := jobs.NewRunner(jobs.NewStore(b.DB), time.Second, lease, quiet)
		other.Register(job(false))
		start := time.Now()
		for {
			ran, err := other.RunDue(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(ran) == 1 {
				break
			}
			if time.Since(start) > 3*lease {
				t.Fatalf("job not taken over %v after its owner died", time.Since(start))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if runs.Load() != 2 {
			t.Fatalf("runs %d", runs.Load())
		}
	})
}

// A live run longer than the lease keeps its job: the lease is renewed
// while it runs, so no other replica runs it at the same time.
func TestLeaseRenewedWhileJobRuns(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		const lease = 300 * time.Millisecond
		var running, overlaps atomic.Int64
		job := jobs.Job{Name: "long", Every: time.Millisecond, Run: func(ctx context.Context, now time.Time) error {
			if running.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer running.Add(-1)
			select {
			case <-time.After(4 * lease):
			case <-ctx.Done():
			}
			return nil
		}}
		var wg sync.WaitGroup
		for range 2 {
			r := jobs.NewRunner(jobs.NewStore(b.DB), time.Second, lease, quiet)
			r.Register(job)
			wg.Go(func() {
				deadline := time.Now().Add(6 * lease)
				for time.Now().Before(deadline) {
					if _, err := r.RunDue(context.Background()); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if overlaps.Load() != 0 {
			t.Fatalf("the job ran on two replicas at once %d times", overlaps.Load())
		}
	})
}

// The runner exports each job's lag and last success.
func TestJobMetrics(t *testing.T) {
	b := testenv.Embedded(t)
	reg := prometheus.NewRegistry()
	r := jobs.NewRunner(jobs.NewStore(b.DB), time.Second, 0, quiet)
	if err := r.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	r.Register(jobs.Job{Name: "lagging", Every: time.Hour, Run: func(context.Context, time.Time) error { return nil },
		Lag: func(context.Context, time.Time) (time.Duration, error) { return 42 * time.Second, nil }})
	if _, err := r.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, reg, "inbound_job_lag_seconds"); got != 42 {
		t.Fatalf("lag %v", got)
	}
	if got := gauge(t, reg, "inbound_job_last_success_timestamp_seconds"); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("last success %v", got)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no single series %s", name)
	return 0
}

// failOnce fails the first Complete, as when the database restarts at the
// end of a run.
type failOnce struct {
	*jobs.Store
	failed atomic.Bool
}

func (f *failOnce) Complete(ctx context.Context, name, owner string, now, next time.Time, runErr error) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("server closed the connection")
	}
	return f.Store.Complete(ctx, name, owner, now, next, runErr)
}

// A run that could not record its completion (the database restarting)
// leaves its lease; its own runner runs the job again on its next tick,
// without waiting for that lease to lapse, while another replica still
// respects it.
func TestOwnerReclaimsItsUnrecordedRun(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		var runs atomic.Int64
		job := jobs.Job{Name: "release", Every: time.Hour, Run: func(context.Context, time.Time) error {
			runs.Add(1)
			return nil
		}}
		const lease = time.Hour
		owner := jobs.NewRunner(&failOnce{Store: jobs.NewStore(b.DB)}, time.Second, lease, quiet)
		owner.Register(job)
		other := jobs.NewRunner(jobs.NewStore(b.DB), time.Second, lease, quiet)
		other.Register(job)
		if _, err := owner.RunDue(context.Background()); err == nil {
			t.Fatal("the failed completion is not reported")
		}
		if ran, err := other.RunDue(context.Background()); err != nil || len(ran) != 0 {
			t.Fatalf("another replica ignored the lease: %v %v", ran, err)
		}
		if ran, err := owner.RunDue(context.Background()); err != nil || len(ran) != 1 {
			t.Fatalf("owner did not run its job again: %v %v", ran, err)
		}
		if runs.Load() != 2 {
			t.Fatalf("runs %d", runs.Load())
		}
		n, err := jobs.NewStore(b.DB).Runs(context.Background(), "release")
		if err != nil || n != 1 {
			t.Fatalf("recorded runs %d %v", n, err)
		}
	})
}

// A run whose lease another replica took over (here: the row's owner
// changed under it, as after a whole lease of failed renewals) is stopped,
// does not record a completion, and is counted in
// inbound_job_lease_lost_total, the metric the load tool's jobs_once check
// reads from every replica.
func TestLostLeaseIsCountedAndNotCompleted(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		reg := prometheus.NewRegistry()
		r := jobs.NewRunner(jobs.NewStore(b.DB), time.Second, 300*time.Millisecond, quiet)
		if err := r.Instrument(reg); err != nil {
			t.Fatal(err)
		}
		r.Register(jobs.Job{Name: "stolen", Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
			if err := b.DB.Gorm.Exec("UPDATE jobs SET lease_owner = 'other' WHERE name = 'stolen'").Error; err != nil {
				return err
			}
			<-ctx.Done() // stopped by the renewal that finds the lease gone
			return ctx.Err()
		}})
		ran, err := r.RunDue(context.Background())
		if err != nil || len(ran) != 0 {
			t.Fatalf("ran %v, %v; want no completed run and no error", ran, err)
		}
		if got := counterOf(t, reg, "inbound_job_lease_lost_total"); got != 1 {
			t.Fatalf("inbound_job_lease_lost_total = %v, want 1", got)
		}
		if n, err := jobs.NewStore(b.DB).Runs(context.Background(), "stolen"); err != nil || n != 0 {
			t.Fatalf("recorded runs %d %v, want 0", n, err)
		}
	})
}

// counterOf returns the value of a counter family's one series.
func counterOf(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("%s not found (or not one series)", name)
	return 0
}
