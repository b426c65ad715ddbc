package prepaid

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// keepLeased renews, every third of Grace, the lease of pending loads or
// unloads (their updated_at) while the request working on them runs:
// Recover takes only rows untouched for Grace, so it leaves a live request
// alone however long its network call takes, and takes over the rows of a
// request whose process died within Grace of its last renewal. model is
// &loadRow{} or &unloadRow{}. Call the returned stop before returning.
func (s *Service) keepLeased(model any, ids ...string) (stop func()) {
	every := max(s.d.Grace/3, 10*time.Millisecond)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			err := s.st.touchPending(ctx, model, ids, s.now())
			cancel()
			if err != nil {
				// The database is failing: the request's own next write
				// fails too. Should the lease lapse, Recover and the
				// request serialise on the row and call locks.
				s.log.Warn("lease of an unfinished load or unload not renewed", "ids", ids, "err", err)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// touchPending renews the lease (updated_at) of the rows of model among
// ids that are still pending.
func (s *Store) touchPending(ctx context.Context, model any, ids []string, now time.Time) error {
	err := s.db.WithContext(ctx).Model(model).Where("id IN ? AND status = ?", ids, "pending").
		Update("updated_at", now.UTC().Truncate(time.Microsecond)).Error
	if err != nil {
		return fmt.Errorf("prepaid: renew lease: %w", err)
	}
	return nil
}

// RecoveryLag is the age of the oldest load or unload Recover has yet to
// settle, counted from when it became due (its lease lapsed: last touch
// plus Grace; ActionTTL for a load waiting for its OTP); 0 when none is
// due. It is the prepaid.recover job's inbound_job_lag_seconds.
func (s *Service) RecoveryLag(ctx context.Context, now time.Time) (time.Duration, error) {
	var lag time.Duration
	for _, q := range []struct {
		model  any
		status string
		grace  time.Duration
	}{
		{&loadRow{}, string(LoadPending), s.d.Grace},
		{&loadRow{}, string(LoadRequiresAction), s.d.ActionTTL},
		{&unloadRow{}, string(UnloadPending), s.d.Grace},
	} {
		touched, err := s.st.oldestTouch(ctx, q.model, q.status)
		if err != nil {
			return 0, err
		}
		if touched != nil {
			lag = max(lag, now.Sub(touched.Add(q.grace)))
		}
	}
	return lag, nil
}

// oldestTouch is the earliest updated_at of the rows of model in status,
// nil when there is none.
func (s *Store) oldestTouch(ctx context.Context, model any, status string) (*time.Time, error) {
	var touched []time.Time
	err := s.db.WithContext(ctx).Model(model).Where("status = ?", status).
		Order("updated_at").Limit(1).Pluck("updated_at", &touched).Error
	if err != nil {
		return nil, fmt.Errorf("prepaid: oldest %s: %w", status, err)
	}
	if len(touched) == 0 {
		return nil, nil
	}
	return &touched[0], nil
}
