-- In-flight idempotency locks, used when Redis cannot be reached: a request
-- takes the row of its (scope, key) for a few seconds and renews it while it
-- runs; a row whose expires_at has passed belongs to a request that died and
-- is taken over.
CREATE TABLE idempotency_locks (
    lock_key    TEXT PRIMARY KEY,
    token       TEXT NOT NULL,
    expires_at  {{.Time}} NOT NULL
)
