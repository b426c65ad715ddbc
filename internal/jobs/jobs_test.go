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

	"github.com/inbound-gateway/inbound/internal/jobs"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Several replicas polling at once run each due job once.
func TestDueJobRunsOnceAcrossReplicas(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
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
