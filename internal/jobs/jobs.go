// Package jobs runs periodic work (expiring idempotency keys, releasing due
// escrow payments, repairing network calls) so that with several replicas
// each due run happens once: a replica claims a job by taking a lease on its
// row in the database, runs it, and records the next due time.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
}

// Leaser claims and completes job runs. The database store implements it.
type Leaser interface {
	Ensure(ctx context.Context, name string, now time.Time) error
	Claim(ctx context.Context, name, owner string, now, leaseUntil time.Time) (bool, error)
	Complete(ctx context.Context, name, owner string, now, next time.Time, runErr error) error
}

// Runner runs registered jobs on a tick.
type Runner struct {
	leaser Leaser
	owner  string
	tick   time.Duration
	lease  time.Duration
	log    *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	jobs []Job
}

// NewRunner returns a runner polling every tick. Leases last lease (longer
// than any run; a crashed replica's lease simply expires).
func NewRunner(l Leaser, tick, lease time.Duration, log *slog.Logger) *Runner {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &Runner{leaser: l, owner: "runner_" + hex.EncodeToString(b), tick: tick, lease: lease, log: log,
		now: func() time.Time { return time.Now().UTC() }}
}

// Register adds a job.
func (r *Runner) Register(j Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, j)
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
		ok, err := r.leaser.Claim(ctx, j.Name, r.owner, now, now.Add(r.lease))
		if err != nil {
			return ran, err
		}
		if !ok {
			continue
		}
		runErr := r.safeRun(ctx, j, now)
		if runErr != nil {
			r.log.ErrorContext(ctx, "job failed", "job", j.Name, "err", runErr)
		}
		done := r.now()
		if err := r.leaser.Complete(ctx, j.Name, r.owner, done, done.Add(j.Every), runErr); err != nil {
			return ran, err
		}
		ran = append(ran, j.Name)
	}
	return ran, nil
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
