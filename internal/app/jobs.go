package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/jobs"
	"github.com/inbound-gateway/inbound/internal/webhook"
)

// Names of the background jobs, in the order Jobs lists them
// (docs/OPERATIONS.md, Background jobs).
const (
	JobIdempotencyExpire     = "idempotency.expire"
	JobNetworkRepair         = "network.repair"
	JobPrepaidRecover        = "prepaid.recover"
	JobLedgerExpireHolds     = "ledger.expire_holds"
	JobLedgerCheckpoint      = "ledger.checkpoint"
	JobEscrowAutoRelease     = "escrow.auto_release"
	JobPrepaidExpire         = "prepaid.expire"
	JobSanctionsRescreen     = "sanctions.rescreen"
	JobRetentionErase        = "retention.erase"
	JobFXPurgeQuotes         = "fx.purge_quotes"
	JobWebhookPurgeDelivered = "webhook.purge_delivered"
)

// QuotePurgeAfter is how long an unused quote is kept after it expired
// before fx.purge_quotes deletes it; used quotes stay (loads and unloads
// refer to them).
const QuotePurgeAfter = 24 * time.Hour

// JobOptions are the settings of the jobs.
type JobOptions struct {
	// Interval is the runner's tick (INBOUND_JOB_INTERVAL): the escrow
	// auto-release runs every tick.
	Interval time.Duration
	// Retention is INBOUND_RETENTION (zero: kyc.DefaultRetention).
	Retention time.Duration
	Log       *slog.Logger
}

// Jobs is every background job, in the order the runner tries them on
// each tick. The order matters:
//   - network.repair settles card-network calls whose outcome was unknown
//     (reversals, retries) before prepaid.recover finishes the loads and
//     unloads that wait on those calls, so recovery sees the network's
//     final answer instead of guessing again;
//   - prepaid.recover runs before ledger.expire_holds, so an interrupted
//     unload posts or voids its own hold rather than having it expire
//     under it;
//   - the rest do not depend on each other.
func (s *Services) Jobs(o JobOptions) []jobs.Job {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return []jobs.Job{
		s.idempotencyExpireJob(log),
		{Name: JobNetworkRepair, Every: time.Minute, Run: func(ctx context.Context, now time.Time) error {
			n, err := s.Cards.Repair(ctx, now)
			logCount(ctx, log, int64(n), "repaired network calls")
			return err
		}, Lag: s.Cards.RepairLag},
		// Every job interval: a load or unload whose request died is
		// settled within seconds of its lease lapsing (prepaid.DefaultGrace).
		{Name: JobPrepaidRecover, Every: o.Interval, Run: func(ctx context.Context, now time.Time) error {
			n, err := s.Prepaid.Recover(ctx, now)
			logCount(ctx, log, int64(n), "recovered loads and unloads")
			return err
		}, Lag: s.Prepaid.RecoveryLag},
		{Name: JobLedgerExpireHolds, Every: time.Minute, Run: func(ctx context.Context, now time.Time) error {
			_, err := s.Ledger.ExpireHolds(ctx, now)
			return err
		}},
		// Verify (and reconciliation) sum only the transfers after the
		// latest checkpoint; it is taken only when the ledger verifies clean.
		{Name: JobLedgerCheckpoint, Every: 24 * time.Hour, Run: func(ctx context.Context, now time.Time) error {
			cp, err := s.Ledger.Checkpoint(ctx)
			if err == nil {
				log.InfoContext(ctx, "ledger checkpoint", "seq", cp.Seq, "transfers", cp.Transfers, "accounts", cp.Accounts)
			}
			return err
		}},
		s.Escrow.Job(o.Interval),
		{Name: JobPrepaidExpire, Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
			_, err := s.Prepaid.ExpireAccounts(ctx, now)
			return err
		}},
		// A newly loaded sanctions list is applied to every active visitor:
		// the job screens again those last screened against another list
		// version.
		{Name: JobSanctionsRescreen, Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
			res, err := s.KYC.Rescreen(ctx)
			if res.Screened > 0 {
				log.InfoContext(ctx, "sanctions re-screening", "list_version", res.ListVersion, "screened", res.Screened, "flagged", res.Flagged)
			}
			return err
		}},
		// AML record keeping: personal data is erased once the retention
		// after the account closed has passed (docs/OPERATIONS.md).
		{Name: JobRetentionErase, Every: 24 * time.Hour, Run: func(ctx context.Context, now time.Time) error {
			n, err := s.EraseExpired(ctx, now, o.Retention)
			logCount(ctx, log, int64(n), "retention: personal data erased")
			return err
		}},
		{Name: JobFXPurgeQuotes, Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
			n, err := s.quotes.Purge(ctx, now.Add(-QuotePurgeAfter))
			logCount(ctx, log, n, "purged expired unused quotes")
			return err
		}},
		// Delivered webhooks are kept webhook.DeliveredRetention for support;
		// failed ones stay until looked at.
		{Name: JobWebhookPurgeDelivered, Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
			n, err := s.Webhooks.PurgeDelivered(ctx, now.Add(-webhook.DeliveredRetention))
			logCount(ctx, log, n, "purged delivered webhooks")
			return err
		}},
	}
}

// idempotencyExpireJob deletes stored responses past their retention, the
// in-flight locks taken in the database while Redis was down and left by
// requests whose process died, and unkeyed fingerprints written by a
// replica of an older version during a rolling upgrade.
func (s *Services) idempotencyExpireJob(log *slog.Logger) jobs.Job {
	idem := idempotency.NewStore(s.db, s.vault)
	locks := idempotency.NewDBLocker(s.db)
	return jobs.Job{Name: JobIdempotencyExpire, Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
		n, err := idem.DeleteExpired(ctx, now)
		logCount(ctx, log, n, "expired idempotency keys")
		if err != nil {
			return err
		}
		if _, err := locks.DeleteExpiredLocks(ctx, now); err != nil {
			return err
		}
		n, err = idem.ClearLegacyFingerprints(ctx)
		if n > 0 {
			log.WarnContext(ctx, "cleared unkeyed idempotency fingerprints", "count", n)
		}
		return err
	}}
}

func logCount(ctx context.Context, log *slog.Logger, n int64, msg string) {
	if n > 0 {
		log.InfoContext(ctx, msg, "count", n)
	}
}
