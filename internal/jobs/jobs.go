// Package jobs runs periodic work (expiring idempotency keys, releasing due
// escrow payments, repairing network calls) so that with several replicas
// each due run happens once: a replica claims a job by taking a lease on its
// row in the database, runs it, and records the next due time.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Func is one job's work.
type Func func(ctx context.Context, now time.Time) error

// Job is a registered periodic job.
type Job struct {
	Name  string
	Every time.Duration
	Run   Func
	// Lag, if set, returns the age of the oldest item the job has yet to
	// process (a payment due for release, a load left pending), 0 when
	// there is none. It is exported as inbound_job_lag_seconds.
	Lag func(ctx context.Context, now time.Time) (time.Duration, error)
}

// Leaser claims, renews and completes job runs. The database store
// implements it.
type Leaser interface {
	Ensure(ctx context.Context, name string, now time.Time) error
	// Claim takes the lease of a due job that nobody holds, or that owner
	// holds already.
	Claim(ctx context.Context, name, owner string, now, leaseUntil time.Time) (bool, error)
	// Renew extends the lease if owner still holds it.
	Renew(ctx context.Context, name, owner string, leaseUntil time.Time) (bool, error)
	// Complete records the run and frees the lease; ErrLeaseLost when
	// owner no longer holds it.
	Complete(ctx context.Context, name, owner string, now, next time.Time, runErr error) error
}

// ErrLeaseLost is returned by Complete when another runner took the lease
// over during the run.
var ErrLeaseLost = errors.New("jobs: lease lost before completion")

// Runner runs registered jobs on a tick.
type Runner struct {
	leaser Leaser
	owner  string
	tick   time.Duration
	lease  time.Duration
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	jobs    []Job
	running map[string]bool // jobs this runner is running now
	metrics *metrics
}

// NewRunner returns a runner polling every tick. A run holds a lease of
// lease (default 5 s) that is renewed every third of it while the job
// runs, so a long run keeps its job, and the job of a replica that died
// (or cannot record its completion) is taken over within lease.
func NewRunner(l Leaser, tick, lease time.Duration, log *slog.Logger) *Runner {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	if lease <= 0 {
		lease = DefaultLease
	}
	return &Runner{leaser: l, owner: "runner_" + hex.EncodeToString(b), tick: tick, lease: lease, log: log,
		now: func() time.Time { return time.Now().UTC() }}
}

// DefaultLease is the job lease when none is configured.
const DefaultLease = 5 * time.Second

// Register adds a job.
func (r *Runner) Register(j Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, j)
	if r.metrics != nil {
		r.metrics.describe(j)
	}
}

// RunDue runs, once, every registered job that is due and not leased by
// another runner. It returns the names it ran.
func (r *Runner) RunDue(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	jobs := append([]Job(nil), r.jobs...)
	r.mu.Unlock()
	var ran []string
	for _, j := range jobs {
		now := r.now()
		if err := r.leaser.Ensure(ctx, j.Name, now); err != nil {
			return ran, err
		}
		if !r.begin(j.Name) {
			continue // RunDue called concurrently: the other call runs it
		}
		ok, err := r.leaser.Claim(ctx, j.Name, r.owner, now, now.Add(r.lease))
		if err != nil || !ok {
			r.end(j.Name)
			if err != nil {
				return ran, err
			}
			continue
		}
		runErr := r.runLeased(ctx, j, now)
		r.end(j.Name)
		if runErr != nil {
			r.log.ErrorContext(ctx, "job failed", "job", j.Name, "err", runErr)
		}
		done := r.now()
		// Due half a tick early: the tick that comes Every after this one
		// finds the job due, rather than a tick later (a job every tick
		// would otherwise run every other tick).
		next := done.Add(max(j.Every-r.tick/2, 0))
		err = r.leaser.Complete(ctx, j.Name, r.owner, done, next, runErr)
		if errors.Is(err, ErrLeaseLost) {
			r.log.ErrorContext(ctx, "job lease lost before completion; the new owner records the run", "job", j.Name)
			r.lostLease(j)
			continue
		}
		if err != nil {
			return ran, err
		}
		r.observe(ctx, j, done, runErr)
		ran = append(ran, j.Name)
	}
	return ran, nil
}

// begin marks a job as running on this runner, false if it already is:
// a runner may claim its own lease again (Leaser.Claim), so it must not
// start a job it is running.
func (r *Runner) begin(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[name] {
		return false
	}
	if r.running == nil {
		r.running = map[string]bool{}
	}
	r.running[name] = true
	return true
}

func (r *Runner) end(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, name)
}

// runLeased runs j while renewing its lease every third of the lease. If
// the lease is lost (taken over after renewals failed for a whole lease),
// the run's context is cancelled: another runner now owns the job.
func (r *Runner) runLeased(ctx context.Context, j Job, now time.Time) error {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(r.lease/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-jctx.Done():
				return
			case <-t.C:
			}
			held, err := r.leaser.Renew(jctx, j.Name, r.owner, r.now().Add(r.lease))
			switch {
			case err != nil:
				// Transient (the database restarting): the lease still
				// runs; the next renewal may succeed.
				r.log.WarnContext(ctx, "job lease not renewed", "job", j.Name, "err", err)
			case !held:
				r.log.ErrorContext(ctx, "job lease lost; stopping the run", "job", j.Name)
				cancel()
				return
			}
		}
	}()
	err := r.safeRun(jctx, j, now)
	close(stop)
	<-done
	return err
}

func (r *Runner) safeRun(ctx context.Context, j Job, now time.Time) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("jobs: %s panicked: %v", j.Name, p)
		}
	}()
	return j.Run(ctx, now)
}

// Start runs due jobs every tick until ctx ends.
func (r *Runner) Start(ctx context.Context) {
	t := time.NewTicker(r.tick)
	defer t.Stop()
	for {
		if _, err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "job runner", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
