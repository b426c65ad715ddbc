-- Prepaid accounts: one CNY account per approved visitor. The balance lives
-- in the ledger (account code in ledger_code); this row holds the account's
-- life: status, limit profile, validity.
CREATE TABLE prepaid_accounts (
    id           TEXT PRIMARY KEY,
    visitor_id   TEXT NOT NULL UNIQUE,
    partner_id   TEXT NOT NULL,
    status       TEXT NOT NULL,
    profile      TEXT NOT NULL,
    currency     TEXT NOT NULL,
    ledger_code  TEXT NOT NULL,
    opened_at    {{.Time}} NOT NULL,
    expires_at   {{.Time}} NOT NULL,
    closed_at    {{.Time}}
)
-- statement
CREATE INDEX prepaid_accounts_partner ON prepaid_accounts (partner_id, id)
-- statement
CREATE INDEX prepaid_accounts_expiry ON prepaid_accounts (status, expires_at)
