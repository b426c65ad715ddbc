-- Reconciliation reads one day of succeeded loads and unloads by their
-- creation time (internal/recon LedgerSide). The status indexes are by
-- updated_at, so without these the day's read walks every succeeded load
-- ever made: at 1 M loads that is the whole table (docs/BENCHMARKS.md,
-- "At 10 M ledger entries"). Partial: only settled rows are indexed.
CREATE INDEX prepaid_loads_settled_day ON prepaid_loads (created_at) WHERE status = 'succeeded'
-- statement
CREATE INDEX prepaid_unloads_settled_day ON prepaid_unloads (created_at) WHERE status = 'succeeded' AND refund_minor > 0
