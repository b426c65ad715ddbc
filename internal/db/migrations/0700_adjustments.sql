-- Maker-checker adjustments: proposed by one staff member, approved (and
-- posted to the ledger) by a different supervisor.
CREATE TABLE adjustments (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    account_code  TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    status        TEXT NOT NULL,
    proposed_by   TEXT NOT NULL,
    approved_by   TEXT NOT NULL DEFAULT '',
    created_at    {{.Time}} NOT NULL,
    approved_at   {{.Time}}
)
-- statement
CREATE INDEX adjustments_status ON adjustments (status, id)
